"""Where the CA bundle that verifies the cluster's certificates comes from.

DC/OS puts its CA bundle at ``/run/dcos/pki/CA/ca-bundle.crt`` on cluster nodes
and at ``$MESOS_SANDBOX/.ssl/ca-bundle.crt`` inside a task (DC/OS 1.10+). No
DC/OS variable names it, so ``MESOS_AUTH_CA_BUNDLE`` is our own convention.
Order: explicit argument, our variable, the task location, the node location,
else the system's trust store. A bundle that is named but unusable is an error,
never a silent fall-through to the next place; so is one over 16 MiB, refused
before it is read.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Mapping, Optional, Union

from mesos_auth.account import path_problem
from mesos_auth.errors import CABundleError

CA_BUNDLE_ENV = "MESOS_AUTH_CA_BUNDLE"
NODE_CA_BUNDLE = "/run/dcos/pki/CA/ca-bundle.crt"
SANDBOX_CA_BUNDLE = os.path.join(".ssl", "ca-bundle.crt")
SYSTEM_TRUST_STORE = "the system trust store"
#: Largest CA bundle accepted: the system's own (every public CA) is a few hundred kilobytes.
MAX_CA_BUNDLE_SIZE = 16 << 20
_PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
_CHUNK = 64 << 10


@dataclass(frozen=True)
class CABundle:
    """A resolved trust anchor: a file, or (``path is None``) the system store."""

    path: Optional[str]
    source: str

    @property
    def verify(self) -> Union[str, bool]:
        """The value for requests' ``verify=``: never ``False``."""
        return self.path if self.path else True

    def __str__(self) -> str:
        return f"{self.path} (from {self.source})" if self.path else SYSTEM_TRUST_STORE


CABundleLike = Union[CABundle, str, "os.PathLike[str]", None]


def _checked(path: Union[str, os.PathLike[str]], source: str) -> CABundle:
    text_path = os.fspath(path)
    problem = path_problem(text_path, pem_hint="give the path of the CA certificate file, not its content")
    if problem is not None:  # never quoted: it may be a pasted key
        raise CABundleError(problem, source, "cannot be a file path")
    try:
        if not stat.S_ISREG(os.stat(text_path).st_mode):  # before open(): a FIFO would block it
            raise CABundleError(text_path, source, "is not a file")
        with open(text_path, "rb") as handle:
            status = os.fstat(handle.fileno())
            if status.st_size > MAX_CA_BUNDLE_SIZE:
                raise CABundleError(
                    text_path,
                    source,
                    f"is {status.st_size} bytes, more than the {MAX_CA_BUNDLE_SIZE} bytes (16 MiB) a CA bundle may be",
                )
            found = _holds_certificate(handle)
    except FileNotFoundError:
        raise CABundleError(text_path, source, "does not exist") from None
    except IsADirectoryError:
        raise CABundleError(text_path, source, "is not a file") from None
    except OSError as exc:
        raise CABundleError(text_path, source, f"cannot be read ({exc.strerror})") from None
    if not found:
        raise CABundleError(text_path, source, "holds no PEM certificate")
    return CABundle(text_path, source)


def _holds_certificate(handle: BinaryIO) -> bool:
    """Whether a PEM certificate starts within the first ``MAX_CA_BUNDLE_SIZE`` bytes, read in chunks.

    Stops at the first certificate, so a large bundle is not held in memory.
    """
    tail = b""
    remaining = MAX_CA_BUNDLE_SIZE
    while remaining > 0:
        chunk = handle.read(min(_CHUNK, remaining))
        if not chunk:
            return False
        remaining -= len(chunk)
        window = tail + chunk
        if _PEM_CERTIFICATE in window:
            return True
        tail = window[-(len(_PEM_CERTIFICATE) - 1) :]
    return False


def resolve_ca_bundle(
    explicit: CABundleLike = None,
    *,
    environ: Optional[Mapping[str, str]] = None,
    node_bundle: Union[str, os.PathLike[str]] = NODE_CA_BUNDLE,
) -> CABundle:
    """Find the CA bundle to verify the IAM's and the master's certificates with."""
    if isinstance(explicit, CABundle):
        return explicit
    if explicit is not None:
        return _checked(explicit, "arguments")
    env = os.environ if environ is None else environ
    if env.get(CA_BUNDLE_ENV, "").strip():
        return _checked(env[CA_BUNDLE_ENV].strip(), f"${CA_BUNDLE_ENV}")
    sandbox = env.get("MESOS_SANDBOX", "").strip()
    if sandbox:
        in_task = Path(sandbox) / SANDBOX_CA_BUNDLE
        if in_task.is_file():
            return _checked(in_task, "the task sandbox ($MESOS_SANDBOX/.ssl)")
    if Path(node_bundle).is_file():
        return _checked(node_bundle, "the DC/OS node")
    return CABundle(None, SYSTEM_TRUST_STORE)
