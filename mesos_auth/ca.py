"""Where the CA bundle that verifies the cluster's certificates comes from.

DC/OS puts its CA bundle at ``/run/dcos/pki/CA/ca-bundle.crt`` on cluster nodes
and at ``$MESOS_SANDBOX/.ssl/ca-bundle.crt`` inside a task (DC/OS 1.10+). No
DC/OS variable names it, so ``MESOS_AUTH_CA_BUNDLE`` is our own convention.
Order: explicit argument, our variable, the task location, the node location,
else the system's trust store. A bundle that is named but unusable is an error,
never a silent fall-through to the next place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Union

from mesos_auth.errors import CABundleError

CA_BUNDLE_ENV = "MESOS_AUTH_CA_BUNDLE"
NODE_CA_BUNDLE = "/run/dcos/pki/CA/ca-bundle.crt"
SANDBOX_CA_BUNDLE = os.path.join(".ssl", "ca-bundle.crt")
SYSTEM_TRUST_STORE = "the system trust store"


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
    candidate = Path(text_path)
    if not candidate.exists():
        raise CABundleError(text_path, source, "does not exist")
    if not candidate.is_file():
        raise CABundleError(text_path, source, "is not a file")
    try:
        head = candidate.read_bytes()
    except OSError as exc:
        raise CABundleError(text_path, source, f"cannot be read ({exc.strerror})") from None
    if b"-----BEGIN CERTIFICATE-----" not in head:
        raise CABundleError(text_path, source, "holds no PEM certificate")
    return CABundle(text_path, source)


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
