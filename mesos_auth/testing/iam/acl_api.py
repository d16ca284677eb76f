"""The IAM's ACL API under ``/acs/api/v1``: create ACLs, grant, revoke, check, list permissions.

The API is DC/OS Enterprise's (the DC/OS docs' ``ent-iam.yaml``, the same paths
from 1.10 to 2.2; dcos/client-go ``openapi/dcos.yaml``); open-source dcos/bouncer
has no ACL code, but it has what the ACL code answers with, and the fake uses
exactly that:

- URLs as ``bouncer/app/urlbuild.py`` builds them, with ``/acs/api/v1`` and every
  ``/`` of a rid written ``%252F`` (``acl``, ``user_action``, ``user``);
- a rid in the path decoded as ``utils.rid_slash_decoder`` does: the WSGI layer
  percent-decodes the path once (``%252F`` -> ``%2F``), then ``%2F`` -> ``/``; a
  single-encoded ``%2F`` is a ``/`` before routing, so that path has no route (404);
- errors as ``bouncer/app/errors.py`` raises them (falcon 1.4.1 JSON, title
  ``400 Bad Request``): ``raise_protectedresource_not_found`` (400
  ``ERR_UNKNOWN_RESOURCE_ID``), ``raise_user_not_found`` (400 ``ERR_UNKNOWN_USER_ID``),
  ``raise_group_not_found``, ``raise_user_not_in_acl``, ``raise_user_action_not_in_acl``;
  "all entities must exist when creating a permission" (DC/OS docs, perms-management);
- bodies through ``utils.gen_jsonvalidator`` (``ACLCreate``/``ACLUpdate``: an object
  with a string ``description``, nothing else) and ``RequestMiddleware`` (indented JSON).

Who may call (DC/OS docs, iam-api: "All IAM endpoints require an authentication
token and the ``dcos:superuser`` permission---except the ``auth`` endpoints";
perms reference: ``dcos:adminrouter:acs`` full "Controls access to the Identity
and Access Management API"). That check is Admin Router's, before Bouncer sees the
request, so it answers as dcos/dcos ``packages/adminrouter/extra/src/lib/auth/common.lua``
does: no valid token is ``exit_401`` (the 401 page, ``WWW-Authenticate: acsjwt``, as
the fake router's), no permission ``exit_403`` (``errorpages/403.html``, text/html).
(unverified) Enterprise Admin Router's authorization Lua is not public: that it
refuses with ``exit_403``, and that an account may read its own
``/users/<uid>/permissions`` (a separate Admin Router location in the docs'
``nginx.master.yaml``; ``FakeIAM(account_reads_own_permissions=...)``), are the
fake's reading.

Groups: the fake has none, so every gid is unknown (400 ``ERR_UNKNOWN_GROUP_ID``)
and ``groups`` lists are empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple, Union
from urllib.parse import unquote

from mesos_auth.testing._server import Request, Response
from mesos_auth.testing.errors import TokenRejected
from mesos_auth.testing.iam.acls import ACS_RID, ACTIONS, ACLStore
from mesos_auth.testing.iam.login import LoginOutcome
from mesos_auth.testing.iam.wire import (
    BAD_REQUEST_TITLE,
    default_options,
    falcon_error,
    json_answer,
    method_not_allowed,
    read_request_json,
)

__all__ = ["FORBIDDEN_PAGE", "PREFIX", "ACLApi", "ACLRoute", "acl_url", "match_route", "user_action_url"]

PREFIX = "/acs/api/v1"

#: dcos/dcos packages/adminrouter/extra/src/errorpages/403.html, sent by ``exit_403`` (``ngx.say`` adds a newline).
FORBIDDEN_PAGE = """<!DOCTYPE html>

<html>
<head>
  <title>Access Denied</title>
  <noscript><meta http-equiv="refresh" content="5; url=/#/access-denied"></noscript>
</head>
<script>
  (function () {
    var userCookieKey = "dcos-acs-info-cookie";
    var location = window.location;

    function tryDecode(str, decode) {
      try {
        return decode(str);
      } catch (e) {
        return str;
      }
    }

    function parse(str, options) {
      if (typeof str !== 'string') {
        throw new TypeError('argument str must be a string');
      }

      var obj = {}
      var pairs = str.split(/; */);

      pairs.forEach(function(pair) {
        var eq_idx = pair.indexOf('=')

        // skip things that don't look like key=value
        if (eq_idx < 0) {
          return;
        }

        var key = pair.substr(0, eq_idx).trim()
        var val = pair.substr(++eq_idx, pair.length).trim();

        // quoted values
        if ('"' == val[0]) {
          val = val.slice(1, -1);
        }

        // only assign once
        if (undefined == obj[key]) {
          obj[key] = tryDecode(val, decodeURIComponent);
        }
      });

      return obj;
    }

    function getUserMetadata() {
      return parse(window.document.cookie)[userCookieKey];
    }

    function isLoggedIn() {
      return !!getUserMetadata();
    }

    if (isLoggedIn()) {
      location.href = "/#/access-denied"
      return;
    }

    location.href = "/#/login?redirect=" + encodeURIComponent(location.href);
  }())
</script>
<body>
  <h1>Access Denied</h1>
</body>
</html>
"""

_BAD = "400 Bad Request"
#: The route templates (after ``/acs/api/v1``): ``{x}`` is one path segment; and their methods.
_TEMPLATES: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("acls", ("GET",)),
    ("acls/{rid}", ("DELETE", "GET", "PATCH", "PUT")),
    ("acls/{rid}/permissions", ("GET",)),
    ("acls/{rid}/users/{uid}", ("DELETE", "GET")),
    ("acls/{rid}/users/{uid}/{action}", ("DELETE", "GET", "PUT")),
    ("acls/{rid}/groups/{gid}", ("DELETE", "GET")),
    ("acls/{rid}/groups/{gid}/{action}", ("DELETE", "GET", "PUT")),
    ("users/{uid}/permissions", ("GET",)),
)


def _encoded(rid: str) -> str:
    return rid.replace("/", "%252F")


def acl_url(rid: str) -> str:
    """``urlbuild.acl``: the ACL's URL, ``/`` in the rid written ``%252F``."""
    return f"{PREFIX}/acls/{_encoded(rid)}"


def user_action_url(rid: str, uid: str, action: str) -> str:
    """``urlbuild.user_action``."""
    return f"{PREFIX}/acls/{_encoded(rid)}/users/{uid}/{action}"


def _user_url(uid: str) -> str:
    return f"{PREFIX}/users/{uid}"  # urlbuild.user


@dataclass(frozen=True)
class ACLRoute:
    """A path of the ACL API: its template, the decoded parameters, the methods it has."""

    template: str
    params: Dict[str, str]
    methods: Tuple[str, ...]


def match_route(path: str) -> Optional[ACLRoute]:
    """The ACL API route of a raw request path, or None.

    The path is percent-decoded once (the WSGI server's ``PATH_INFO``), a trailing
    slash is dropped (falcon 1.4's ``strip_url_path_trailing_slash``), and a rid's
    ``%2F`` becomes ``/`` (``rid_slash_decoder``).
    """
    if not path.startswith(PREFIX + "/"):
        return None
    decoded = unquote(path[len(PREFIX) + 1 :], encoding="utf-8", errors="replace")
    if decoded.endswith("/"):
        decoded = decoded[:-1]
    segments = decoded.split("/")
    for template, methods in _TEMPLATES:
        parts = template.split("/")
        if len(parts) != len(segments) or any(not segment for segment in segments):
            continue
        params: Dict[str, str] = {}
        for part, segment in zip(parts, segments):
            if part.startswith("{"):
                params[part[1:-1]] = segment
            elif part != segment:
                break
        else:
            if "rid" in params:
                params["rid"] = params["rid"].replace("%2F", "/")
            return ACLRoute(template, params, methods)
    return None


class ACLApi:
    """Answers the ACL API for one FakeIAM.

    ``verify`` checks an authentication token and returns its uid (raising
    TokenRejected); ``accounts`` gives the uids that exist; ``now`` the IAM's
    clock; ``self_read`` whether an account may read its own permissions.
    """

    def __init__(
        self,
        store: ACLStore,
        verify: Callable[[str], str],
        accounts: Callable[[], FrozenSet[str]],
        now: Callable[[], float],
        self_read: Callable[[], bool],
    ) -> None:
        self._store = store
        self._verify = verify
        self._accounts = accounts
        self._now = now
        self._self_read = self_read

    def answer(self, request: Request, route: ACLRoute) -> LoginOutcome:
        """Admin Router's check, then Bouncer's middleware, routing and handler, in that order."""
        caller = self._caller(request)
        if isinstance(caller, LoginOutcome):
            return caller
        if not self._may_call(caller, route):
            answer = Response(403, (FORBIDDEN_PAGE + "\n").encode(), [("Content-Type", "text/html; charset=UTF-8")])
            cause = f"`{caller}` has neither {ACS_RID} full nor dcos:superuser full"
            return LoginOutcome(answer, "forbidden", cause, caller)
        data = read_request_json(request)
        if isinstance(data, Response):
            return LoginOutcome(data, "bad-request", "Bouncer's request middleware refused the request", caller)
        if request.method == "OPTIONS":
            return LoginOutcome(default_options(route.methods), "bad-request", "OPTIONS", caller)
        if request.method not in route.methods:
            return LoginOutcome(method_not_allowed(route.methods), "bad-request", "no such responder", caller)
        outcome = self._handle(request, route, data)
        return LoginOutcome(outcome.answer, outcome.reason, outcome.cause, caller)

    # -- Admin Router ----------------------------------------------------------------------------------

    def _caller(self, request: Request) -> Union[str, LoginOutcome]:
        # Imported here: the router package imports this one (FakeRouter fronts a FakeIAM).
        from mesos_auth.testing.router.auth import presented_token, unauthorized

        token, _ = presented_token(request.headers)
        if token is None:
            return LoginOutcome(unauthorized(), "unauthenticated", "no authentication token")
        try:
            return self._verify(token)
        except TokenRejected as rejected:
            return LoginOutcome(unauthorized(), "unauthenticated", f"authentication token refused: {rejected.reason}")

    def _may_call(self, caller: str, route: ACLRoute) -> bool:
        if self._store.is_allowed(caller, ACS_RID, "full", via="http", at=0.0, record=False):
            return True  # dcos:superuser full is allowed everything, this too
        own = route.template == "users/{uid}/permissions" and route.params["uid"] == caller
        return own and self._self_read()

    # -- Bouncer's handlers ----------------------------------------------------------------------------

    def _handle(self, request: Request, route: ACLRoute, data: Any) -> LoginOutcome:
        params, method, template = route.params, request.method, route.template
        if template == "acls":
            listed = [_acl_obj(rid, description) for rid, description in self._store.acls()]
            return _ok(json_answer(200, {"array": listed}))
        if template == "users/{uid}/permissions":
            return self._user_permissions(request, params["uid"])
        rid = params["rid"]
        if template == "acls/{rid}":
            return self._acl(request, method, rid, data)
        description = self._store.description(rid)
        if description is None:
            return _unknown(request, f"Protected resource with rid `{rid}` not known.", "ERR_UNKNOWN_RESOURCE_ID")
        if template == "acls/{rid}/permissions":
            users = [
                {"uid": uid, "userurl": _user_url(uid), "actions": _action_objs(rid, uid, actions)}
                for uid, actions in self._store.grantees(rid)
            ]
            return _ok(json_answer(200, {"users": users, "groups": []}))
        if "gid" in params:
            return _unknown(request, f"Group with gid `{params['gid']}` not known.", "ERR_UNKNOWN_GROUP_ID")
        uid = params["uid"]
        if uid not in self._accounts():
            return _unknown(request, f"User with uid `{uid}` not known.", "ERR_UNKNOWN_USER_ID")
        if template == "acls/{rid}/users/{uid}":
            return self._user_actions(request, method, rid, uid)
        return self._user_action(request, method, rid, uid, params["action"])

    def _acl(self, request: Request, method: str, rid: str, data: Any) -> LoginOutcome:
        if method in ("PUT", "PATCH"):
            problem = _description_problem(request, data)
            if problem is not None:
                return LoginOutcome(problem, "bad-request", "the body is no ACLCreate/ACLUpdate object")
        if method == "PUT":
            if not self._store.create(rid, data["description"], "http", self._now()):
                # (unverified) wording, in users.py's style; the code is in client-go's IAMErrorCode.
                conflict = falcon_error(
                    request, 409, "409 Conflict", f"ACL for resource `{rid}` already exists.", "ERR_ACL_EXISTS"
                )
                return LoginOutcome(conflict, "conflict", f"the ACL of {rid} exists")
            return _ok(Response(201, b""))
        known = (
            self._store.update(rid, data["description"], "http", self._now())
            if method == "PATCH"
            else self._store.delete(rid, "http", self._now())
            if method == "DELETE"
            else self._store.description(rid) is not None
        )
        if not known:
            # (unverified) client-go's spec lists 404 for DELETE; errors.py's raiser is a 400.
            return _unknown(request, f"Protected resource with rid `{rid}` not known.", "ERR_UNKNOWN_RESOURCE_ID")
        if method == "GET":
            return _ok(json_answer(200, _acl_obj(rid, self._store.description(rid) or "")))
        return _ok(Response(204, b""))

    def _user_actions(self, request: Request, method: str, rid: str, uid: str) -> LoginOutcome:
        actions = self._store.actions_of(uid, rid)
        if method == "GET":  # (unverified) an account without grants here gets an empty list, not an error
            return _ok(json_answer(200, {"array": _action_objs(rid, uid, actions)}))
        if not actions:
            return _unknown(request, f"User `{uid}` is not part of ACL for resource `{rid}`", "ERR_USER_NOT_IN_ACL")
        self._store.revoke(uid, rid, None, "http", self._now())
        return _ok(Response(204, b""))

    def _user_action(self, request: Request, method: str, rid: str, uid: str, action: str) -> LoginOutcome:
        if action not in ACTIONS:
            # (unverified) wording; the code is in client-go's IAMErrorCode.
            text = f"Invalid action `{action}`: must be one of {', '.join(ACTIONS)}."
            return LoginOutcome(falcon_error(request, 400, _BAD, text, "ERR_INVALID_ACTION"), "bad-request", text)
        now = self._now()
        if method == "GET":
            allowed = self._store.is_allowed(uid, rid, action, via="http", at=now)
            return _ok(json_answer(200, {"allowed": allowed}))  # utils.gen_allowed_obj
        if method == "PUT":
            if not self._store.grant(uid, rid, action, "", "http", now):
                # (unverified) wording; ent-iam (client-go) documents the 409, the code is ERR_PERMISSION_EXISTS.
                text = f"Action `{action}` on resource `{rid}` is already granted to user `{uid}`."
                return LoginOutcome(
                    falcon_error(request, 409, "409 Conflict", text, "ERR_PERMISSION_EXISTS"), "conflict", text
                )
            return _ok(Response(204, b""))
        held = self._store.actions_of(uid, rid)
        if not held:
            return _unknown(request, f"User `{uid}` is not part of ACL for resource `{rid}`", "ERR_USER_NOT_IN_ACL")
        if action not in held:
            text = f"Action `{action}` unknown for user `{uid}` in ACL for resource `{rid}`"
            return _unknown(request, text, "ERR_ACTION_NOT_YET_STORED")
        self._store.revoke(uid, rid, action, "http", now)
        return _ok(Response(204, b""))

    def _user_permissions(self, request: Request, uid: str) -> LoginOutcome:
        if uid not in self._accounts():
            return _unknown(request, f"User with uid `{uid}` not known.", "ERR_UNKNOWN_USER_ID")
        direct = [
            {
                "rid": rid,
                "description": self._store.description(rid) or "",
                "aclurl": acl_url(rid),
                "actions": _action_objs(rid, uid, actions),
            }
            for rid, actions in self._store.permissions_of(uid).items()
        ]
        return _ok(json_answer(200, {"direct": direct, "groups": []}))


def _ok(answer: Response) -> LoginOutcome:
    return LoginOutcome(answer, "ok", "ok")


def _unknown(request: Request, description: str, code: str) -> LoginOutcome:
    return LoginOutcome(falcon_error(request, 400, _BAD, description, code), "unknown-entity", description)


def _acl_obj(rid: str, description: str) -> Dict[str, str]:
    return {"rid": rid, "description": description, "url": acl_url(rid)}  # utils.gen_acl_obj


def _action_objs(rid: str, uid: str, actions: FrozenSet[str]) -> List[Dict[str, str]]:
    # utils.gen_action_obj_user; (unverified) listed in the order create, read, update, delete, full.
    return [{"name": action, "url": user_action_url(rid, uid, action)} for action in ACTIONS if action in actions]


def _description_problem(request: Request, data: Any) -> Optional[Response]:
    """``gen_jsonvalidator('ACLCreate')`` (and ``ACLUpdate``, the same schema), jsonschema 2.6's first error.

    (unverified) The keyword order (type, required, properties,
    additionalProperties) is that of the published spec.
    """
    if data is None:
        return falcon_error(request, 400, BAD_REQUEST_TITLE, "Request has bad Content-Type or lacks JSON data")
    problem: Optional[str] = None
    if not isinstance(data, dict):
        problem = f"{data!r} is not of type 'object'"
    elif "description" not in data:
        problem = "'description' is a required property"
    elif not isinstance(data["description"], str):
        problem = f"{data['description']!r} is not of type 'string'"
    else:
        extras = [key for key in data if key != "description"]
        if extras:
            names = ", ".join(repr(key) for key in extras)
            problem = (
                f"Additional properties are not allowed ({names} {'was' if len(extras) == 1 else 'were'} unexpected)"
            )
    if problem is None:
        return None
    return falcon_error(request, 400, BAD_REQUEST_TITLE, f"Unexpected JSON input. Hint: {problem}")
