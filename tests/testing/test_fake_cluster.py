"""FakeCluster without pytest fixtures: the layout of each mode, accounts, secrets,
the environment, reset/check/stop, a driver run end to end; the permissions accounts
are granted; and FakeMaster.grant()."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict
from urllib.parse import urlsplit

import pytest

from mesos_auth import SecurityMode, SecurityModeError, ServiceAccount, TokenProvider, detect_security_mode
from mesos_auth.ca import resolve_ca_bundle
from mesos_auth.testing import FakeCluster, FakeServerError, TestCA
from mesos_auth.testing.master import MESOS_VERSION, FakeMaster, ManualClock

from .test_fake_master_support import FRAMEWORK_INFO, ACLStubIAM, Client, StubIAM, serve, token_header

NOBODY = "dcos:mesos:master:task:user:nobody"


def framework_permission(role: str) -> str:
    return f"dcos:mesos:master:framework:role:{role}"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: Any) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("cluster-ca"))


def login(cluster: FakeCluster, account: ServiceAccount) -> str:
    return TokenProvider(account, ca_bundle=cluster.ca_bundle, security_mode=cluster.security_mode).token()


def get(url: str, path: str, ca_bundle: Any = None) -> http.client.HTTPResponse:
    """One GET on a fresh connection (https verified with ``ca_bundle``); the body is read."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 0
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=ca_bundle)
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=10, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


# -- the layout of each mode ------------------------------------------------------------------


def test_strict_with_tls_is_https_only_and_logs_in(ca: TestCA) -> None:
    with FakeCluster("strict", tls=ca) as cluster:
        assert cluster.security_mode is SecurityMode.STRICT
        assert cluster.tls and cluster.ca is ca and cluster.ca_bundle == ca.ca_bundle
        assert cluster.master_url.startswith("https://127.0.0.1:")
        assert cluster.url == cluster.router.https_url
        assert cluster.login_endpoint == cluster.url + "/acs/api/v1/auth/login"  # through Admin Router
        assert not cluster.master.plain_http and not cluster.master.ssl_downgrade  # no downgrade in strict mode
        assert cluster.master_http_url is None
        # Admin Router: plain http is redirected to https (the router's and the IAM's own port alike).
        for server in (cluster.router, cluster.iam):
            redirected = get(server.http_url, "/acs/api/v1/auth/jwks")
            assert redirected.status == 307
            assert redirected.getheader("Location", "") == server.https_url + "/acs/api/v1/auth/jwks"
        assert get(cluster.master_url, "/version", cluster.ca_bundle).status == 200

        account = cluster.create_service_account("strict-svc")
        assert account.login_endpoint == cluster.login_endpoint
        token = login(cluster, account)
        assert cluster.iam.verify_token(token) == "strict-svc"
        assert cluster.iam.permissions_of("strict-svc") == {
            framework_permission("*"): frozenset({"create"}),
            NOBODY: frozenset({"create"}),
        }
        cluster.check()


def test_strict_master_enforces_the_granted_roles(ca: TestCA) -> None:
    with FakeCluster("strict", tls=ca) as cluster:
        account = cluster.create_service_account("role-svc", roles=["dev"])
        client = Client(
            cluster.master,
            scheme="https",
            context=ca.client_context(),
            authorization=f"token={login(cluster, account)}",
        )
        refused = client.subscribe(dict(FRAMEWORK_INFO, role="prod"))
        message = "Not authorized to register framework  with roles { prod }"  # Mesos 1.11: no id yet
        assert refused.next_event()["error"]["message"] == message
        refused.close()
        granted = client.subscribe(dict(FRAMEWORK_INFO, role="dev"))
        assert granted.subscribed()["subscribed"]["framework_id"]["value"]
        granted.close()
        # Unauthenticated: 401 in strict mode.
        assert Client(cluster.master, scheme="https", context=ca.client_context()).subscribe().status == 401
        cluster.check()


@pytest.mark.parametrize("mode", ["permissive", "disabled"])
def test_permissive_and_disabled_serve_http_too(mode: str, ca: TestCA) -> None:
    with FakeCluster(mode, tls=ca) as cluster:
        assert cluster.security_mode is SecurityMode(mode)
        assert cluster.master_url == cluster.master.https_url
        assert cluster.login_endpoint.startswith("https://")  # https whenever TLS is on
        # One port, plain http and TLS (libprocess' SSL downgrade).
        assert cluster.master.plain_http and cluster.master.ssl_downgrade
        assert cluster.master_http_url == cluster.master.http_url
        assert urlsplit(cluster.master.http_url).port == urlsplit(cluster.master_url).port
        assert get(cluster.master.http_url, "/version").status == 200
        assert get(cluster.master_url, "/version", cluster.ca_bundle).status == 200
        # The router's plain port proxies too: no redirect outside strict mode.
        assert get(cluster.router.http_url, "/acs/api/v1/auth/jwks").status == 200
        account = cluster.create_service_account("svc").with_login_endpoint(cluster.iam.http_login_endpoint)
        assert cluster.iam.verify_token(login(cluster, account)) == "svc"  # no redirect of http
        anonymous = Client(cluster.master).subscribe()
        assert anonymous.status == 200
        anonymous.subscribed()
        anonymous.close()
        cluster.check()


def test_plain_pymesos_registers_on_the_one_port_of_a_permissive_tls_cluster(ca: TestCA) -> None:
    """The master's port speaks TLS and, downgraded, plain http: pymesos (no TLS) just works."""
    from pymesos import MesosSchedulerDriver, Scheduler

    registered = threading.Event()

    class Registers(Scheduler):  # type: ignore[misc]
        def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
            registered.set()

        def resourceOffers(self, driver: Any, offers: Any) -> None:
            for offer in offers:
                driver.declineOffer(offer.id, {"refuse_seconds": 3600})

    with FakeCluster("permissive", tls=ca) as cluster:
        assert cluster.master.address == f"127.0.0.1:{urlsplit(cluster.master_url).port}"
        framework = {"user": "nobody", "name": "plain-pymesos"}
        driver = MesosSchedulerDriver(Registers(), framework, cluster.master.address, use_addict=True)
        driver.start()
        try:
            assert registered.wait(30), "pymesos never registered over plain http"
        finally:
            driver.stop()
            driver.join()
        assert {r.scheme for r in cluster.master.requests} == {"http"}
        cluster.check()


def test_without_tls_everything_is_plain_http(tmp_path: Path) -> None:
    with FakeCluster("permissive", tls=False, directory=tmp_path) as cluster:
        assert cluster.ca is None and cluster.ca_bundle is None and not cluster.tls
        assert cluster.master_url.startswith("http://") and cluster.login_endpoint.startswith("http://")
        assert cluster.url == cluster.router.http_url and not cluster.master.ssl_downgrade
        account = cluster.create_service_account("plain")
        assert cluster.iam.verify_token(login(cluster, account)) == "plain"
        env = cluster.environment(account)
        assert "MESOS_AUTH_CA_BUNDLE" not in env
        assert env["MESOS_MASTER_URL"] == cluster.master_url
    assert list(tmp_path.iterdir()) == []  # nothing written without TLS or secrets


def test_tls_true_makes_a_ca_in_the_directory(tmp_path: Path) -> None:
    with FakeCluster(directory=tmp_path) as cluster:
        assert cluster.security_mode is SecurityMode.STRICT  # the default
        assert cluster.ca_bundle == str(tmp_path / "ca-bundle.crt")
        assert Path(cluster.ca_bundle).is_file()
    assert (tmp_path / "ca-bundle.crt").is_file()  # a given directory is left alone


def test_options_reach_the_master_and_the_iam(ca: TestCA) -> None:
    clock = ManualClock()
    cluster = FakeCluster(
        "permissive",
        tls=ca,
        heartbeat_interval=0.5,
        agents=[{"cpus": 2.0, "mem": 512.0, "disk": 10.0}, {"cpus": 1.0, "mem": 256.0, "disk": 10.0}],
        task_states=["TASK_RUNNING", "TASK_FAILED"],
        token_lifetime=120,
        clock=clock,
        iam_clock=lambda: 1_800_000_000.0,
    )
    with cluster:
        assert cluster.master.heartbeat_interval == 0.5
        assert len(cluster.master.agents) == 2
        assert cluster.iam.token_lifetime == 120
        assert cluster.iam.now() == 1_800_000_000.0
        assert cluster.master._clock is clock


def test_mesos_version_and_allocation_interval_reach_the_master(ca: TestCA) -> None:
    with FakeCluster("permissive", tls=ca, mesos_version="1.8", allocation_interval=0.25) as cluster:
        connection = http.client.HTTPConnection("127.0.0.1", urlsplit(cluster.master.http_url).port, timeout=10)
        try:
            connection.request("GET", "/version")
            assert json.loads(connection.getresponse().read())["version"].startswith("1.8.")
        finally:
            connection.close()
    with FakeCluster("permissive", tls=False) as default:
        connection = http.client.HTTPConnection("127.0.0.1", urlsplit(default.master_url).port, timeout=10)
        try:
            connection.request("GET", "/version")
            assert json.loads(connection.getresponse().read())["version"] == MESOS_VERSION
        finally:
            connection.close()
    with pytest.raises(ValueError, match="allocation_interval"):
        FakeCluster("permissive", tls=False, allocation_interval=0)


# -- secrets and the environment -------------------------------------------------------------------


def test_environment_inlines_the_secret_unless_it_was_written(ca: TestCA, tmp_path: Path) -> None:
    with FakeCluster("strict", tls=ca) as cluster:
        inline = cluster.create_service_account("inline-svc")
        env = cluster.environment(inline)
        assert set(env) == {
            "DCOS_SERVICE_ACCOUNT_CREDENTIAL",
            "MESOS_AUTH_CA_BUNDLE",
            "MESOS_AUTH_SECURITY_MODE",
            "MESOS_MASTER_URL",
        }
        assert json.loads(env["DCOS_SERVICE_ACCOUNT_CREDENTIAL"]) == inline.to_info()
        assert env["MESOS_AUTH_SECURITY_MODE"] == "strict"
        assert env["MESOS_AUTH_CA_BUNDLE"] == ca.ca_bundle
        assert env["MESOS_MASTER_URL"] == cluster.master_url

        path = tmp_path / "secret.json"
        written = cluster.create_service_account("file-svc", write_secret_to=path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert json.loads(path.read_text()) == written.to_info()
        assert cluster.secret_file(written) == path
        env = cluster.environment(written)
        assert env["DCOS_SERVICE_ACCOUNT_CREDENTIAL"] == str(path)

        # What a framework does with that environment: it finds everything and logs in.
        found = ServiceAccount.from_env(env)
        assert found.uid == "file-svc" and found.login_endpoint == cluster.login_endpoint
        assert detect_security_mode(environ=env) is SecurityMode.STRICT
        assert resolve_ca_bundle(environ=env).path == ca.ca_bundle
        assert cluster.iam.verify_token(login(cluster, found)) == "file-svc"

        # Re-creating the uid makes a new key: the old file no longer stands for it.
        again = cluster.create_service_account("file-svc")
        assert cluster.secret_file(again) is None
        assert cluster.environment(again)["DCOS_SERVICE_ACCOUNT_CREDENTIAL"].startswith("{")
        assert "DCOS_SERVICE_ACCOUNT_CREDENTIAL" not in cluster.environment()


def test_a_written_secret_replaces_a_readable_file_with_an_owner_only_one(ca: TestCA, tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    path.write_text("old")
    os.chmod(path, 0o644)
    with FakeCluster("strict", tls=ca) as cluster:
        cluster.create_service_account("svc", write_secret_to=str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["uid"] == "svc"


# -- life cycle -------------------------------------------------------------------------------------


def test_reset_keeps_accounts_and_permissions_and_forgets_the_rest(ca: TestCA) -> None:
    with FakeCluster("strict", tls=ca) as cluster:
        account = cluster.create_service_account("kept", roles=["*", "dev"])
        client = Client(
            cluster.master,
            scheme="https",
            context=ca.client_context(),
            authorization=f"token={login(cluster, account)}",
        )
        sub = client.subscribe()
        sub.subscribed()
        cluster.iam.fail_next_logins(3)
        cluster.master.fail_next_calls(2)
        assert cluster.iam.login_count == 1 and cluster.master.frameworks

        cluster.reset()
        assert sub.end() in ("clean", "abrupt")
        assert cluster.master.frameworks == {} and cluster.master.requests == []
        assert cluster.iam.login_count == 0 and cluster.iam.events == []
        assert "kept" in cluster.iam.accounts
        assert framework_permission("dev") in cluster.iam.permissions_of("kept")
        assert cluster.iam.verify_token(login(cluster, account)) == "kept"  # no injected failure left
        cluster.check()


def test_check_reports_every_server_and_reset_clears(ca: TestCA) -> None:
    with FakeCluster("permissive", tls=ca) as cluster:
        cluster.check()
        cluster.iam.record_error("iam thread blew up")
        cluster.master.record_error("master thread blew up")
        cluster.router.record_error("router thread blew up")
        with pytest.raises(FakeServerError) as raised:
            cluster.check()
        for name in ("iam", "master", "router"):
            assert f"{name} thread blew up" in str(raised.value)
        cluster.reset()
        cluster.check()


def test_stop_removes_its_own_directory_and_is_final() -> None:
    cluster = FakeCluster("strict")
    directory = cluster.directory
    assert Path(cluster.ca_bundle or "").parent == directory
    assert not cluster.running
    with cluster:
        assert cluster.running
        assert cluster.start() is cluster  # no-op while running
        secret = cluster.write_secret(cluster.create_service_account("svc"), directory / "svc.json")
        assert secret.is_file()
    assert not directory.exists()
    cluster.stop()  # idempotent
    with pytest.raises(RuntimeError, match="cannot be restarted"):
        cluster.start()
    assert "stopped" in repr(cluster)


def test_a_fake_cluster_without_a_directory_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its own directory, the CA it made in it (keys included) and the secrets written there: all gone at stop()."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with FakeCluster("strict") as cluster:
        account = cluster.create_service_account("leaves-nothing")
        cluster.write_secret(account, cluster.directory / "secret.json")
        assert cluster.ca is not None and any(cluster.ca.directory.glob("*.key"))
        assert len(list(tmp_path.iterdir())) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_fake_cluster_stopped_without_starting_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    FakeCluster("permissive").stop()  # the listeners it bound are closed; its directory goes with them
    assert list(tmp_path.iterdir()) == []


def test_bad_options_leave_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ValueError, match="heartbeat_interval"):
        FakeCluster("strict", heartbeat_interval=0)
    with pytest.raises(ValueError, match="token_lifetime"):
        FakeCluster("strict", tls=False, token_lifetime=-1)
    with pytest.raises(SecurityModeError):
        FakeCluster("paranoid")
    with pytest.raises(TypeError, match="tls"):
        FakeCluster("strict", tls="yes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith(("FakeIAM", "FakeMaster", "FakeRouter"))]


def test_a_driver_runs_against_the_cluster_without_pytest_fixtures(ca: TestCA) -> None:
    from mesos_auth import create_driver
    from tests.driver.support import FAST_BACKOFF, RecordingScheduler, framework_info, running

    with FakeCluster("strict", tls=ca, heartbeat_interval=1.0) as cluster:
        account = cluster.create_service_account("driver-svc")
        scheduler = RecordingScheduler(tasks=1)
        driver = create_driver(
            scheduler,
            framework_info(),
            cluster.master_url,
            use_addict=True,
            service_account=account,
            ca_bundle=cluster.ca_bundle,
            security_mode=cluster.security_mode,
            resubscribe_backoff=FAST_BACKOFF,
        )
        with running(driver):
            scheduler.wait_for(scheduler.finished, what="the task finished")
        assert set(scheduler.states().values()) == {"TASK_FINISHED"}
        [record] = cluster.master.frameworks.values()
        assert record.principal == "driver-svc"
        cluster.check()


# -- the permissions of an account ------------------------------------------------------------------


def test_create_service_account_grants_the_canonical_set_in_the_iam(ca: TestCA) -> None:
    with FakeCluster("strict", tls=ca) as cluster:
        cluster.create_service_account("six", roles=["my-role"])
        assert cluster.iam.permissions_of("six") == {
            framework_permission("my-role"): frozenset({"create"}),
            NOBODY: frozenset({"create"}),
            "dcos:mesos:master:reservation:role:my-role": frozenset({"create"}),
            "dcos:mesos:master:volume:role:my-role": frozenset({"create"}),
            "dcos:mesos:master:reservation:principal:six": frozenset({"delete"}),
            "dcos:mesos:master:volume:principal:six": frozenset({"delete"}),
        }


def test_create_service_account_leaves_out_and_adds_permissions(ca: TestCA) -> None:
    from mesos_auth.permissions.model import launch_as_user

    with FakeCluster("strict", tls=ca) as cluster:
        cluster.create_service_account(
            "tuned",
            task_user=["nobody", "root"],
            missing_permissions=[launch_as_user("root"), (framework_permission("*"), "create")],
            extra_permissions=[("dcos:mesos:master:task:app_id:/", "create")],
        )
        assert cluster.iam.permissions_of("tuned") == {
            NOBODY: frozenset({"create"}),
            "dcos:mesos:master:task:app_id:/": frozenset({"create"}),
        }
        granted = cluster.grant_permissions("tuned", roles=["dev"], task_user="www")
        assert [str(p) for p in granted] == [
            f"{framework_permission('dev')} create",
            "dcos:mesos:master:task:user:www create",
            "dcos:mesos:master:reservation:role:dev create",
            "dcos:mesos:master:volume:role:dev create",
            "dcos:mesos:master:reservation:principal:tuned delete",
            "dcos:mesos:master:volume:principal:tuned delete",
        ]


def test_a_missing_task_user_permission_refuses_the_launch_on_the_cluster(ca: TestCA) -> None:
    from .test_fake_master_support import launch, task_info

    with FakeCluster("strict", tls=ca, allocation_interval=0.05) as cluster:
        account = cluster.create_service_account("no-launch", missing_permissions=[(NOBODY, "create")])
        client = Client(
            cluster.master,
            scheme="https",
            context=ca.client_context(),
            authorization=f"token={login(cluster, account)}",
        )
        sub = client.subscribe()
        sub.subscribed()
        offer = sub.until("OFFERS")["offers"]["offers"][0]
        assert launch(sub, offer, task_info("t1", offer)).status == 202
        [status] = sub.updates(1)
        assert (status["state"], status["reason"], "uuid" in status) == (
            "TASK_ERROR",
            "REASON_TASK_UNAUTHORIZED",
            False,
        )
        framework_id = sub.framework_id
        assert status["message"] == (
            f"Principal 'no-launch' no authorized to launch task t1 of framework {framework_id} under user 'nobody'"
        )
        sub.close()
        cluster.check()


# -- FakeMaster.grant() -------------------------------------------------------------------------------


def test_grant_lets_a_principal_register_from_then_on() -> None:
    iam = ACLStubIAM()
    with serve(security_mode="strict", iam=iam, mesos_version="1.4") as master:
        client = Client(master, authorization=token_header("alice"))
        refused = client.subscribe(dict(FRAMEWORK_INFO, role="dev"))
        assert refused.next_event()["error"]["message"] == "Not authorized to use roles '{ dev }'"
        refused.close()
        master.grant("alice", ["dev"])
        granted = client.subscribe(dict(FRAMEWORK_INFO, role="dev"))
        granted.subscribed()
        granted.close()
        master.reset()
        assert iam.granted == {("alice", framework_permission("dev"), "create")}  # the IAM's, kept by a reset


def test_grant_goes_through_the_iam_and_checks_its_arguments() -> None:
    iam = ACLStubIAM()
    master = FakeMaster(security_mode="strict", iam=iam, grants={"alice": ["*"]})
    try:
        master.grant("alice", ("*", "dev"))
        assert master.authorizer is iam
        assert iam.granted == {
            ("alice", framework_permission("*"), "create"),
            ("alice", framework_permission("dev"), "create"),
        }
        with pytest.raises(TypeError):
            master.grant("alice", "dev")
        with pytest.raises(ValueError):
            master.grant("", ["dev"])
    finally:
        master.stop()


def test_grant_without_an_authorizer_that_grants_is_a_type_error() -> None:
    master = FakeMaster(security_mode="strict", iam=StubIAM())
    try:
        with pytest.raises(TypeError, match="grant_permission"):
            master.grant("alice", ["*"])
    finally:
        master.stop()


def test_grant_is_thread_safe(ca: TestCA) -> None:
    with FakeCluster("strict", tls=ca) as cluster:
        barrier = threading.Barrier(8)

        def grant_many(n: int) -> None:
            barrier.wait()
            for i in range(50):
                cluster.master.grant(f"p{i % 10}", [f"r{n}-{i}"])

        threads = [threading.Thread(target=grant_many, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        held: Dict[str, Any] = {f"p{i}": cluster.iam.permissions_of(f"p{i}") for i in range(10)}
        assert sum(len(rids) for rids in held.values()) == 8 * 50
