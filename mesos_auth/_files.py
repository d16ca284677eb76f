"""Writing files that may hold a private key: created with their mode from the first byte.

Shared by the CLI (keypair, secret) and the fake cluster's secret files.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from mesos_auth.errors import ConfigurationError

#: Mode of files that hold a private key: owner read/write, nobody else anything.
PRIVATE_FILE_MODE = 0o600
#: Mode of files anyone may read (a public key).
PUBLIC_FILE_MODE = 0o644


def write_file(path: Path, data: bytes, *, mode: int, force: bool) -> None:
    """Write ``data`` to ``path``, created with ``mode`` from its first byte.

    Without ``force`` the file is created with ``O_EXCL`` (an existing file, or a
    symlink planted there, is an error). With ``force`` the data goes to a new
    temporary file in the same directory, created 0600 by ``mkstemp``, then
    renamed over the target: an existing file's looser mode is never inherited,
    and a reader never sees a half-written file.

    Either way the mode is set with ``fchmod`` on the open descriptor before a
    byte is written: never by path (between two calls a path can be swapped for a
    symlink to another file), and never left to the umask (which would turn a
    requested 0644 into whatever the caller's umask allows).
    """
    if not force:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
        except FileExistsError:
            raise ConfigurationError(
                f"{path} already exists: choose another name, or pass --force to overwrite it"
            ) from None
        _write_all(fd, data, path, mode, remove_on_error=True)
        return
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        _write_all(fd, data, Path(temporary), mode, remove_on_error=False)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _write_all(fd: int, data: bytes, path: Path, mode: int, *, remove_on_error: bool) -> None:
    """Set ``mode`` on ``fd`` (it owns the descriptor from here), then write, flush and fsync."""
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        if remove_on_error:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise
