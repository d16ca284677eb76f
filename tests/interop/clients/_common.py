"""Helpers the client scripts share; plain Python 3.9, no third-party imports.

The scripts run in the clients' own venvs (``tools/interop_clients.py``), where
neither mesos_auth nor pytest is installed: this module is loaded from the
scripts' own folder.
"""

from __future__ import annotations

import base64
import calendar
import datetime
import json
import os
import sys


def read_config() -> dict:
    """The test's instructions: one JSON object on stdin (secrets never go on argv)."""
    return json.loads(sys.stdin.read())


def write_private_file(path: str, text: str) -> str:
    """Write ``text`` to a new file readable by its owner only (0600), as the clients want key files."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    return path


def unverified_claims(token) -> dict:
    """The claims of a JWT, read without checking it: only its uid and exp are reported."""
    if isinstance(token, bytes):
        token = token.decode("ascii")
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return {name: claims[name] for name in ("uid", "exp") if name in claims}


def report(result: dict) -> None:
    """The result for the test: one JSON object, the last line of stdout."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def record_login_claims(jwt_module) -> list:
    """Wrap ``jwt_module.encode`` so that the claims of every login token made are kept.

    The clients call ``jwt.encode(...)`` through the module at login time, so the
    wrapper sees their login tokens; only the claims are kept, never the token.
    """
    claims: list = []
    encode = jwt_module.encode

    def recording_encode(payload, *args, **kwargs):
        kept = {name: payload[name] for name in ("uid", "exp") if name in payload}
        if isinstance(kept.get("exp"), datetime.datetime):
            # dcoshelpers passes a naive UTC datetime; PyJWT turns it into these seconds.
            kept["exp"] = calendar.timegm(kept["exp"].utctimetuple())
        claims.append(kept)
        return encode(payload, *args, **kwargs)

    jwt_module.encode = recording_encode
    return claims
