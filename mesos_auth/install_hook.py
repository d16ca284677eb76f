"""install() / uninstall(): every pymesos driver the program creates authenticates.

``mesos_auth.install()`` (and ``mesos-auth run``, whose bootstrap calls it in every
Python process it starts) makes each ``MesosSchedulerDriver`` the program builds an
:class:`~mesos_auth.AuthenticatedSchedulerDriver` for the service account of its
environment (and the executor and operator drivers their authenticated kind, when
this mesos-auth has them), without editing the program.

Why this module is so small, and imports only ``sys``: the bootstrap of
``mesos-auth run`` loads it at the start of *every* Python process, most of which
never touch pymesos. Importing mesos_auth there would cost about 0.2 s
(cryptography, requests), and importing pymesos would install its SIGINT handler and
its stderr log handler in programs that never asked for them. So nothing is
imported until the program itself imports ``pymesos``: a :data:`sys.meta_path`
finder notices that import, lets pymesos load as usual, and then has
:mod:`mesos_auth.installed_drivers` patch the driver classes in place.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence  # these three are loaded at start-up already: free
from importlib.machinery import ModuleSpec
from types import ModuleType

#: The package whose import triggers the patch. Its ``__init__`` imports the
#: scheduler, executor and operator modules, so they are all loaded by then.
PYMESOS = "pymesos"
#: The module that patches pymesos (it imports pymesos and the drivers).
_PATCHER = "mesos_auth.installed_drivers"

_finder: _PatchOnImport | None = None


def install() -> None:
    """From now on, every pymesos driver created authenticates as the environment's service account.

    Idempotent. Covers pymesos imported before or after the call, both names pymesos
    exports (``pymesos.MesosSchedulerDriver`` and ``pymesos.scheduler.MesosSchedulerDriver``),
    names bound early by ``from pymesos import MesosSchedulerDriver``, and subclasses
    of the driver (see :mod:`mesos_auth.installed_drivers` for how, and what happens
    to ``principal=``/``secret=``). Does not import pymesos if the program has not.
    """
    global _finder
    if _finder is None or _finder not in sys.meta_path:
        _finder = _PatchOnImport()
        sys.meta_path.insert(0, _finder)
    if _pymesos_loaded():
        _patch()


def uninstall() -> None:
    """Undo :func:`install`: the import hook is removed and pymesos' classes are as they were.

    Drivers created while installed stay authenticated; new ones are pymesos' own.
    Idempotent; does not import pymesos.
    """
    global _finder
    if _finder is not None and _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    _finder = None
    patcher = sys.modules.get(_PATCHER)
    if patcher is not None:
        patcher.unpatch()


def installed() -> bool:
    """True between :func:`install` and :func:`uninstall`."""
    return _finder is not None and _finder in sys.meta_path


def _pymesos_loaded() -> bool:
    """pymesos is imported and done running its ``__init__`` (not half-way through it)."""
    module = sys.modules.get(PYMESOS)
    spec = getattr(module, "__spec__", None)
    return module is not None and not getattr(spec, "_initializing", False)


def _patch() -> None:
    import importlib

    importlib.import_module(_PATCHER).patch()


class _PatchOnImport:
    """A :data:`sys.meta_path` finder that finds nothing itself.

    For ``pymesos`` it asks the finders after it for the real spec and wraps the
    loader, so that the patch runs right after pymesos' ``__init__``; every other
    name it leaves to the others.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != PYMESOS:
            return None
        try:
            later = sys.meta_path[sys.meta_path.index(self) + 1 :]
        except ValueError:  # removed meanwhile
            return None
        for finder in later:
            find_spec = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find_spec(fullname, path, target) if find_spec is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchAfterExec(spec, spec.loader)  # type: ignore[assignment]
                return spec
        return None

    def __repr__(self) -> str:
        return "<mesos_auth.install_hook: patches pymesos' drivers when pymesos is imported>"


class _PatchAfterExec:
    """pymesos' own loader, which patches the drivers once the package has run.

    Afterwards the module's ``__spec__.loader`` and ``__loader__`` are the real
    loader again: nothing of the hook stays on pymesos.
    """

    def __init__(self, spec: ModuleSpec, loader: object) -> None:
        self._spec = spec
        self._loader: object = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = getattr(self._loader, "create_module")(spec)  # noqa: B009
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._spec.loader = self._loader  # type: ignore[assignment]
        module.__loader__ = self._loader  # type: ignore[assignment]
        getattr(self._loader, "exec_module")(module)  # noqa: B009
        _patch()

    def __getattr__(self, name: str) -> object:
        return getattr(self._loader, name)
