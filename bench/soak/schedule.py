"""The fault schedule: which fault, when, for how long, with what, all from one seed.

``make_schedule(seed, count, settings)`` draws everything from ``random.Random(seed)``
and nothing else, so a seed names one schedule exactly (its :func:`digest` is printed
with the seed). What the drivers do meanwhile is real concurrency and is not
replayed to the millisecond: a replay runs the same faults in the same order at the
same planned times, against the same cluster layout.

Arrivals are a Poisson process (``settings.rate`` faults a second). A fault with a
duration (a silent or downed master, a slow IAM, a shifted IAM clock) holds a
*group*: the next fault of that group is planned after it ends, so two of them never
overlap (two clock shifts would add up beyond the login token's life; two
``go_down()`` of one master would end at the first ``come_up()``). Faults of
different groups, and one-shot faults, overlap freely: several are in flight at once.

Most faults are cheap (a 401, a revoked token, a failed login, a dropped stream), so
that ten thousand of them fit in minutes; a leader failover comes every so often.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

__all__ = ["KINDS", "Fault", "Kind", "Settings", "digest", "make_schedule"]

#: Seconds between the end of one grouped fault and the planned start of the next of its group.
GROUP_GAP = 0.05


@dataclass(frozen=True)
class Settings:
    """What the schedule depends on besides the seed (the cluster's timings and size)."""

    frameworks: int = 2
    rate: float = 20.0
    heartbeat_interval: float = 0.2
    missed_heartbeats: int = 3
    token_lifetime: float = 120.0


@dataclass(frozen=True)
class Fault:
    """One planned fault. ``at`` and ``duration`` in seconds from the start of the chaos."""

    index: int
    kind: str
    at: float
    duration: float = 0.0
    params: Mapping[str, Any] = field(default_factory=dict)
    group: Optional[str] = None

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        held = f" for {self.duration:.2f} s" if self.duration else ""
        return f"#{self.index} {self.kind}({args}) at {self.at:.2f} s{held}"


Params = Tuple[Dict[str, Any], float]  # (params, duration)


@dataclass(frozen=True)
class Kind:
    """A kind of fault: how often (``weight``), its group (None: one-shot, overlaps all), its draw."""

    weight: float
    draw: Callable[[random.Random, Settings], Params]
    group: Optional[str] = None
    what: str = ""


def _unauthorized(rng: random.Random, s: Settings) -> Params:
    # Mostly one 401 (the driver refreshes the token and resends once); sometimes two in a
    # row, which can fail one call for good or hit one SUBSCRIBE twice.
    return {"n": 1 if rng.random() < 0.8 else 2}, 0.0


def _revoke(rng: random.Random, s: Settings) -> Params:
    return {"framework": rng.randrange(s.frameworks)}, 0.0


def _iam_unavailable(rng: random.Random, s: Settings) -> Params:
    return {"n": rng.randint(1, 2)}, 0.0


def _iam_slow(rng: random.Random, s: Settings) -> Params:
    # Shorter than the driver's silence window (a slow login holds the stream's thread).
    return {"seconds": round(rng.uniform(0.05, 0.4), 3)}, round(rng.uniform(0.1, 0.6), 3)


def _expire(rng: random.Random, s: Settings) -> Params:
    # Beyond the auth token's lifetime, well within the login token's (180 s): every token
    # issued before is expired for the master, and logins still work.
    return {"seconds": s.token_lifetime + 5.0}, round(rng.uniform(0.1, 0.5), 3)


def _silence(rng: random.Random, s: Settings) -> Params:
    # Half of them outlast the driver's window (missed_heartbeats intervals): it gives the
    # stream up and re-subscribes; the shorter ones must be sat out without a re-subscription.
    window = s.heartbeat_interval * s.missed_heartbeats
    return {}, round(rng.uniform(0.5 * window, 1.5 * window), 3)


def _restart(rng: random.Random, s: Settings) -> Params:
    return {}, round(rng.uniform(0.05, 0.3), 3)


def _none(rng: random.Random, s: Settings) -> Params:
    return {}, 0.0


#: Every kind of fault, by name (``faults.ACTIONS`` has the same names).
KINDS: Dict[str, Kind] = {
    "unauthorized": Kind(8, _unauthorized, what="the leader answers the next n calls (not SUBSCRIBE) with 401"),
    "unauthorized_subscribe": Kind(1, _none, what="the leader answers the next SUBSCRIBE with 401"),
    "revoke": Kind(3, _revoke, what="the IAM revokes every token of one framework's account"),
    "iam_unavailable": Kind(4, _iam_unavailable, what="the IAM answers the next n logins with 503"),
    "rescind": Kind(10, _none, what="the leader rescinds every outstanding offer"),
    "drop": Kind(3, _none, what="the leader drops every event stream"),
    "iam_slow": Kind(4, _iam_slow, group="iam-latency", what="the IAM holds every login a while"),
    "expire": Kind(1, _expire, group="iam-clock", what="the IAM's clock jumps past every token's expiry"),
    "silence": Kind(1, _silence, group="silence", what="the leader writes nothing (no heartbeats) for a while"),
    "restart": Kind(2, _restart, group="restart", what="the leader refuses connections, then comes back"),
    "failover": Kind(1, _none, what="the leader dies in ZooKeeper; the next master leads"),
}


def make_schedule(
    seed: int, count: int, settings: Settings, weights: Optional[Mapping[str, float]] = None
) -> List[Fault]:
    """``count`` faults drawn from ``random.Random(seed)``, in the order they start.

    ``weights`` (kind -> weight) replaces the kinds' own; a kind weighted 0 is left out.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    if settings.rate <= 0:
        raise ValueError("rate must be positive")
    chosen = {name: (weights or {}).get(name, kind.weight) for name, kind in KINDS.items()}
    unknown = set(weights or {}) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown fault kinds: {', '.join(sorted(unknown))}")
    names = [name for name, weight in chosen.items() if weight > 0]
    if not names:
        raise ValueError("every fault kind is weighted 0")
    rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
    free_at: Dict[str, float] = {}
    drawn: List[Tuple[float, int, str, Dict[str, Any], float, Optional[str]]] = []
    arrival = 0.0
    for number in range(count):
        arrival += rng.expovariate(settings.rate)
        name = rng.choices(names, weights=[chosen[n] for n in names])[0]
        kind = KINDS[name]
        params, duration = kind.draw(rng, settings)
        at = arrival
        if kind.group is not None:
            at = max(arrival, free_at.get(kind.group, 0.0))
            free_at[kind.group] = at + duration + GROUP_GAP
        drawn.append((round(at, 4), number, name, params, duration, kind.group))
    drawn.sort(key=lambda item: (item[0], item[1]))
    return [
        Fault(index=i, kind=name, at=at, duration=duration, params=params, group=group)
        for i, (at, _, name, params, duration, group) in enumerate(drawn)
    ]


def digest(schedule: List[Fault]) -> str:
    """A short fingerprint of a schedule: equal for equal seeds and settings."""
    text = "\n".join(f"{f.index} {f.kind} {f.at!r} {f.duration!r} {sorted(f.params.items())!r}" for f in schedule)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
