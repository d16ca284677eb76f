"""Example frameworks that ship with mesos-auth: ``mesos-auth demo`` runs :mod:`.hello_factory`.

They live in the package, not only in the repository's ``examples/``, so that the
demo works from an installed mesos-auth (``python -m mesos_auth.examples.hello_factory``
runs the framework on its own, against ``mesos-auth fake-cluster``'s exports).
"""
