"""Errors the fakes raise to each other (not to the code under test)."""


class TokenRejected(Exception):
    """A fake verifier refused an authentication token; ``reason`` says why.

    ``reason`` is one of ``"malformed"``, ``"bad-signature"``, ``"expired"``,
    ``"revoked"``, ``"unknown-account"``. The message never contains the token.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"token rejected ({reason}){': ' + detail if detail else ''}")
