"""The pytest plugin, as a framework author meets it: small test files that use only
its fixtures, run by pytester in a separate pytest process (pymesos must be imported
on a main thread, and the plugin must come in through its entry point alone)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

import pytest

pytest_plugins = ["pytester"]

#: Seconds a pytest subprocess may take (the tests it runs have 30-second deadlines).
SUBPROCESS_TIMEOUT = 100.0


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--strict-markers", "-v", *args, timeout=SUBPROCESS_TIMEOUT
    )


FRAMEWORK_TEST = '''
import threading

import pytest

from mesos_auth import Scheduler, create_driver


class OneTaskScheduler(Scheduler):
    """Launches one task from the first offer and waits for it to finish."""

    def __init__(self):
        self.launched = []
        self.states = []
        self.principals = []
        self.finished = threading.Event()

    def authenticated(self, driver, principal):
        self.principals.append(principal)

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer["id"], {"refuse_seconds": 3600})
                continue
            task = {
                "name": "hello",
                "task_id": {"value": "hello-1"},
                "agent_id": offer["agent_id"],
                "resources": [
                    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                    {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
                ],
                "command": {"value": "echo hello"},
            }
            self.launched.append(task["task_id"]["value"])
            driver.launchTasks(offer["id"], [task])

    def statusUpdate(self, driver, status):
        self.states.append(status["state"])
        if status["state"] == "TASK_FINISHED":
            self.finished.set()


def run_my_framework(cluster, account, master=None):
    scheduler = OneTaskScheduler()
    driver = create_driver(
        scheduler,
        {"user": "nobody", "name": "my-framework"},
        master or cluster.master_url,
        use_addict=True,
        service_account=account,
        ca_bundle=cluster.ca_bundle,
        security_mode=cluster.security_mode,
    )
    driver.start()
    try:
        assert scheduler.finished.wait(30), f"no TASK_FINISHED; states {scheduler.states}"
    finally:
        driver.stop()
        driver.join()
    assert driver.failure is None
    return scheduler


def test_my_framework_runs_a_task(mesos_cluster, mesos_service_account, mesos_master, mesos_iam):
    scheduler = run_my_framework(mesos_cluster, mesos_service_account)
    assert scheduler.states[-1] == "TASK_FINISHED"
    assert scheduler.principals == [mesos_service_account.uid]
    [framework] = mesos_master.frameworks.values()
    assert framework.principal == mesos_service_account.uid
    assert mesos_iam.logins_for(mesos_service_account.uid) == 1


@pytest.mark.parametrize("mesos_cluster", ["permissive", "disabled"], indirect=True)
def test_my_framework_in_other_modes(mesos_cluster, mesos_service_account):
    assert run_my_framework(mesos_cluster, mesos_service_account).states[-1] == "TASK_FINISHED"


@pytest.mark.mesos_cluster(security_mode="permissive", tls=False)
def test_my_framework_over_plain_http(mesos_cluster, mesos_service_account):
    assert mesos_cluster.master_url.startswith("http://")
    assert run_my_framework(mesos_cluster, mesos_service_account).states[-1] == "TASK_FINISHED"


@pytest.mark.mesos_cluster(masters=3)
def test_my_framework_finds_the_leader_in_zookeeper(mesos_cluster, mesos_service_account, mesos_zookeeper):
    assert mesos_cluster.zookeeper_url.startswith(f"zk://{mesos_zookeeper.hosts}/")
    assert len(mesos_cluster.masters) == 3
    mesos_cluster.fail_over()
    scheduler = run_my_framework(mesos_cluster, mesos_service_account, master=mesos_cluster.zookeeper_url)
    assert scheduler.states[-1] == "TASK_FINISHED"
    assert mesos_cluster.leader is mesos_cluster.masters[1]
'''


def test_a_framework_registers_and_finishes_a_task_with_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_my_framework=FRAMEWORK_TEST)
    result = run(pytester)
    result.assert_outcomes(passed=5)


SELECTION_TEST = """
import pytest

from mesos_auth import SecurityMode

SEEN = {}


def test_default_is_strict_with_tls(mesos_cluster, mesos_iam, mesos_master):
    assert mesos_cluster.security_mode is SecurityMode.STRICT
    assert mesos_cluster.master_url.startswith("https://")
    assert mesos_cluster.login_endpoint.startswith("https://")
    assert mesos_cluster.ca_bundle is not None
    assert mesos_iam is mesos_cluster.iam and mesos_master is mesos_cluster.master
    SEEN["default"] = mesos_cluster


def test_the_default_cluster_is_shared(mesos_cluster):
    assert mesos_cluster is SEEN["default"]


@pytest.mark.parametrize(
    "mesos_cluster, mode",
    [("strict", SecurityMode.STRICT), ("permissive", SecurityMode.PERMISSIVE), ("DISABLED", SecurityMode.DISABLED)],
    indirect=["mesos_cluster"],
)
def test_mode_by_parameter(mesos_cluster, mode):
    assert mesos_cluster.security_mode is mode
    assert mesos_cluster.master.security_mode == mode.value
    assert mesos_cluster.tls


@pytest.mark.parametrize("mesos_cluster", [{"security_mode": "permissive", "tls": False}], indirect=True)
def test_dict_parameter(mesos_cluster):
    assert mesos_cluster.security_mode is SecurityMode.PERMISSIVE
    assert not mesos_cluster.tls and mesos_cluster.ca_bundle is None
    assert mesos_cluster.master_url.startswith("http://")


@pytest.mark.mesos_cluster(security_mode="permissive", tls=False)
def test_marker(mesos_cluster):
    assert mesos_cluster.security_mode is SecurityMode.PERMISSIVE and not mesos_cluster.tls
    SEEN["permissive-plain"] = mesos_cluster


@pytest.mark.mesos_cluster("disabled")
def test_marker_positional(mesos_cluster):
    assert mesos_cluster.security_mode is SecurityMode.DISABLED and mesos_cluster.tls


@pytest.mark.mesos_cluster(security_mode="permissive", tls=False)
@pytest.mark.parametrize("mesos_cluster", [{"tls": True}], indirect=True)
def test_parameter_overrides_marker_key_by_key(mesos_cluster):
    assert mesos_cluster.security_mode is SecurityMode.PERMISSIVE and mesos_cluster.tls


@pytest.mark.mesos_cluster("permissive")
class TestOnAClass:
    def test_class_marker(self, mesos_cluster):
        assert mesos_cluster.security_mode is SecurityMode.PERMISSIVE

    @pytest.mark.mesos_cluster(tls=False)
    def test_closest_marker_wins(self, mesos_cluster):
        # The closest marker is the one read: it names no mode, so the default holds.
        assert mesos_cluster.security_mode is SecurityMode.STRICT and not mesos_cluster.tls


@pytest.mark.mesos_cluster(heartbeat_interval=0.5, agents=3)
def test_other_options_give_a_cluster_of_its_own(mesos_cluster, mesos_master):
    assert mesos_cluster is not SEEN["default"]
    assert mesos_master.heartbeat_interval == 0.5
    assert len(mesos_master.agents) == 3
    assert mesos_cluster.security_mode is SecurityMode.STRICT


def test_fixture_masters_allocate_often_and_the_router_is_the_cluster_url(mesos_cluster, mesos_master, mesos_router):
    assert mesos_cluster is SEEN["default"]
    assert mesos_master.allocation_interval == 0.05
    assert mesos_router is mesos_cluster.router and mesos_cluster.url == mesos_router.url
    assert mesos_cluster.login_endpoint == mesos_router.url + "/acs/api/v1/auth/login"


@pytest.mark.mesos_cluster(allocation_interval=1.0)
def test_another_allocation_interval_gives_a_cluster_of_its_own(mesos_cluster, mesos_master):
    assert mesos_cluster is not SEEN["default"]
    assert mesos_master.allocation_interval == 1.0


def test_service_accounts_are_unique_and_granted(mesos_cluster, mesos_service_account):
    assert mesos_service_account.uid.startswith("test-service-accounts-are-unique-and-granted-")
    assert mesos_service_account.uid in mesos_cluster.iam.accounts
    held = mesos_cluster.iam.permissions_of(mesos_service_account.uid)
    assert held["dcos:mesos:master:framework:role:*"] == frozenset({"create"})
    assert held["dcos:mesos:master:task:user:nobody"] == frozenset({"create"})
    assert mesos_service_account.login_endpoint == mesos_cluster.login_endpoint
    SEEN.setdefault("uids", []).append(mesos_service_account.uid)


@pytest.mark.parametrize("n", [1, 2])
def test_service_accounts_differ_per_test(mesos_service_account, n):
    SEEN.setdefault("uids", []).append(mesos_service_account.uid)
    assert len(set(SEEN["uids"])) == len(SEEN["uids"])


@pytest.mark.parametrize("mesos_cluster", [42], indirect=True)
def test_bad_parameter(mesos_cluster):
    pass


@pytest.mark.mesos_cluster("strict", "permissive")
def test_bad_marker(mesos_cluster):
    pass


@pytest.mark.mesos_cluster(security_mode="paranoid")
def test_bad_mode(mesos_cluster):
    pass
"""


def test_clusters_are_chosen_by_parameter_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_selection=SELECTION_TEST)
    result = run(pytester)
    result.assert_outcomes(passed=17, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_bad_parameter*",
            "*mesos_cluster parameters are a security mode or a dict of FakeCluster options, not 42*",
            "*ERROR at setup of test_bad_marker*",
            "*takes at most one positional argument*",
            "*ERROR at setup of test_bad_mode*",
            "*paranoid*",
        ]
    )


RESET_TEST = """
from mesos_auth import TokenProvider

SEEN = {}


def login(cluster, account):
    return TokenProvider(account, ca_bundle=cluster.ca_bundle, security_mode=cluster.security_mode).token()


def test_a_leaves_a_mess(mesos_cluster, mesos_iam, mesos_master, mesos_service_account):
    login(mesos_cluster, mesos_service_account)
    assert mesos_iam.login_count == 1
    mesos_iam.fail_next_logins(5)
    mesos_iam.shift_clock(3600)
    mesos_master.fail_next_calls(5)
    mesos_master.go_down()
    SEEN["cluster"] = mesos_cluster
    SEEN["account"] = mesos_service_account


def test_b_finds_it_clean(mesos_cluster, mesos_iam, mesos_master, mesos_service_account):
    assert mesos_cluster is SEEN["cluster"]
    assert mesos_iam.login_count == 0 and mesos_iam.events == []
    assert mesos_master.requests == [] and mesos_master.frameworks == {}
    assert SEEN["account"].uid in mesos_iam.accounts  # accounts are kept
    assert mesos_iam.permissions_of(SEEN["account"].uid)  # and so are permissions
    assert mesos_iam.verify_token(login(mesos_cluster, mesos_service_account)) == mesos_service_account.uid
    assert not mesos_master.refusing_connections


def test_c_a_server_thread_fails(mesos_master):
    mesos_master.record_error("a handler blew up in a server thread")


def test_d_the_next_test_is_not_blamed(mesos_cluster):
    mesos_cluster.check()
"""


def test_each_test_gets_a_reset_cluster_and_server_failures_fail_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_reset=RESET_TEST)
    result = run(pytester)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_c_a_server_thread_fails*", "*a handler blew up in a server thread*"]
    )


QUIET_TEST = """
import sys
import threading


def test_nothing_starts_without_a_fixture():
    assert "mesos_auth.testing.pytest_plugin" in sys.modules  # loaded by its entry point
    names = [thread.name for thread in threading.enumerate()]
    assert not [name for name in names if name.startswith(("FakeIAM", "FakeMaster"))], names
"""


def test_the_plugin_switches_nothing_on_for_tests_that_do_not_ask(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_quiet=QUIET_TEST)
    result = run(pytester)
    result.assert_outcomes(passed=1)
    made = [p.name for p in pytester.path.rglob("*") if p.name.startswith(("mesos-ca", "mesos-cluster"))]
    assert made == []


def test_fixtures_and_marker_are_listed(pytester: pytest.Pytester) -> None:
    fixtures = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures", timeout=SUBPROCESS_TIMEOUT)
    fixtures.stdout.fnmatch_lines(
        [
            "*mesos_cluster*",
            "*A started fake DC/OS cluster*",
            "*mesos_iam*",
            "*mesos_master*",
            "*mesos_router*",
            "*mesos_service_account*",
        ]
    )
    markers = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--markers", timeout=SUBPROCESS_TIMEOUT)
    markers.stdout.fnmatch_lines(["@pytest.mark.mesos_cluster(security_mode='strict', tls=True, **options)*"])


def test_registered_through_the_pytest11_entry_point() -> None:
    found: Any = entry_points()
    group = found.select(group="pytest11") if hasattr(found, "select") else found.get("pytest11", [])
    assert any(ep.name == "mesos_auth" and ep.value == "mesos_auth.testing.pytest_plugin" for ep in group)


def test_importing_the_test_doubles_does_not_import_the_plugin_or_pytest() -> None:
    code = (
        "import sys, mesos_auth.testing; "
        "print('mesos_auth.testing.pytest_plugin' in sys.modules, 'pytest' in sys.modules, 'pymesos' in sys.modules)"
    )
    output = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert output.split() == ["False", "False", "False"]
