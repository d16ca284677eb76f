"""Making outside text safe to show: in an exception, a log line, or on stderr.

Two kinds of text reach our messages from outside:

- what a server says (an IAM's error description, a master's refusal, a
  ``Location`` header): it may be huge, hold terminal escape sequences, or echo a
  token back at us. :func:`server_text` caps it, escapes control characters and
  removes anything shaped like a JWT;
- URLs the user gave: ``https://user:password@host/`` must not print the
  password. :func:`safe_url` drops the userinfo (and is :func:`server_text` too,
  since a URL may come from a ``Location`` header).

Both are pure functions of a string, so every message path can afford them.
"""

from __future__ import annotations

import re
from typing import Union

#: Characters of server text kept in a message; the rest is counted, not shown.
SERVER_TEXT_LIMIT = 300
#: A JWT (or JWS): three base64url segments, the first two long enough to be one.
_JWT = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
_REMOVED = "<token removed>"
#: ``scheme://`` or ``//``, then userinfo up to the last ``@`` of the authority.
_USERINFO = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)[^/?#]*@")
#: How much of a URL is looked at; a longer one is cut before it is parsed.
_URL_WINDOW = 65536
#: C0 and C1 controls, DEL, and the Unicode line and bidi controls a terminal honours
#: (the inside of a regular-expression class, shared with the path check of accounts).
CONTROL_CHARACTERS = "\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def server_text(text: Union[str, bytes, None], limit: int = SERVER_TEXT_LIMIT) -> str:
    """``text`` from a server, fit for a message: no tokens, no controls, at most ``limit`` characters."""
    if text is None:
        return ""
    total = len(text)
    # Look at a bounded window only: a huge text costs the same as a short one.
    window = text[: limit * 4]
    if isinstance(window, (bytes, bytearray)):
        window = bytes(window).decode("utf-8", "replace")
    cleaned = _CONTROL.sub(_escape, _JWT.sub(_REMOVED, window)).strip()
    hidden = total - min(total, limit * 4)
    if len(cleaned) > limit:
        hidden += len(cleaned) - limit
        cleaned = cleaned[:limit]
    if hidden > 0:
        cleaned += f"\u2026 ({hidden} more characters)"
    return cleaned


def safe_url(url: Union[str, bytes, None], limit: int = SERVER_TEXT_LIMIT) -> str:
    """``url`` without ``user:password@``, and as :func:`server_text`."""
    if url is None:
        return ""
    if isinstance(url, (bytes, bytearray)):
        url = bytes(url[:_URL_WINDOW]).decode("utf-8", "replace")
    return server_text(_USERINFO.sub(r"\1***@", url[:_URL_WINDOW]), limit)
