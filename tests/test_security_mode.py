"""SecurityMode and its detection: explicit, our variable, the node's bootstrap config."""

from __future__ import annotations

import json

import pytest

from mesos_auth import ConfigurationError, SecurityMode, SecurityModeError, detect_security_mode
from mesos_auth.security_mode import SECURITY_MODE_ENV


def test_values_are_the_dcos_strings() -> None:
    assert [m.value for m in SecurityMode] == ["disabled", "permissive", "strict"]
    assert SecurityMode("strict") is SecurityMode.STRICT
    assert SecurityMode.STRICT == "strict"
    assert str(SecurityMode.PERMISSIVE) == "permissive"


def test_parse_is_case_insensitive_and_rejects_unknown() -> None:
    assert SecurityMode.parse(" Strict ") is SecurityMode.STRICT
    with pytest.raises(SecurityModeError, match="'paranoid' from arguments") as caught:
        SecurityMode.parse("paranoid")
    assert isinstance(caught.value, ValueError)


def test_properties() -> None:
    assert SecurityMode.STRICT.requires_authentication
    assert not SecurityMode.PERMISSIVE.requires_authentication
    assert SecurityMode.PERMISSIVE.checks_tokens and not SecurityMode.DISABLED.checks_tokens


def test_explicit_wins(tmp_path) -> None:
    config = tmp_path / "bootstrap-config.json"
    config.write_text(json.dumps({"security": "strict"}))
    environ = {SECURITY_MODE_ENV: "permissive"}
    assert detect_security_mode("disabled", environ=environ, bootstrap_config=config) is SecurityMode.DISABLED


def test_environment_before_bootstrap_config(tmp_path) -> None:
    config = tmp_path / "bootstrap-config.json"
    config.write_text(json.dumps({"security": "strict"}))
    environ = {SECURITY_MODE_ENV: "disabled"}
    assert detect_security_mode(environ=environ, bootstrap_config=config) is SecurityMode.DISABLED


def test_bad_environment_value_names_the_variable(tmp_path) -> None:
    with pytest.raises(SecurityModeError, match=SECURITY_MODE_ENV):
        detect_security_mode(environ={SECURITY_MODE_ENV: "on"}, bootstrap_config=tmp_path / "none")


def test_bootstrap_config(tmp_path) -> None:
    config = tmp_path / "bootstrap-config.json"
    config.write_text(json.dumps({"cluster_id": "x", "security": "strict"}))
    assert detect_security_mode(environ={}, bootstrap_config=config) is SecurityMode.STRICT


def test_bootstrap_config_without_the_key_means_permissive(tmp_path) -> None:
    config = tmp_path / "bootstrap-config.json"
    config.write_text("{}")
    assert detect_security_mode(environ={}, bootstrap_config=config) is SecurityMode.PERMISSIVE


def test_broken_bootstrap_config_is_an_error(tmp_path) -> None:
    config = tmp_path / "bootstrap-config.json"
    config.write_text("{not json")
    with pytest.raises(ConfigurationError, match=str(config)):
        detect_security_mode(environ={}, bootstrap_config=config)


def test_nothing_found_means_permissive(tmp_path) -> None:
    assert detect_security_mode(environ={}, bootstrap_config=tmp_path / "absent.json") is SecurityMode.PERMISSIVE


def test_the_mode_comes_with_where_it_came_from(tmp_path) -> None:
    from mesos_auth import resolve_security_mode

    config = tmp_path / "bootstrap-config.json"
    config.write_text(json.dumps({"security": "strict"}))
    missing = tmp_path / "nope.json"
    assert resolve_security_mode("disabled", environ={}) == (SecurityMode.DISABLED, "the security_mode argument")
    assert resolve_security_mode(environ={SECURITY_MODE_ENV: "strict"}, bootstrap_config=missing) == (
        SecurityMode.STRICT,
        "$MESOS_AUTH_SECURITY_MODE",
    )
    assert resolve_security_mode(environ={}, bootstrap_config=config) == (
        SecurityMode.STRICT,
        f"the DC/OS bootstrap config {config}",
    )
    mode, source = resolve_security_mode(environ={}, bootstrap_config=missing)
    assert mode is SecurityMode.PERMISSIVE
    assert source.startswith("the default: neither $MESOS_AUTH_SECURITY_MODE nor ")
    assert "set MESOS_AUTH_SECURITY_MODE in the app definition" in source


def test_the_driver_says_its_mode_and_where_it_came_from(caplog) -> None:
    import logging

    from mesos_auth import Scheduler, create_driver

    with caplog.at_level(logging.INFO, logger="mesos_auth.driver"):
        create_driver(
            Scheduler(), {"user": "nobody", "name": "f"}, "127.0.0.1:5050", environ={SECURITY_MODE_ENV: "disabled"}
        )
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("security mode ")]
    assert lines == ["security mode disabled (from $MESOS_AUTH_SECURITY_MODE)"]
