"""Files that hold a private key: written with their mode from the first byte, read within limits.

- :func:`mesos_auth._files.write_file` sets the mode with ``fchmod`` on the open
  descriptor, never by path and never left to the umask, on both its paths;
- the test CA writes its server key the same way (0600 from creation), and a
  ``TestCA`` made without a directory leaves nothing behind (``FakeCluster``'s
  own directory: ``tests/testing/test_fake_cluster.py``);
- secret, key and CA bundle files too large to be one are refused before they
  are read: shown here in a child process whose address space could not hold them.
"""

from __future__ import annotations

import gc
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from mesos_auth._files import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, write_file
from mesos_auth.errors import ConfigurationError
from mesos_auth.testing import TestCA
from tests.hostile.memory import run_limited


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def umask() -> Iterator[Any]:
    """Set a umask for the test; the previous one comes back after it."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


# --------------------------------------------------------------------------
# write_file: the mode is set on the descriptor
# --------------------------------------------------------------------------


@pytest.mark.parametrize("force", [False, True])
def test_the_mode_is_set_on_the_descriptor_never_by_path(tmp_path: Path, mocker: Any, force: bool) -> None:
    chmod = mocker.spy(os, "chmod")
    fchmod = mocker.spy(os, "fchmod")
    target = tmp_path / "key.pem"
    if force:
        target.write_text("old")

    write_file(target, b"secret", mode=PRIVATE_FILE_MODE, force=force)

    assert chmod.call_count == 0
    assert [call.args[1] for call in fchmod.call_args_list] == [PRIVATE_FILE_MODE]
    assert mode_of(target) == 0o600 and target.read_bytes() == b"secret"


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize(("mask", "mode"), [(0o077, PUBLIC_FILE_MODE), (0o000, PRIVATE_FILE_MODE), (0o022, 0o640)])
def test_the_umask_does_not_change_the_mode_asked_for(
    tmp_path: Path, umask: Any, force: bool, mask: int, mode: int
) -> None:
    target = tmp_path / "file"
    umask(mask)
    write_file(target, b"data", mode=mode, force=force)
    assert mode_of(target) == mode


def test_the_mode_is_set_before_the_first_byte(tmp_path: Path, mocker: Any) -> None:
    """The data is written only once fchmod has run: no moment where it sits under another mode."""
    events: List[str] = []
    real_fchmod, real_fdopen = os.fchmod, os.fdopen

    def fchmod(fd: int, mode: int) -> None:
        events.append(f"fchmod {oct(mode)}")
        real_fchmod(fd, mode)

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        handle = real_fdopen(fd, *args, **kwargs)
        real_write = handle.write

        def write(data: bytes) -> int:
            events.append("write")
            return real_write(data)

        handle.write = write
        return handle

    mocker.patch("os.fchmod", fchmod)
    mocker.patch("os.fdopen", fdopen)
    for force in (False, True):
        events.clear()
        write_file(tmp_path / f"f{force}", b"x", mode=0o600, force=force)
        assert events == ["fchmod 0o600", "write"]


def test_a_planted_symlink_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("mine")
    os.chmod(victim, 0o644)
    link = tmp_path / "key.pem"
    link.symlink_to(victim)

    with pytest.raises(ConfigurationError, match="already exists"):
        write_file(link, b"secret", mode=PRIVATE_FILE_MODE, force=False)
    write_file(link, b"secret", mode=PRIVATE_FILE_MODE, force=True)  # replaces the link itself

    assert victim.read_text() == "mine" and mode_of(victim) == 0o644
    assert not link.is_symlink() and link.read_bytes() == b"secret" and mode_of(link) == 0o600


def test_a_failed_write_leaves_no_file(tmp_path: Path, mocker: Any) -> None:
    mocker.patch("os.fsync", side_effect=OSError(28, "No space left on device"))
    for force in (False, True):
        with pytest.raises(OSError, match="No space"):
            write_file(tmp_path / "key.pem", b"secret", mode=PRIVATE_FILE_MODE, force=force)
        assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# The test CA's files, and what is left behind
# --------------------------------------------------------------------------


def test_the_server_key_is_0600_from_creation(tmp_path: Path, mocker: Any, umask: Any) -> None:
    umask(0o000)  # a careless umask: the key must not come out world-readable, even for a moment
    opened = mocker.spy(os, "open")
    chmod = mocker.spy(os, "chmod")
    ca = TestCA(tmp_path / "ca")

    _, key = ca.issue_server_certificate(prefix="srv")

    assert mode_of(Path(key)) == 0o600
    assert chmod.call_count == 0
    # Through write_file with force: a temporary created 0600 by mkstemp, renamed over the key.
    temporaries = [call for call in opened.call_args_list if ".srv.key." in str(call.args[0])]
    assert temporaries and all(call.args[2] == 0o600 for call in temporaries)
    ca.issue_server_certificate(prefix="srv")  # a second issue replaces the key, still 0600
    assert mode_of(Path(key)) == 0o600


def test_a_test_ca_without_a_directory_removes_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ca = TestCA()
    ca.server_context()  # writes the server key
    assert ca.owns_directory and any(ca.directory.glob("*.key"))

    ca.cleanup()
    ca.cleanup()  # idempotent

    assert list(tmp_path.iterdir()) == []


def test_a_test_ca_as_a_context_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with TestCA() as ca:
        ca.server_context()
        assert Path(ca.ca_bundle).is_file()
    assert list(tmp_path.iterdir()) == []


def test_a_forgotten_test_ca_is_removed_when_collected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ca = TestCA()
    ca.server_context()
    del ca
    gc.collect()
    assert list(tmp_path.iterdir()) == []


def test_a_given_directory_is_left_alone(tmp_path: Path) -> None:
    with TestCA(tmp_path / "ca") as ca:
        ca.server_context()
    assert not ca.owns_directory
    assert (tmp_path / "ca" / "ca-bundle.crt").is_file() and (tmp_path / "ca" / "server.key").is_file()


def test_a_fake_server_with_a_ca_of_its_own_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FakeIAM(tls=True) makes a TestCA() of its own; stopped and dropped, its keys go with it."""
    from mesos_auth.testing import FakeIAM

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with FakeIAM(tls=True) as iam:
        assert iam.ca is not None and any(iam.ca.directory.glob("*.key"))
    del iam
    gc.collect()
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# Files too large to be a secret, a key or a CA bundle: refused unread
# --------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_huge_files_are_refused_without_being_read(tmp_path: Path) -> None:
    """A 4 GiB secret, key file and CA bundle (sparse) in a child that could not hold even one of them."""
    huge = tmp_path / "huge"
    with huge.open("wb") as handle:
        handle.truncate(4 << 30)
    result = run_limited(
        f"""
        def main():
            from mesos_auth import ServiceAccount, resolve_ca_bundle
            from mesos_auth.errors import CABundleError, CredentialError
            said = []
            for attempt in (
                lambda: ServiceAccount.from_file({str(huge)!r}),
                lambda: ServiceAccount.from_key_file("svc", {str(huge)!r}, "https://m/acs/api/v1/auth/login"),
                lambda: resolve_ca_bundle({str(huge)!r}),
            ):
                try:
                    attempt()
                except (CredentialError, CABundleError) as error:
                    said.append(type(error).__name__ + ": " + str(error))
            return said
        """,
        limit_mib=512,
        timeout=80,
    )
    assert result.outcome == "returned", result.message
    assert result.facts["value"].count("4294967296 bytes, more than") == 3
    assert result.peak_mib < 400
