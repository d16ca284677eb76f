"""mesos-auth run's bootstrap: runs at the start of every Python process under ``mesos-auth run``.

``mesos-auth run`` puts this file's directory first on ``PYTHONPATH``, so every
Python the command starts (console scripts, ``python -m``, subprocesses, with
``PYTHONPATH`` inherited) imports it as ``sitecustomize`` at start-up (Python's
``site`` module; not with ``python -S``, ``-E`` or ``-I``). It:

1. turns on :func:`mesos_auth.install` when this interpreter imports this same
   mesos_auth (a Python without mesos-auth is left alone; one that would import
   another copy is left alone too, with a line on stderr saying so). Only
   ``mesos_auth/install_hook.py`` is loaded, by path: the mesos_auth package and
   pymesos are imported when, and only if, the program imports pymesos;
2. then runs the ``sitecustomize`` this one hides (the next on ``sys.path``, e.g. a
   distribution's or a virtualenv's), as if it had been found first.

Nothing here reads or writes a credential: the driver finds the service account
in the environment when the program creates it.
"""

# Plain syntax on purpose (no f-strings, no annotations): every Python the command
# starts reads this file, whatever its version, and an old one must not choke on it.

import os
import sys

_OTHER_COPY = (
    "mesos-auth run: pymesos drivers will not authenticate in this process: it imports mesos_auth"
    " from {} but mesos-auth run is {}; run the mesos-auth of the environment the program uses\n"
)


def _activate():
    # type: () -> None
    import importlib.util

    package_dir = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    spec = importlib.util.find_spec("mesos_auth")
    if spec is None or not spec.origin:
        return  # this interpreter has no mesos-auth: not ours to change
    found = os.path.dirname(os.path.realpath(spec.origin))
    if found != package_dir:
        # Another copy of mesos-auth comes first on this interpreter's path: say so,
        # never let the program run unauthenticated in silence.
        sys.stderr.write(_OTHER_COPY.format(found, package_dir))
        return
    name = "mesos_auth.install_hook"
    module = sys.modules.get(name)
    if module is None:
        hook_spec = importlib.util.spec_from_file_location(name, os.path.join(package_dir, "install_hook.py"))
        if hook_spec is None or hook_spec.loader is None:
            return
        module = importlib.util.module_from_spec(hook_spec)
        sys.modules[name] = module
        try:
            hook_spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    module.install()


def _chain():
    # type: () -> None
    import importlib.util
    from importlib.machinery import PathFinder

    here = os.path.dirname(os.path.realpath(__file__))
    path = [entry for entry in sys.path if os.path.realpath(entry or os.curdir) != here]
    spec = PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop("sitecustomize", None)
        raise


try:
    _activate()
except Exception as _error:  # never stop the program from starting; say why it is not authenticated
    sys.stderr.write(
        "mesos-auth run: pymesos drivers will not authenticate: {}: {}\n".format(type(_error).__name__, _error)  # noqa: UP032
    )
_chain()
