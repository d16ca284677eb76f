"""The fake IAM's clock offset and token lifetime, as the test set them."""

from __future__ import annotations

import threading

__all__ = ["Settings", "check_lifetime"]


class Settings:
    """The fake's clock offset and token lifetime; thread-safe, :meth:`reset` restores the constructor's."""

    def __init__(self, token_lifetime: float) -> None:
        self._lock = threading.Lock()
        self._initial_lifetime = token_lifetime
        self._token_lifetime = token_lifetime
        self._clock_offset = 0.0

    @property
    def clock_offset(self) -> float:
        with self._lock:
            return self._clock_offset

    def shift(self, seconds: float) -> None:
        with self._lock:
            self._clock_offset += seconds

    @property
    def token_lifetime(self) -> float:
        with self._lock:
            return self._token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: float) -> None:
        with self._lock:
            self._token_lifetime = seconds

    def reset(self) -> None:
        with self._lock:
            self._token_lifetime = self._initial_lifetime
            self._clock_offset = 0.0


def check_lifetime(seconds: float) -> None:
    """ValueError unless ``seconds`` is a positive finite number (not a bool)."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 < seconds < float("inf"):
        raise ValueError("token_lifetime must be a positive number of seconds")
