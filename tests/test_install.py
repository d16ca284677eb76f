"""mesos_auth.install() / uninstall(), each case in a clean interpreter of its own.

pymesos' classes, the import system and the process' signal handlers are
process-wide: a subprocess per case keeps each test's Python as a program's would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict

import pytest

from mesos_auth.account import ServiceAccount
from mesos_auth.testing import TestCA
from tests.cli.auth_support import subprocess_environment, write_secret

TIMEOUT = 60


def run_python(code: str, **variables: str) -> Dict[str, Any]:
    """Run ``code`` in a new interpreter; it prints one JSON object last, which is returned."""
    result = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", textwrap.dedent(code)],
        env=subprocess_environment(**variables),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]), stderr=result.stderr)


@pytest.fixture
def strict_env(tmp_path: Path, account: ServiceAccount, ca: TestCA) -> Dict[str, str]:
    """A strict-mode environment with the account 'my-framework' (nothing is contacted: construction only)."""
    return {
        "DCOS_SERVICE_ACCOUNT_CREDENTIAL": str(write_secret(tmp_path / "secret.json", account)),
        "MESOS_AUTH_SECURITY_MODE": "strict",
        "MESOS_AUTH_CA_BUNDLE": ca.ca_bundle,
    }


def test_install_imports_nothing_until_pymesos_is_imported_and_is_idempotent() -> None:
    out = run_python(
        """
        import json, signal, sys
        handler = signal.getsignal(signal.SIGINT)
        import mesos_auth
        mesos_auth.install()
        mesos_auth.install()
        loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('pymesos', 'mesos_auth'))
        hooks = [f for f in sys.meta_path if 'mesos_auth' in type(f).__module__]
        print(json.dumps({
            'loaded': loaded, 'hooks': len(hooks), 'installed': mesos_auth.install_hook.installed(),
            'sigint_untouched': signal.getsignal(signal.SIGINT) is handler,
        }))
        """
    )
    assert "pymesos" not in out["loaded"] and "mesos_auth.driver" not in out["loaded"]
    assert "mesos_auth.installed_drivers" not in out["loaded"]
    assert out["hooks"] == 1 and out["installed"] is True and out["sigint_untouched"] is True


def test_early_and_late_names_and_subclasses_before_and_after_become_authenticated(
    strict_env: Dict[str, str],
) -> None:
    out = run_python(
        """
        fw = {'user': 'nobody', 'name': 'my-framework'}
        import json
        from pymesos import MesosSchedulerDriver as Early
        class Before(Early):
            def __init__(self, sched, framework, master):
                self.before_super = True
                super(Before, self).__init__(sched, framework, master, use_addict=True)
                self.after_super = True
            def reviveOffers(self):
                return 'Before.reviveOffers'
        import mesos_auth
        mesos_auth.install()
        import pymesos, pymesos.scheduler
        from pymesos import MesosSchedulerDriver as Late
        class After(pymesos.scheduler.MesosSchedulerDriver):
            pass
        from mesos_auth import AuthenticatedSchedulerDriver as A
        drivers = {
            'early': Early(None, dict(fw), '127.0.0.1:5050', use_addict=True, implicit_acknowledgements=True),
            'late': Late(sched=None, framework=dict(fw), master_uri='127.0.0.1:5050', use_addict=True),
            'module': pymesos.scheduler.MesosSchedulerDriver(None, dict(fw), '127.0.0.1:5050'),
            'before': Before(None, dict(fw), '127.0.0.1:5050'),
            'after': After(None, dict(fw), '127.0.0.1:5050', False, False),
            'direct': A(None, dict(fw), 'https://127.0.0.1:5050'),
        }
        b = drivers['before']
        print(json.dumps({
            'authenticated': {k: isinstance(d, A) for k, d in drivers.items()},
            'uids': {k: d.token_provider.uid for k, d in drivers.items()},
            'principals': {k: d.framework['principal'] for k, d in drivers.items()},
            'urls': {k: d.master_address.url for k, d in drivers.items()},
            'names': {k: type(d).__name__ for k, d in drivers.items()},
            'before': [isinstance(b, Before), b.before_super, b.after_super, b.reviveOffers(), b._dict_cls.__name__],
            'after_ack': drivers['after'].implicit_acknowledgements,
            'globals_untouched': pymesos.MesosSchedulerDriver is Early is pymesos.scheduler.MesosSchedulerDriver,
            'direct_class': type(drivers['direct']) is A,
        }))
        """,
        **strict_env,
    )
    keys = ["early", "late", "module", "before", "after", "direct"]
    assert out["authenticated"] == dict.fromkeys(keys, True)
    assert out["uids"] == dict.fromkeys(keys, "my-framework")
    assert out["principals"] == dict.fromkeys(keys, "my-framework")  # filled in from the account
    assert set(out["urls"].values()) == {"https://127.0.0.1:5050"}  # strict mode: TLS for host:port
    assert out["names"]["before"] == "Before" and out["names"]["after"] == "After"
    assert out["before"] == [True, True, True, "Before.reviveOffers", "Dict"]
    assert out["after_ack"] is False
    assert out["globals_untouched"] is True and out["direct_class"] is True


def test_pymesos_own_super_calls_work_on_installed_drivers() -> None:
    """pymesos' ``super(MesosSchedulerDriver, self)`` (its __init__, start, stop, change_master)
    resolves the module global, which install() never rebinds."""
    out = run_python(
        """
        fw = {'user': 'nobody', 'name': 'my-framework'}
        import json
        import mesos_auth
        mesos_auth.install()
        from pymesos import MesosSchedulerDriver
        from pymesos.process import Process
        calls = []
        for name in ('change_master', 'start', 'stop'):
            original = getattr(Process, name)
            def spy(self, *args, _name=name, _original=original, **kwargs):
                calls.append(_name)
            setattr(Process, name, spy)
        driver = MesosSchedulerDriver(None, dict(fw), '127.0.0.1:5050')
        pymesos_class = MesosSchedulerDriver.__mro__[0]
        for name in ('change_master', 'start', 'stop'):
            args = ('127.0.0.1:5051',) if name == 'change_master' else ()
            getattr(pymesos_class, name)(driver, *args)
        print(json.dumps({'calls': calls, 'timeout': driver._timeout}))
        """,
        MESOS_AUTH_SECURITY_MODE="disabled",
    )
    assert out["calls"] == ["change_master", "start", "stop"]
    assert out["timeout"] == 24 * 3600


def test_uninstall_restores_pymesos_exactly() -> None:
    out = run_python(
        """
        import json, sys
        import pymesos, pymesos.scheduler, pymesos.executor, pymesos.operator_v1
        classes = [pymesos.MesosSchedulerDriver, pymesos.MesosExecutorDriver, pymesos.MesosOperatorMasterDriver]
        def snapshot():
            return [dict(vars(c)) for c in classes], list(sys.meta_path)
        before = snapshot()
        import mesos_auth
        mesos_auth.install()
        changed = snapshot() != before
        mesos_auth.uninstall()
        mesos_auth.uninstall()
        after = snapshot()
        fw = {'user': 'nobody', 'name': 'x'}
        driver = pymesos.MesosSchedulerDriver(None, fw, '127.0.0.1:5050', principal='p', secret='s')
        class Sub(pymesos.MesosSchedulerDriver):
            pass
        print(json.dumps({
            'changed': changed, 'restored': after == before,
            'plain': type(driver) is pymesos.MesosSchedulerDriver, 'basic': driver._basic_credential,
            'sub_mro': [c.__name__ for c in type(Sub(None, fw, 'm:5050')).__mro__[:3]],
        }))
        """
    )
    assert out["changed"] is True and out["restored"] is True
    assert out["plain"] is True and out["basic"] == "Basic cDpz"
    assert out["sub_mro"] == ["Sub", "MesosSchedulerDriver", "Process"]


def test_the_hook_patches_when_pymesos_is_imported_and_leaves_its_loader_as_it_was() -> None:
    out = run_python(
        """
        import json, sys
        import mesos_auth
        mesos_auth.install()
        import pymesos.scheduler
        from mesos_auth import installed_drivers
        print(json.dumps({
            'patched': installed_drivers.patched(),
            'loader': type(pymesos.__spec__.loader).__name__,
            'same': pymesos.__loader__ is pymesos.__spec__.loader,
        }))
        """
    )
    assert out == {"patched": True, "loader": "SourceFileLoader", "same": True, "stderr": ""}


def test_principal_and_secret_give_way_to_the_account(strict_env: Dict[str, str]) -> None:
    out = run_python(
        """
        fw = {'user': 'nobody', 'name': 'my-framework'}
        import json, logging
        logging.basicConfig(level=logging.WARNING, format='%(message)s')
        import mesos_auth
        mesos_auth.install()
        from pymesos import MesosSchedulerDriver
        driver = MesosSchedulerDriver(None, dict(fw), '127.0.0.1:5050', principal='my-framework', secret='hunter2')
        print(json.dumps({'basic': driver._basic_credential, 'uid': driver.token_provider.uid}))
        """,
        **strict_env,
    )
    assert out["basic"] is None and out["uid"] == "my-framework"
    assert "HTTP Basic credentials (principal 'my-framework')" in out["stderr"]
    assert "hunter2" not in out["stderr"]


def test_principal_and_secret_are_kept_without_an_account() -> None:
    out = run_python(
        """
        fw = {'user': 'nobody', 'name': 'my-framework'}
        import json
        import mesos_auth
        mesos_auth.install()
        from pymesos import MesosSchedulerDriver
        driver = MesosSchedulerDriver(None, dict(fw), '127.0.0.1:5050', principal='p', secret='s')
        print(json.dumps({'basic': driver._basic_credential, 'provider': driver.token_provider is None}))
        """,
        MESOS_AUTH_SECURITY_MODE="permissive",
    )
    assert out["basic"] == "Basic cDpz" and out["provider"] is True


def test_a_strict_cluster_without_an_account_fails_at_construction() -> None:
    out = run_python(
        """
        fw = {'user': 'nobody', 'name': 'my-framework'}
        import json
        import mesos_auth
        mesos_auth.install()
        from pymesos import MesosSchedulerDriver
        try:
            MesosSchedulerDriver(None, dict(fw), '127.0.0.1:5050')
        except mesos_auth.NoServiceAccountError as error:
            print(json.dumps({'error': type(error).__name__}))
        """,
        MESOS_AUTH_SECURITY_MODE="strict",
    )
    assert out["error"] == "NoServiceAccountError"


def test_the_executor_driver_becomes_authenticated(tmp_path: Path) -> None:
    out = run_python(
        """
        import json
        from pymesos import MesosExecutorDriver
        class Mine(MesosExecutorDriver):
            pass
        import mesos_auth
        mesos_auth.install()
        from mesos_auth.executor import AuthenticatedExecutorDriver as A
        drivers = [MesosExecutorDriver(None, use_addict=True), Mine(None)]
        print(json.dumps({'authenticated': [isinstance(d, A) for d in drivers], 'name': type(drivers[1]).__name__}))
        """,
        MESOS_AGENT_ENDPOINT="127.0.0.1:5051",
        MESOS_FRAMEWORK_ID="fw-1",
        MESOS_EXECUTOR_ID="ex-1",
        MESOS_DIRECTORY=str(tmp_path),
        MESOS_SANDBOX=str(tmp_path),
    )
    assert out["authenticated"] == [True, True] and out["name"] == "Mine"


def test_the_operator_driver_becomes_authenticated(strict_env: Dict[str, str]) -> None:
    out = run_python(
        """
        import json
        import mesos_auth
        mesos_auth.install()
        from pymesos import MesosOperatorMasterDriver
        from mesos_auth.operator import AuthenticatedOperatorMasterDriver as A
        drivers = [MesosOperatorMasterDriver('127.0.0.1:5050'), MesosOperatorMasterDriver('127.0.0.1:5050', None, True)]
        print(json.dumps({'authenticated': [isinstance(d, A) for d in drivers]}))
        """,
        **strict_env,
    )
    assert out["authenticated"] == [True, True]


def test_the_bootstrap_module_and_the_package_share_one_hook() -> None:
    """mesos-auth run's bootstrap loads install_hook by path, before the package: a later
    ``mesos_auth.install()`` finds the same hook, and ``mesos_auth.install_hook`` is that module."""
    bootstrap = Path(__file__).resolve().parents[1] / "mesos_auth" / "_bootstrap"
    out = run_python(
        """
        import json, sys
        import mesos_auth.install_hook as early
        before = 'mesos_auth.driver' in sys.modules
        import mesos_auth
        mesos_auth.install()
        hooks = [f for f in sys.meta_path if 'mesos_auth' in type(f).__module__]
        print(json.dumps({'hooks': len(hooks), 'same': mesos_auth.install_hook is early, 'before': before}))
        """,
        PYTHONPATH=os.pathsep.join([str(bootstrap), subprocess_environment()["PYTHONPATH"]]),
    )
    assert out["hooks"] == 1 and out["same"] is True and out["before"] is False
