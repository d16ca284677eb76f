"""The directory ``mesos-auth run`` puts first on ``PYTHONPATH``: it holds only ``sitecustomize.py``.

Not meant to be imported as a package; it is one so that it is installed with mesos_auth.
"""
