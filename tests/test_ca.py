"""CA bundle resolution: argument, our variable, task sandbox, node, system store."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesos_auth import CABundleError, resolve_ca_bundle
from mesos_auth.ca import CA_BUNDLE_ENV


def test_explicit_argument_first(ca, tmp_path) -> None:
    bundle = resolve_ca_bundle(ca.ca_bundle, environ={CA_BUNDLE_ENV: "/nope"}, node_bundle=tmp_path / "n")
    assert bundle.path == ca.ca_bundle and bundle.source == "arguments"
    assert bundle.verify == ca.ca_bundle


def test_environment_variable(ca, tmp_path) -> None:
    bundle = resolve_ca_bundle(environ={CA_BUNDLE_ENV: ca.ca_bundle}, node_bundle=tmp_path / "n")
    assert bundle.path == ca.ca_bundle and CA_BUNDLE_ENV in bundle.source


def test_task_sandbox_location(ca, tmp_path) -> None:
    ssl_dir = tmp_path / "sandbox" / ".ssl"
    ssl_dir.mkdir(parents=True)
    (ssl_dir / "ca-bundle.crt").write_bytes(Path(ca.ca_bundle).read_bytes())
    bundle = resolve_ca_bundle(environ={"MESOS_SANDBOX": str(tmp_path / "sandbox")}, node_bundle=tmp_path / "n")
    assert bundle.path == str(ssl_dir / "ca-bundle.crt") and "sandbox" in bundle.source


def test_node_location(ca, tmp_path) -> None:
    bundle = resolve_ca_bundle(environ={}, node_bundle=ca.ca_bundle)
    assert bundle.path == ca.ca_bundle and bundle.source == "the DC/OS node"


def test_system_store_when_nothing_is_found(tmp_path) -> None:
    bundle = resolve_ca_bundle(environ={}, node_bundle=tmp_path / "absent.crt")
    assert bundle.path is None and bundle.verify is True
    assert "system" in str(bundle)


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "does not exist"), (b"not a certificate", "holds no PEM certificate")],
)
def test_named_but_unusable_bundles_are_errors(tmp_path, content, problem) -> None:
    path = tmp_path / "bundle.crt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CABundleError, match=problem) as caught:
        resolve_ca_bundle(str(path))
    assert "ca_bundle" in str(caught.value)
    with pytest.raises(CABundleError, match=CA_BUNDLE_ENV.replace("$", "")):
        resolve_ca_bundle(environ={CA_BUNDLE_ENV: str(path)}, node_bundle=tmp_path / "n")


def test_directory_is_not_a_bundle(tmp_path) -> None:
    with pytest.raises(CABundleError, match="is not a file"):
        resolve_ca_bundle(str(tmp_path))
