"""The fake IAM's permissions: its Python API and the ACL API under ``/acs/api/v1``, over real HTTPS.

Sources: the DC/OS docs' ``ent-iam.yaml`` (paths, 201/204/409), dcos/client-go
``openapi/dcos.yaml`` (the IAM error codes), dcos/bouncer ``urlbuild.py``
(``%252F``), ``utils.py`` (``rid_slash_decoder``, ``gen_*_obj``, the JSON schema
check), ``errors.py`` (the 400s), and dcos/dcos Admin Router's
``lib/auth/common.lua`` (``exit_401``/``exit_403``). Tokens never appear in
assertion messages.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mesos_auth.testing import FakeCluster, FakeIAM, TestCA
from mesos_auth.testing.iam import ACLEvent
from tests.testing.test_fake_iam import ManualClock, new_key

ROLE = "dcos:mesos:master:framework:role"
SLASHED = "dcos:mesos:master:framework:role:slave_public/kafka-role"
SLASHED_IN_URL = "dcos:mesos:master:framework:role:slave_public%252Fkafka-role"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("fake-iam-acls-ca"))


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(float(int(time.time())))


@pytest.fixture(scope="module")
def shared_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def shared_iam(ca: TestCA, clock: ManualClock) -> Iterator[FakeIAM]:
    with FakeIAM(tls=ca, clock=clock) as fake:
        yield fake


@pytest.fixture
def iam(shared_iam: FakeIAM, clock: ManualClock, shared_key: rsa.RSAPrivateKey) -> Iterator[FakeIAM]:
    clock.reset()
    shared_iam.reset()
    shared_iam.clear_acls()
    shared_iam.account_reads_own_permissions = True
    for uid in ("svc", "other"):
        shared_iam.add_account(uid, shared_key.public_key())
    yield shared_iam
    shared_iam.check()


class Api:
    """Requests to the fake's https port with http.client: the path goes out exactly as written."""

    def __init__(self, iam: FakeIAM, ca: TestCA, token: Optional[str]) -> None:
        self.iam = iam
        self.ca = ca
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> Tuple[int, Dict[str, str], bytes]:
        sent = dict(headers or {})
        bearer = token if token is not None else self.token
        if bearer is not None and "Authorization" not in sent:
            sent["Authorization"] = f"token={bearer}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        port = int(self.iam.https_url.rsplit(":", 1)[1])
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=self.ca.client_context())
        try:
            connection.request(method, "/acs/api/v1" + path, body=data, headers=sent)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Tuple[int, Any]:
        status, _, raw = self.call(method, path, body, **kwargs)
        return status, (json.loads(raw) if raw else None)


@pytest.fixture
def admin(iam: FakeIAM, ca: TestCA) -> Api:
    return Api(iam, ca, iam.create_superuser())


def error_code(api: Api, method: str, path: str, body: Any = None, **kwargs: Any) -> Tuple[int, str, str]:
    status, payload = api.json(method, path, body, **kwargs)
    return status, payload["code"], payload["description"]


# -- the Python API ------------------------------------------------------------------------------------


def test_an_exact_grant_allows_that_action_only(iam: FakeIAM) -> None:
    iam.grant_permission("svc", f"{ROLE}:web", "create")

    assert iam.is_allowed("svc", f"{ROLE}:web", "create")
    assert not iam.is_allowed("svc", f"{ROLE}:web", "delete")
    assert not iam.is_allowed("svc", f"{ROLE}:db", "create")
    assert not iam.is_allowed("other", f"{ROLE}:web", "create")


def test_a_rid_without_its_optional_part_covers_every_value_at_a_colon(iam: FakeIAM) -> None:
    # Docs: "leaving out the optional part means all possible values".
    iam.grant_permission("svc", ROLE, "create")
    iam.grant_permission("other", f"{ROLE}:slave_public", "create")

    assert iam.is_allowed("svc", f"{ROLE}:anything", "create")
    assert iam.is_allowed("svc", SLASHED, "create")
    assert not iam.is_allowed("svc", "dcos:mesos:master:framework:rolex", "create")  # not a ':' boundary
    assert not iam.is_allowed("svc", "dcos:mesos:master:framework", "create")  # a prefix grants nothing upwards
    assert not iam.is_allowed("other", SLASHED, "create")  # '/' is no boundary (unverified in DC/OS)


def test_full_implies_every_action_and_superuser_allows_everything(iam: FakeIAM) -> None:
    iam.grant_permission("svc", f"{ROLE}:web", "full")
    iam.grant_permission("other", "dcos:superuser", "full")

    assert all(iam.is_allowed("svc", f"{ROLE}:web", action) for action in ("create", "read", "update", "delete"))
    assert iam.is_allowed("other", "dcos:mesos:master:task:user:root", "create")
    assert iam.is_allowed("other", "dcos:adminrouter:acs", "full")


def test_superuser_read_is_not_superuser(iam: FakeIAM) -> None:
    iam.grant_permission("svc", "dcos:superuser", "read")

    assert not iam.is_allowed("svc", f"{ROLE}:web", "read")


def test_revoke_and_permissions_of(iam: FakeIAM) -> None:
    iam.grant_permission("svc", f"{ROLE}:web", "create", description="the web role")
    iam.grant_permission("svc", f"{ROLE}:web", "read")
    iam.grant_permission("svc", "dcos:mesos:master:task:user:nobody", "create")

    assert iam.permissions_of("svc") == {
        f"{ROLE}:web": frozenset({"create", "read"}),
        "dcos:mesos:master:task:user:nobody": frozenset({"create"}),
    }
    iam.revoke_permission("svc", f"{ROLE}:web", "create")
    iam.revoke_permission("svc", f"{ROLE}:web", "create")  # no error: it is gone already

    assert not iam.is_allowed("svc", f"{ROLE}:web", "create")
    assert iam.permissions_of("svc")[f"{ROLE}:web"] == frozenset({"read"})
    assert iam.acls[f"{ROLE}:web"] == "the web role"


def test_an_existing_acl_keeps_its_description(iam: FakeIAM) -> None:
    # CLI: "If an ACL exists with the given RID then the description will not be overwritten."
    iam.create_acl("dcos:x", "first")
    iam.create_acl("dcos:x", "second")
    iam.grant_permission("svc", "dcos:x", "read", description="third")

    assert iam.acls == {"dcos:x": "first"}


def test_invalid_actions_and_rids_are_value_errors(iam: FakeIAM) -> None:
    with pytest.raises(ValueError, match="action must be one of"):
        iam.grant_permission("svc", "dcos:x", "execute")
    with pytest.raises(ValueError, match="action must be one of"):
        iam.is_allowed("svc", "dcos:x", "Create")
    with pytest.raises(ValueError, match="rid"):
        iam.grant_permission("svc", "", "read")


def test_changes_and_checks_are_recorded_and_reset_keeps_the_acls(iam: FakeIAM, clock: ManualClock) -> None:
    iam.grant_permission("svc", "dcos:x", "read")
    iam.grant_permission("svc", "dcos:x", "read")
    clock.value += 5
    assert iam.is_allowed("svc", "dcos:x:y", "read")

    grant, again, check = iam.acl_events
    assert grant == ACLEvent("grant", "dcos:x", "svc", "read", True, "python", clock.start)
    assert (again.kind, again.result) == ("grant", False)
    assert check == ACLEvent("check", "dcos:x:y", "svc", "read", True, "python", clock.start + 5)

    iam.reset()
    assert iam.acl_events == []
    assert iam.is_allowed("svc", "dcos:x", "read")  # kept, as accounts are
    iam.clear_acls()
    assert not iam.is_allowed("svc", "dcos:x", "read") and iam.acls == {}


def test_removing_an_account_removes_its_grants(iam: FakeIAM, shared_key: rsa.RSAPrivateKey) -> None:
    iam.grant_permission("svc", "dcos:x", "read")
    iam.remove_account("svc")
    iam.add_account("svc", shared_key.public_key())

    assert iam.permissions_of("svc") == {}
    assert iam.acls == {"dcos:x": ""}  # the ACL itself stays


def test_create_superuser_gives_a_token_the_iam_accepts(iam: FakeIAM) -> None:
    token = iam.create_superuser("root-ish")

    assert iam.verify_token(token) == "root-ish"
    assert iam.permissions_of("root-ish") == {"dcos:superuser": frozenset({"full"})}
    assert "root-ish" in iam.accounts


def test_checks_from_many_threads_see_grants_made_meanwhile(iam: FakeIAM) -> None:
    errors: List[BaseException] = []

    def check_forever(stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                iam.is_allowed("svc", f"{ROLE}:r7", "create")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    stop = threading.Event()
    threads = [threading.Thread(target=check_forever, args=(stop,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for n in range(50):
            iam.grant_permission("svc", f"{ROLE}:r{n}", "create")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors
    assert len(iam.permissions_of("svc")) == 50
    assert iam.is_allowed("svc", f"{ROLE}:r7", "create")


# -- the ACL API: ACLs ------------------------------------------------------------------------------------


def test_put_creates_an_acl_once(admin: Api) -> None:
    assert admin.call("PUT", "/acls/dcos:x", {"description": "X"})[::2] == (201, b"")

    status, code, description = error_code(admin, "PUT", "/acls/dcos:x", {"description": "again"})
    assert (status, code) == (409, "ERR_ACL_EXISTS")
    assert "dcos:x" in description
    assert admin.json("GET", "/acls/dcos:x") == (
        200,
        {"rid": "dcos:x", "description": "X", "url": "/acs/api/v1/acls/dcos:x"},
    )


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        ({}, "'description' is a required property"),
        ({"description": 1}, "1 is not of type 'string'"),
        ({"description": "d", "x": 1}, "Additional properties are not allowed ('x' was unexpected)"),
        ([], "[] is not of type 'object'"),
    ],
)
def test_an_acl_body_is_checked_as_bouncer_checks_schemas(admin: Api, body: Any, hint: str) -> None:
    # utils.gen_jsonvalidator: title "Bad Request", no code.
    status, payload = admin.json("PUT", "/acls/dcos:x", body)
    assert (status, payload) == (400, {"title": "Bad Request", "description": f"Unexpected JSON input. Hint: {hint}"})


def test_an_acl_put_without_a_body_is_bouncers_400(admin: Api) -> None:
    status, payload = admin.json("PUT", "/acls/dcos:x")
    assert (status, payload["description"]) == (400, "Request has bad Content-Type or lacks JSON data")


def test_list_update_and_delete_acls(admin: Api, iam: FakeIAM) -> None:
    iam.create_acl("dcos:a", "A")
    iam.create_acl(SLASHED, "slashed")

    status, listed = admin.json("GET", "/acls")
    assert status == 200
    assert {"rid": SLASHED, "description": "slashed", "url": f"/acs/api/v1/acls/{SLASHED_IN_URL}"} in listed["array"]
    assert admin.call("PATCH", "/acls/dcos:a", {"description": "A2"})[0] == 204
    assert iam.acls["dcos:a"] == "A2"
    assert admin.call("DELETE", f"/acls/{SLASHED_IN_URL}")[0] == 204
    assert SLASHED not in iam.acls
    status, code, description = error_code(admin, "DELETE", f"/acls/{SLASHED_IN_URL}")
    assert (status, code, description) == (
        400,
        "ERR_UNKNOWN_RESOURCE_ID",
        f"Protected resource with rid `{SLASHED}` not known.",
    )


def test_an_unknown_acl_is_a_400_with_bouncers_code(admin: Api) -> None:
    # The DC/OS bootstrap IAM client tests for an ACL by GET and this code.
    status, payload = admin.json("GET", "/acls/dcos:nothing")
    assert status == 400
    assert payload == {
        "title": "400 Bad Request",
        "description": "Protected resource with rid `dcos:nothing` not known.",
        "code": "ERR_UNKNOWN_RESOURCE_ID",
    }


def test_slashes_in_a_rid_are_written_as_percent_252f(admin: Api, iam: FakeIAM) -> None:
    assert admin.call("PUT", f"/acls/{SLASHED_IN_URL}", {"description": "d"})[0] == 201
    assert SLASHED in iam.acls
    # Decoded once, %2F is a '/' before routing: no route (falcon's 404, no body).
    assert admin.call("GET", "/acls/dcos:mesos:master:framework:role:slave_public%2Fkafka-role")[::2] == (404, b"")


# -- the ACL API: grants -----------------------------------------------------------------------------------


def test_grant_check_and_revoke_over_https(admin: Api, iam: FakeIAM) -> None:
    base = f"/acls/{SLASHED_IN_URL}/users/svc"
    admin.call("PUT", f"/acls/{SLASHED_IN_URL}", {"description": "d"})

    assert admin.call("PUT", f"{base}/create")[::2] == (204, b"")
    assert iam.is_allowed("svc", SLASHED, "create")
    assert admin.json("GET", f"{base}/create") == (200, {"allowed": True})
    assert admin.json("GET", f"{base}/delete") == (200, {"allowed": False})
    assert error_code(admin, "PUT", f"{base}/create")[:2] == (409, "ERR_PERMISSION_EXISTS")
    assert admin.call("DELETE", f"{base}/create")[0] == 204
    assert admin.json("GET", f"{base}/create") == (200, {"allowed": False})
    assert error_code(admin, "DELETE", f"{base}/create") == (
        400,
        "ERR_USER_NOT_IN_ACL",
        f"User `svc` is not part of ACL for resource `{SLASHED}`",
    )
    events = [(e.kind, e.rid, e.uid, e.action, e.result) for e in iam.acl_events if e.via == "http"]
    assert ("grant", SLASHED, "svc", "create", True) in events
    assert ("revoke", SLASHED, "svc", "create", True) in events
    assert ("check", SLASHED, "svc", "delete", False) in events


def test_the_check_endpoint_follows_full_and_prefixes(admin: Api, iam: FakeIAM) -> None:
    iam.grant_permission("svc", ROLE, "full")
    iam.create_acl(f"{ROLE}:web")

    assert admin.json("GET", f"/acls/{ROLE}:web/users/svc/create") == (200, {"allowed": True})


def test_revoking_an_action_not_granted_is_action_not_yet_stored(admin: Api, iam: FakeIAM) -> None:
    iam.grant_permission("svc", "dcos:x", "read")

    assert error_code(admin, "DELETE", "/acls/dcos:x/users/svc/update") == (
        400,
        "ERR_ACTION_NOT_YET_STORED",
        "Action `update` unknown for user `svc` in ACL for resource `dcos:x`",
    )


def test_all_entities_must_exist_when_creating_a_permission(admin: Api, iam: FakeIAM) -> None:
    assert error_code(admin, "PUT", "/acls/dcos:nothing/users/svc/read")[:2] == (400, "ERR_UNKNOWN_RESOURCE_ID")
    iam.create_acl("dcos:x")
    assert error_code(admin, "PUT", "/acls/dcos:x/users/nobody-here/read") == (
        400,
        "ERR_UNKNOWN_USER_ID",
        "User with uid `nobody-here` not known.",
    )
    assert error_code(admin, "PUT", "/acls/dcos:x/users/svc/execute")[:2] == (400, "ERR_INVALID_ACTION")
    assert error_code(admin, "PUT", "/acls/dcos:x/groups/ops/read")[:2] == (400, "ERR_UNKNOWN_GROUP_ID")
    assert iam.permissions_of("svc") == {}


def test_the_actions_of_one_account_on_one_rid(admin: Api, iam: FakeIAM) -> None:
    iam.grant_permission("svc", SLASHED, "read")
    iam.grant_permission("svc", SLASHED, "create")
    url = f"/acs/api/v1/acls/{SLASHED_IN_URL}/users/svc"

    assert admin.json("GET", f"/acls/{SLASHED_IN_URL}/users/svc") == (
        200,
        {"array": [{"name": "create", "url": f"{url}/create"}, {"name": "read", "url": f"{url}/read"}]},
    )
    assert admin.json("GET", f"/acls/{SLASHED_IN_URL}/users/other") == (200, {"array": []})
    assert admin.call("DELETE", f"/acls/{SLASHED_IN_URL}/users/svc")[0] == 204
    assert iam.permissions_of("svc") == {}
    assert error_code(admin, "DELETE", f"/acls/{SLASHED_IN_URL}/users/svc")[:2] == (400, "ERR_USER_NOT_IN_ACL")


def test_all_grantees_of_a_rid(admin: Api, iam: FakeIAM) -> None:
    iam.grant_permission("svc", "dcos:x", "full")
    iam.grant_permission("other", "dcos:x", "read")

    assert admin.json("GET", "/acls/dcos:x/permissions") == (
        200,
        {
            "users": [
                {
                    "uid": "svc",
                    "userurl": "/acs/api/v1/users/svc",
                    "actions": [{"name": "full", "url": "/acs/api/v1/acls/dcos:x/users/svc/full"}],
                },
                {
                    "uid": "other",
                    "userurl": "/acs/api/v1/users/other",
                    "actions": [{"name": "read", "url": "/acs/api/v1/acls/dcos:x/users/other/read"}],
                },
            ],
            "groups": [],
        },
    )


def test_the_permissions_of_an_account(admin: Api, iam: FakeIAM) -> None:
    iam.grant_permission("svc", SLASHED, "create", description="kafka on public agents")

    status, headers, body = admin.call("GET", "/users/svc/permissions")

    assert status == 200 and headers["Content-Type"] == "application/json; charset=utf-8"
    payload = json.loads(body)
    assert body == (json.dumps(payload, indent=2) + "\n").encode()  # RequestMiddleware.process_response
    assert payload == {
        "direct": [
            {
                "rid": SLASHED,
                "description": "kafka on public agents",
                "aclurl": f"/acs/api/v1/acls/{SLASHED_IN_URL}",
                "actions": [{"name": "create", "url": f"/acs/api/v1/acls/{SLASHED_IN_URL}/users/svc/create"}],
            }
        ],
        "groups": [],
    }
    assert error_code(admin, "GET", "/users/ghost/permissions")[:2] == (400, "ERR_UNKNOWN_USER_ID")


def test_falcon_answers_other_methods(admin: Api) -> None:
    status, headers, body = admin.call("POST", "/acls", {"description": "d"})
    assert (status, headers["Allow"], body) == (405, "GET, OPTIONS", b"")
    status, headers, _ = admin.call("OPTIONS", "/acls/dcos:x/users/svc/read")
    assert (status, headers["Allow"]) == (200, "DELETE, GET, PUT")


# -- who may call ------------------------------------------------------------------------------------------


def test_without_a_valid_token_admin_router_answers_401(iam: FakeIAM, ca: TestCA, clock: ManualClock) -> None:
    api = Api(iam, ca, None)
    status, headers, body = api.call("GET", "/acls")
    assert (status, headers["WWW-Authenticate"], headers["Content-Type"]) == (401, "acsjwt", "text/html; charset=UTF-8")
    assert b"<title>Unauthorized</title>" in body

    expired = iam.issue_token("svc", lifetime=60)
    clock.value += 61
    assert api.call("GET", "/acls", token=expired)[0] == 401
    assert api.call("GET", "/acls", token="not-a-jwt")[0] == 401
    event = iam.events[-1]
    assert (event.status, event.reason, event.path) == (401, "unauthenticated", "/acs/api/v1/acls")


def test_an_account_without_iam_permission_gets_admin_routers_403(iam: FakeIAM, ca: TestCA) -> None:
    api = Api(iam, ca, iam.issue_token("svc"))

    status, headers, body = api.call("PUT", "/acls/dcos:x", {"description": "d"})

    assert (status, headers["Content-Type"]) == (403, "text/html; charset=UTF-8")
    assert b"<title>Access Denied</title>" in body
    assert "dcos:x" not in iam.acls
    event = iam.events[-1]
    assert (event.status, event.reason, event.uid) == (403, "forbidden", "svc")


def test_adminrouter_acs_full_opens_the_iam_api(iam: FakeIAM, ca: TestCA) -> None:
    iam.grant_permission("svc", "dcos:adminrouter:acs", "full")
    api = Api(iam, ca, iam.issue_token("svc"))

    assert api.call("PUT", "/acls/dcos:x", {"description": "d"})[0] == 201
    assert api.call("PUT", "/acls/dcos:x/users/other/read")[0] == 204
    assert (
        api.call("GET", "/acls", headers={"Authorization": f"Bearer {api.token}"})[0] == 200
    )  # Admin Router's fallback


def test_an_account_reads_its_own_permissions_unless_switched_off(iam: FakeIAM, ca: TestCA) -> None:
    iam.grant_permission("svc", "dcos:x", "read")
    api = Api(iam, ca, iam.issue_token("svc"))

    status, payload = api.json("GET", "/users/svc/permissions")
    assert status == 200 and [entry["rid"] for entry in payload["direct"]] == ["dcos:x"]
    assert api.call("GET", "/users/other/permissions")[0] == 403
    assert api.call("GET", "/acls/dcos:x/permissions")[0] == 403

    iam.account_reads_own_permissions = False
    assert api.call("GET", "/users/svc/permissions")[0] == 403


def test_a_revoked_token_or_a_removed_account_is_a_401(iam: FakeIAM, ca: TestCA) -> None:
    token = iam.create_superuser("temp-admin")
    api = Api(iam, ca, token)
    assert api.call("GET", "/acls")[0] == 200

    iam.revoke_tokens("temp-admin")
    assert api.call("GET", "/acls")[0] == 401
    fresh = iam.issue_token("temp-admin", lifetime=3600)
    iam.remove_account("temp-admin")
    assert api.call("GET", "/acls", token=fresh)[0] == 401


# -- through the cluster URL (the fake Admin Router) -----------------------------------------------------


def test_the_acl_api_through_the_cluster_url(ca: TestCA) -> None:
    with FakeCluster("strict", tls=ca) as cluster:
        cluster.iam.create_account("svc")
        admin_token = cluster.iam.create_superuser()
        parts = cluster.url.split("://", 1)[1].rsplit(":", 1)

        def call(method: str, path: str, token: str, body: Optional[Dict[str, str]] = None) -> Tuple[int, bytes]:
            connection = http.client.HTTPSConnection(parts[0], int(parts[1]), timeout=30, context=ca.client_context())
            try:
                headers = {"Authorization": f"token={token}", "Content-Type": "application/json"}
                data = json.dumps(body).encode() if body is not None else None
                connection.request(method, "/acs/api/v1" + path, body=data, headers=headers)
                response = connection.getresponse()
                return response.status, response.read()
            finally:
                connection.close()

        assert call("PUT", f"/acls/{SLASHED_IN_URL}", admin_token, {"description": "d"})[0] == 201
        assert call("PUT", f"/acls/{SLASHED_IN_URL}/users/svc/create", admin_token)[0] == 204
        own = cluster.iam.issue_token("svc")
        status, body = call("GET", "/users/svc/permissions", own)
        assert status == 200 and json.loads(body)["direct"][0]["rid"] == SLASHED
        assert call("GET", "/acls", own)[0] == 403
        assert cluster.iam.is_allowed("svc", SLASHED, "create")
