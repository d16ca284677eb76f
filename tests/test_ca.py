"""CA bundle resolution: argument, our variable, task sandbox, node, system store."""

from __future__ import annotations

from pathlib import Path

import pytest

import mesos_auth.ca
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


def test_a_bundle_over_16_mib_is_refused_unread(tmp_path, mocker) -> None:
    from mesos_auth.ca import MAX_CA_BUNDLE_SIZE

    path = tmp_path / "huge.crt"
    with path.open("wb") as handle:
        handle.truncate(MAX_CA_BUNDLE_SIZE + 1)  # sparse: nothing on disk unless read
    scan = mocker.spy(mesos_auth.ca, "_holds_certificate")
    with pytest.raises(CABundleError, match=r"is 16777217 bytes, more than the 16777216 bytes \(16 MiB\)"):
        resolve_ca_bundle(str(path))
    assert scan.call_count == 0


def test_the_pem_check_reads_at_most_the_cap(tmp_path, mocker) -> None:
    from mesos_auth.ca import MAX_CA_BUNDLE_SIZE

    path = tmp_path / "no-cert.crt"
    with path.open("wb") as handle:
        handle.truncate(MAX_CA_BUNDLE_SIZE)  # exactly the cap, and no certificate in it
    sizes = []
    real_open = open

    def recording_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if str(file) == str(path):
            real_read = handle.read

            def read(size=-1):
                assert size is not None and 0 < size <= MAX_CA_BUNDLE_SIZE  # never "all of it"
                data = real_read(size)
                sizes.append(len(data))
                return data

            handle.read = read
        return handle

    mocker.patch("builtins.open", recording_open)
    with pytest.raises(CABundleError, match="holds no PEM certificate"):
        resolve_ca_bundle(str(path))
    assert sum(sizes) <= MAX_CA_BUNDLE_SIZE


def test_a_certificate_across_a_chunk_boundary_is_found(ca, tmp_path) -> None:
    from mesos_auth.ca import _CHUNK

    path = tmp_path / "bundle.crt"
    path.write_bytes(b"#" * (_CHUNK - 10) + Path(ca.ca_bundle).read_bytes())
    assert resolve_ca_bundle(str(path)).path == str(path)


def test_a_pem_given_instead_of_a_path_is_described(ca, tmp_path) -> None:
    text = Path(ca.ca_bundle).read_text()
    with pytest.raises(CABundleError, match="holds PEM data") as caught:
        resolve_ca_bundle(text)
    assert text.splitlines()[1] not in str(caught.value)


def test_a_too_long_bundle_path_is_a_ca_bundle_error(tmp_path) -> None:
    with pytest.raises(CABundleError, match="too long for a path"):
        resolve_ca_bundle(environ={CA_BUNDLE_ENV: "/" + "x" * 5000}, node_bundle=tmp_path / "n")
    with pytest.raises(CABundleError, match="cannot be read"):
        resolve_ca_bundle("/".join(["\u00e9" * 200] * 10))
