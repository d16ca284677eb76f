"""The patch behind :func:`mesos_auth.install`: pymesos' driver classes, changed in place.

Why in place, and why ``__init__``:

- ``from pymesos import MesosSchedulerDriver`` binds the class object early (Toil,
  dpark and tfmesos do it at module level), and a subclass written as
  ``class MyDriver(MesosSchedulerDriver)`` holds it as its base. Rebinding the names
  ``pymesos.MesosSchedulerDriver`` / ``pymesos.scheduler.MesosSchedulerDriver`` to a
  subclass reaches neither, and breaks pymesos itself: its methods call
  ``super(MesosSchedulerDriver, self)``, which resolves the module global at call
  time (pymesos/scheduler.py ``__init__``, ``change_master``, ``start``, ``stop``), so
  a rebound global gives a ``TypeError`` or endless recursion. The class object is
  the one thing every name and every subclass shares, so it is what is patched, and
  the module globals are never touched.
- ``__new__`` cannot be used: once a class has had a ``__new__`` set and deleted,
  CPython (3.9 to 3.13 at least) keeps calling ``object.__new__`` with the
  constructor's arguments, which raises ``TypeError``; uninstall could not restore
  the class. ``__init__`` is pymesos' own function, put back as it was.

What the patched ``__init__`` does: an instance of the original class (or of a
program's subclass of it) that reaches it becomes, there and then, an instance of a
class that also derives from the authenticated driver (``self.__class__`` is set,
then the authenticated ``__init__`` runs with the same arguments). For the original
class that is :class:`InstalledSchedulerDriver`; for a subclass ``MyDriver`` it is
``type("MyDriver", (MyDriver, InstalledSchedulerDriver), {})`` (same name, module and
qualname), so ``MyDriver``'s overrides still come first and its ``super()`` calls
reach the authenticated driver, then pymesos. ``isinstance(driver, MyDriver)`` and
``isinstance(driver, pymesos.MesosSchedulerDriver)`` stay true. A subclass's own
``__init__`` runs once, as before: the switch happens inside its ``super().__init__``
call. Instances of the authenticated drivers (and their subclasses) go straight
to pymesos' ``__init__``.

``principal=`` and ``secret=`` (pymesos' HTTP Basic credentials): when a service
account is in use they are not sent (DC/OS wants the account's token, and a request
carries one ``Authorization`` header); a warning says so, naming the principal,
never the secret. When no account is used (security mode disabled, or permissive
without an account) they are sent as pymesos would.
"""

from __future__ import annotations

import binascii
import functools
import importlib
import logging
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

import pymesos.executor
import pymesos.operator_v1
import pymesos.scheduler
from pymesos.utils import DAY

from mesos_auth.driver import AuthenticatedSchedulerDriver
from mesos_auth.errors import ConfigurationError

logger = logging.getLogger(__name__)

#: Marks a class made here for a program's subclass (and the patched ``__init__``).
_MARK = "_mesos_auth_installed"


class InstalledSchedulerDriver(AuthenticatedSchedulerDriver):
    """What a ``pymesos.MesosSchedulerDriver`` becomes under :func:`mesos_auth.install`.

    pymesos' constructor (positional or keyword, as Toil, dpark, tfmesos and Yelp's
    task_processing call it); ``principal``/``secret`` as the module docstring says.
    The keyword-only options of :class:`AuthenticatedSchedulerDriver` are accepted too.
    """

    def __init__(
        self,
        sched: Any,
        framework: Any,
        master_uri: Any,
        use_addict: bool = False,
        implicit_acknowledgements: bool = True,
        principal: Optional[str] = None,
        secret: Optional[str] = None,
        failover: bool = False,
        timeout: float = DAY,
        **options: Any,
    ) -> None:
        super().__init__(
            sched,
            framework,
            master_uri,
            use_addict=use_addict,
            implicit_acknowledgements=implicit_acknowledgements,
            failover=failover,
            timeout=timeout,
            **options,
        )
        if principal is None or secret is None:
            return
        if self.token_provider is None:
            # No account in use: pymesos' own HTTP Basic credentials, as the program asked
            # (the header pymesos/scheduler.py MesosSchedulerDriver.__init__ builds).
            pair = f"{principal}:{secret}".encode("ascii")
            self._basic_credential = "Basic " + binascii.b2a_base64(pair).decode("ascii").strip()
        else:
            logger.warning(
                "the program gave MesosSchedulerDriver HTTP Basic credentials (principal %r); "
                "mesos-auth authenticates as the service account %r instead",
                principal,
                self.token_provider.uid,
            )


class _Patch:
    """One pymesos class, the authenticated class its instances become, and its own ``__init__``."""

    def __init__(self, original: type, authenticated: type, replacement: type) -> None:
        self.original = original
        self.authenticated = authenticated  # instances of this (and subclasses) are left alone
        self.replacement = replacement  # what an instance of ``original`` itself becomes
        self.original_init: Callable[..., None] = original.__dict__["__init__"]
        self.combined: Dict[type, type] = {}

    def apply(self) -> None:
        patch = self
        original_init = self.original_init

        @functools.wraps(original_init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            if isinstance(self, patch.authenticated):
                original_init(self, *args, **kwargs)
                return
            target = patch.target(type(self))
            self.__class__ = target
            replacement_init: Callable[..., None] = patch.replacement.__init__  # type: ignore[misc]
            replacement_init(self, *args, **kwargs)

        setattr(__init__, _MARK, True)
        self.original.__init__ = __init__  # type: ignore[misc]

    def restore(self) -> None:
        self.original.__init__ = self.original_init  # type: ignore[misc]
        self.combined.clear()

    def target(self, cls: type) -> type:
        """The class an instance of ``cls`` becomes: authenticated, with ``cls``'s overrides first."""
        if cls is self.original:
            return self.replacement
        with _lock:
            made = self.combined.get(cls)
            if made is None:
                namespace = {
                    "__module__": cls.__module__,
                    "__qualname__": cls.__qualname__,
                    "__doc__": cls.__doc__,
                    _MARK: True,
                }
                try:
                    made = type(cls.__name__, (cls, self.replacement), namespace)
                except TypeError as exc:  # an MRO or layout conflict: say so, never run unauthenticated
                    raise ConfigurationError(
                        f"mesos-auth cannot authenticate {cls.__module__}.{cls.__qualname__} "
                        f"(a subclass of pymesos' {self.original.__name__}): {exc}"
                    ) from None
                self.combined[cls] = made
        return made


_lock = threading.RLock()
_applied: List[_Patch] = []


def _optional_patches() -> List[Tuple[type, Callable[[], Optional[Tuple[type, type]]]]]:
    return [
        (pymesos.executor.MesosExecutorDriver, _executor_classes),
        (pymesos.operator_v1.MesosOperatorMasterDriver, _operator_classes),
    ]


def _import_if_present(name: str) -> Any:
    """The module, or None when this mesos-auth does not have it."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def _executor_classes() -> Optional[Tuple[type, type]]:
    module = _import_if_present("mesos_auth.executor")
    if module is None:
        return None
    driver: type = module.AuthenticatedExecutorDriver
    return driver, driver


def _operator_classes() -> Optional[Tuple[type, type]]:
    module = _import_if_present("mesos_auth.operator")
    if module is None:
        return None
    driver: type = module.AuthenticatedOperatorMasterDriver

    class InstalledOperatorMasterDriver(driver):  # type: ignore[misc]
        """pymesos' operator constructor, ``(master_uri, operator=None, ...)``, passed on by name."""

        def __init__(
            self, master_uri: Any, operator: Any = None, use_addict: bool = False, timeout: float = DAY, **options: Any
        ) -> None:
            super().__init__(
                operator=operator, master_uri=master_uri, use_addict=use_addict, timeout=timeout, **options
            )

    InstalledOperatorMasterDriver.__module__ = __name__
    return driver, InstalledOperatorMasterDriver


def patch() -> None:
    """Patch pymesos' driver classes (idempotent); the executor and operator drivers when mesos-auth has them."""
    with _lock:
        if _applied:
            return
        patches = [
            _Patch(pymesos.scheduler.MesosSchedulerDriver, AuthenticatedSchedulerDriver, InstalledSchedulerDriver)
        ]
        for original, classes in _optional_patches():
            found = classes()
            if found is not None:
                patches.append(_Patch(original, *found))
        for one in patches:
            one.apply()
        _applied.extend(patches)


def unpatch() -> None:
    """Put pymesos' own ``__init__`` back on every class patched (idempotent)."""
    with _lock:
        while _applied:
            _applied.pop().restore()


def patched() -> bool:
    """True while pymesos' drivers are patched."""
    with _lock:
        return bool(_applied)
