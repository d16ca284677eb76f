"""``mesos_auth.permissions``: the canonical set, Mesos' role rules and every refusal text of both families.

The refusal texts are built here exactly as Apache Mesos builds them (the master.cpp
and authorization.cpp lines each test names), so a change of a pattern that stops
matching a real text fails here.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from mesos_auth.errors import ConfigurationError
from mesos_auth.permissions import (
    InvalidRoleError,
    Permission,
    covers,
    framework_roles,
    is_granted,
    parse_refusal,
    permission_for_refusal,
    permissions_for_refusal,
    required_permissions,
    task_user,
    validate_role,
)

M = "dcos:mesos:master"
ONE_ROLE: Dict[str, Any] = {"name": "fw", "user": "nobody", "role": "my-role", "principal": "svc"}
MULTI: Dict[str, Any] = {
    "name": "fw",
    "user": "nobody",
    "roles": ["b", "slave_public/b"],
    "capabilities": [{"type": "MULTI_ROLE"}],
    "principal": "svc",
}

CANONICAL_SIX = [
    (f"{M}:framework:role:my-role", "create"),
    (f"{M}:task:user:nobody", "create"),
    (f"{M}:reservation:role:my-role", "create"),
    (f"{M}:volume:role:my-role", "create"),
    (f"{M}:reservation:principal:svc", "delete"),
    (f"{M}:volume:principal:svc", "delete"),
]


def pairs(permissions: List[Permission]) -> List[tuple]:
    return [(p.rid, p.action) for p in permissions]


# --------------------------------------------------------------------------
# Permission
# --------------------------------------------------------------------------


def test_grant_command_and_iam_paths_of_a_refined_role() -> None:
    permission = Permission(f"{M}:framework:role:slave_public/kafka-role", "create", "why")
    assert permission.grant_command("svc") == (
        f"dcos security org users grant svc {M}:framework:role:slave_public/kafka-role create"
    )
    assert permission.acl_path() == f"/acs/api/v1/acls/{M}:framework:role:slave_public%252Fkafka-role"
    assert permission.grant_path("svc") == permission.acl_path() + "/users/svc/create"


def test_grant_command_quotes_for_the_shell_but_not_placeholders() -> None:
    star = Permission(f"{M}:framework:role:*", "create")
    assert star.grant_command("svc") == f"dcos security org users grant svc '{M}:framework:role:*' create"
    assert star.grant_command("<uid>") == f"dcos security org users grant <uid> '{M}:framework:role:*' create"
    assert (
        Permission(f"{M}:volume:principal:<uid>", "delete")
        .grant_command("<uid>")
        .endswith(f"<uid> {M}:volume:principal:<uid> delete")
    )
    assert Permission(f"{M}:task:user:a b", "create").grant_command("x; rm") == (
        f"dcos security org users grant 'x; rm' '{M}:task:user:a b' create"
    )


# --------------------------------------------------------------------------
# required_permissions
# --------------------------------------------------------------------------


def test_canonical_six_for_one_role_as_nobody() -> None:
    assert pairs(required_permissions(ONE_ROLE, reserve=True, volumes=True)) == CANONICAL_SIX


def test_without_reserve_and_volumes_only_role_and_user() -> None:
    assert pairs(required_permissions(ONE_ROLE)) == CANONICAL_SIX[:2]
    assert pairs(required_permissions(ONE_ROLE, reserve=True)) == [CANONICAL_SIX[i] for i in (0, 1, 2, 4)]
    assert pairs(required_permissions(ONE_ROLE, volumes=True)) == [CANONICAL_SIX[i] for i in (0, 1, 3, 5)]


def test_principal_argument_wins_over_the_framework_info() -> None:
    got = pairs(required_permissions(ONE_ROLE, reserve=True, principal="other"))
    assert (f"{M}:reservation:principal:other", "delete") in got


def test_reservations_without_any_principal_are_a_value_error() -> None:
    info = {k: v for k, v in ONE_ROLE.items() if k != "principal"}
    with pytest.raises(ValueError, match="principal"):
        required_permissions(info, reserve=True)
    assert pairs(required_permissions(info)) == CANONICAL_SIX[:2]


def test_multi_role_needs_every_role_and_slashes_stay_literal() -> None:
    got = pairs(required_permissions(MULTI, reserve=True, volumes=True))
    assert got == [
        (f"{M}:framework:role:b", "create"),
        (f"{M}:framework:role:slave_public/b", "create"),
        (f"{M}:task:user:nobody", "create"),
        (f"{M}:reservation:role:b", "create"),
        (f"{M}:reservation:role:slave_public/b", "create"),
        (f"{M}:volume:role:b", "create"),
        (f"{M}:volume:role:slave_public/b", "create"),
        (f"{M}:reservation:principal:svc", "delete"),
        (f"{M}:volume:principal:svc", "delete"),
    ]


def test_default_role_is_star_and_cannot_be_reserved() -> None:
    info = {"user": "root", "principal": "svc"}
    assert pairs(required_permissions(info, reserve=True, volumes=True)) == [
        (f"{M}:framework:role:*", "create"),
        (f"{M}:task:user:root", "create"),
    ]


def test_task_users_added_once_each_after_the_framework_user() -> None:
    got = pairs(required_permissions(ONE_ROLE, task_users=["root", "nobody", "root"]))
    assert got == [(f"{M}:framework:role:my-role", "create"), (f"{M}:task:user:nobody", "create"),
                   (f"{M}:task:user:root", "create")]  # fmt: skip


def test_no_framework_user_no_user_permission() -> None:
    assert pairs(required_permissions({"role": "r"})) == [(f"{M}:framework:role:r", "create")]


def test_every_permission_says_why() -> None:
    for permission in required_permissions(MULTI, reserve=True, volumes=True):
        assert permission.why and "\n" not in permission.why


def test_task_user_follows_mesos_order() -> None:
    framework = {"user": "fw-user"}
    assert task_user({}, framework) == "fw-user"
    assert task_user({"executor": {"command": {"user": "ex"}}}, framework) == "ex"
    assert task_user({"command": {"user": "cmd"}, "executor": {"command": {"user": "ex"}}}, framework) == "cmd"
    assert task_user({"command": {"value": "true"}}, framework) == "fw-user"


# --------------------------------------------------------------------------
# Roles, with Mesos' texts (roles.cpp, validation.cpp)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "text"),
    [
        ("/a", "Role '/a' cannot start with a slash"),
        ("a/", "Role 'a/' cannot end with a slash"),
        ("a//b", "Role 'a//b' cannot contain two adjacent slashes"),
        ("", "Role names cannot be the empty string"),
        ("a/./b", "Role 'a/./b' cannot include '.' as a component"),
        ("..", "Role '..' cannot include '..' as a component"),
        ("a/*", "Role 'a/*' cannot include '*' as a component"),
        ("a/-b", "Role component '-b' is invalid because it starts with a dash"),
        ("a b", "Role component 'a b' is invalid because it contains backspace or whitespace"),
        ("a\x7f", "Role component 'a\x7f' is invalid because it contains backspace or whitespace"),
    ],
)
def test_invalid_roles_with_mesos_texts(role: str, text: str) -> None:
    with pytest.raises(InvalidRoleError) as caught:
        validate_role(role)
    assert str(caught.value) == text
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ConfigurationError)


@pytest.mark.parametrize("role", ["*", "my-role", "slave_public/kafka-role", "a-b/c.d/e_f", "a*b", "x/..y"])
def test_valid_roles(role: str) -> None:
    validate_role(role)


def test_framework_roles_follow_validate_roles() -> None:
    assert framework_roles({}) == ("*",)
    assert framework_roles({"role": "r"}) == ("r",)
    assert framework_roles(MULTI) == ("b", "slave_public/b")
    assert framework_roles({"capabilities": [{"type": "MULTI_ROLE"}]}) == ()
    cases = [
        ({"roles": ["a"]}, "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"),
        (
            {"role": "a", "capabilities": [{"type": "MULTI_ROLE"}]},
            "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable",
        ),
        (
            {"roles": ["a", "a"], "capabilities": [{"type": "MULTI_ROLE"}]},
            "'FrameworkInfo.roles' contains duplicate items: { a }",
        ),
        (
            {"roles": ["a", "b/"], "capabilities": [{"type": "MULTI_ROLE"}]},
            "'FrameworkInfo.roles' contains invalid role: Role 'b/' cannot end with a slash",
        ),
        (
            {"role": "-x"},
            "'FrameworkInfo.role' is not a valid role: Role component '-x' is invalid because it starts with a dash",
        ),
    ]
    for info, text in cases:
        with pytest.raises(InvalidRoleError) as caught:
            framework_roles(info)
        assert str(caught.value) == text


# --------------------------------------------------------------------------
# covers / is_granted: prefix at ':' boundaries, full, superuser
# --------------------------------------------------------------------------


def test_grant_rules() -> None:
    need = Permission(f"{M}:framework:role:slave_public/b", "create")
    assert covers(need.rid, ["create"], need)
    assert covers(need.rid, ["full"], need)
    assert not covers(need.rid, ["read"], need)
    assert covers(f"{M}:framework:role", ["create"], need)
    assert covers(f"{M}:framework", ["full"], need)
    assert not covers(f"{M}:framework:role:slave_public", ["create"], need)  # '/' is no boundary
    assert not covers(f"{M}:framework:ro", ["create"], need)
    assert covers("dcos:superuser", ["full"], need)
    assert not covers("dcos:superuser", ["read"], need)
    assert is_granted(need, {"x": {"create"}, f"{M}:framework:role": {"create"}})
    assert not is_granted(need, {})


# --------------------------------------------------------------------------
# Refusal texts, built as Mesos builds them
# --------------------------------------------------------------------------


def stringify_set(items: List[str]) -> str:
    """stout's stringify(std::set<std::string>): sorted, '{ a, b }'."""
    return "{ " + ", ".join(sorted(set(items))) + " }"


def old_subscribe(roles: List[str]) -> str:  # master.cpp 1a76202:2704 ... e98ced1:2726
    return "Not authorized to use roles '" + stringify_set(roles) + "'"


def new_subscribe(framework_id: str, roles: List[str]) -> str:  # cb6cfe9:2650 + authorization.cpp:405-410
    return "Not authorized to register framework " + framework_id + " with roles " + stringify_set(roles)


def new_object(action: str, value: str, resource: Dict[str, Any]) -> str:  # cb6cfe9:4523 + authorization.cpp:416
    text = json.dumps({"value": value, "resource": resource}, separators=(",", ":"))
    return f"Principal 'svc' no authorized to perform action {action} on object {text}"


RESOURCE = {"name": "disk", "type": "SCALAR", "scalar": {"value": 10.0}, "reservations": [{"role": "x"}]}


@pytest.mark.parametrize("roles", [["my-role"], ["*"], ["b", "a"], ["slave_public/kafka-role", "kafka-role"]])
def test_subscribe_refusals_of_both_families_name_each_role(roles: List[str]) -> None:
    expected = [(f"{M}:framework:role:{role}", "create") for role in sorted(roles)]
    for text in (old_subscribe(roles), new_subscribe("", roles), new_subscribe("abc-0001", roles)):
        refusal = parse_refusal(text)
        assert refusal is not None and refusal.action == "REGISTER_FRAMEWORK", text
        assert pairs(permissions_for_refusal(text, framework_info=ONE_ROLE)) == expected
        first = permission_for_refusal(text, framework_info=ONE_ROLE)
        assert first is not None and (first.rid, first.action) == expected[0]
    assert parse_refusal(new_subscribe("", roles)).framework_id == ""  # type: ignore[union-attr]
    assert parse_refusal(new_subscribe("abc-0001", roles)).framework_id == "abc-0001"  # type: ignore[union-attr]


def test_subscribe_refusal_without_roles_names_nothing() -> None:
    assert parse_refusal(old_subscribe([])) is not None
    assert permission_for_refusal(new_subscribe("", []), framework_info={}) is None


@pytest.mark.parametrize("user", ["nobody", "root", "some.user"])
def test_launch_refusals_of_both_families(user: str) -> None:
    texts = [
        "Not authorized to launch as user '" + user + "'",  # master.cpp 1a76202:4763 ... e98ced1:5563
        "Task 't-1' is not authorized to launch as user '" + user + "'",  # LAUNCH_GROUP 1a76202:4936
        # cb6cfe9:4522-4523 + authorization.cpp:393-402 (RUN_TASK)
        "Principal 'svc' no authorized to launch task t-1 of framework fw-0001 under user '" + user + "'",
        # cb6cfe9:5087 (LAUNCH_GROUP; "to" and "launch" run together upstream)
        "Task 't-1' is not authorized tolaunch task t-1 of framework fw-0001 under user '" + user + "'",
    ]
    for text in texts:
        assert pairs(permissions_for_refusal(text, framework_info=ONE_ROLE)) == [(f"{M}:task:user:{user}", "create")]
    new = parse_refusal(texts[2])
    assert new is not None and (new.task_id, new.framework_id, new.principal) == ("t-1", "fw-0001", "svc")
    group = parse_refusal(texts[3])
    assert group is not None and group.task_group and group.task_id == "t-1"


def test_agent_refusal_names_the_agent_permission() -> None:
    text = "Task 't-1' is not authorized to launch as user 'nobody'"  # slave.cpp 1a76202:2119
    got = permission_for_refusal(text, framework_info=ONE_ROLE, source="SOURCE_SLAVE")
    assert got is not None and (got.rid, got.action) == ("dcos:mesos:agent:task:user:nobody", "create")


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("reserve resources", [(f"{M}:reservation:role:{r}", "create") for r in ("b", "slave_public/b")]),
        ("unreserve resources", [(f"{M}:reservation:principal:svc", "delete")]),
        ("create persistent volumes", [(f"{M}:volume:role:{r}", "create") for r in ("b", "slave_public/b")]),
        ("destroy persistent volumes", [(f"{M}:volume:principal:svc", "delete")]),
        ("create a MOUNT disk", [(f"{M}:mount_disk", "create")]),
        ("create a BLOCK disk", [(f"{M}:block_disk", "create")]),
        ("destroy a MOUNT disk", [(f"{M}:mount_disk", "delete")]),
        ("destroy a BLOCK disk", [(f"{M}:block_disk", "delete")]),
        ("destroy a RAW disk", []),
        ("grow a volume", []),
        ("shrink a volume", []),
    ],
)  # fmt: skip
def test_old_drop_texts(what: str, expected: List[tuple]) -> None:
    # master.cpp 1a76202:4462/4528/4583/4649; 3c4691e:5139/5222/5737/5804
    text = f"Not authorized to {what} as 'svc'"
    assert parse_refusal(text) is not None
    assert pairs(permissions_for_refusal(text, framework_info=MULTI)) == expected


def test_old_drop_texts_with_a_bad_framework_info_name_no_role() -> None:
    text = "Not authorized to reserve resources as 'svc'"
    assert permissions_for_refusal(text, framework_info={"roles": ["a"]}) == []


@pytest.mark.parametrize(
    ("action", "value", "expected"),
    [
        ("RESERVE_RESOURCES", "slave_public/b", (f"{M}:reservation:role:slave_public/b", "create")),
        ("UNRESERVE_RESOURCES", "other-svc", (f"{M}:reservation:principal:other-svc", "delete")),
        ("CREATE_VOLUME", "a/b/c", (f"{M}:volume:role:a/b/c", "create")),
        ("DESTROY_VOLUME", "svc", (f"{M}:volume:principal:svc", "delete")),
        ("CREATE_MOUNT_DISK", "x", (f"{M}:mount_disk", "create")),
        ("DESTROY_BLOCK_DISK", "x", (f"{M}:block_disk", "delete")),
    ],
)
def test_new_drop_texts_name_the_object_value(action: str, value: str, expected: tuple) -> None:
    text = new_object(action, value, RESOURCE)
    refusal = parse_refusal(text)
    assert refusal is not None and (refusal.action, refusal.value) == (action, value)
    assert pairs(permissions_for_refusal(text, framework_info=ONE_ROLE)) == [expected]


def test_new_drop_text_cut_short_still_names_the_value() -> None:
    text = new_object("RESERVE_RESOURCES", "my-role", RESOURCE)[:-20]
    got = permission_for_refusal(text, framework_info=MULTI)
    assert got is not None and got.rid == f"{M}:reservation:role:my-role"


def test_unnamed_objects_and_resize_name_no_permission() -> None:
    for text in (
        "Principal 'svc' no authorized to perform action UNRESERVE_RESOURCES on ANY object",  # authorization.cpp:385
        new_object("RESIZE_VOLUME", "r", RESOURCE),
        new_object("DESTROY_RAW_DISK", "r", RESOURCE),
    ):
        assert parse_refusal(text) is not None
        assert permission_for_refusal(text, framework_info=ONE_ROLE) is None


@pytest.mark.parametrize(
    "text",
    [
        "Authorization failure: timed out",
        "Authorization failure: could not create ObjectApprovers for a framework: x",
        "Failed to authorize principal 'svc' to perform LAUNCH: boom",
        "Authorization of principal 'svc' to reserve resources failed: boom",
        "Roles { x } are not present in master's --roles",
        "Framework is not subscribed",
        "",
    ],
)
def test_other_texts_are_not_refusals(text: str) -> None:
    assert parse_refusal(text) is None
    assert permission_for_refusal(text, framework_info=ONE_ROLE) is None
