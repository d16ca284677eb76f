"""The fake master's agents and the scalar resources it offers, takes back and filters.

Only the three scalars every agent has (``cpus``, ``mem``, ``disk``) are tracked:
enough for offers, launches and the return of resources to be followed exactly,
without modelling ports, GPUs or reservations (a known gap, noted in the master).
Amounts are kept to three decimals, as Mesos keeps scalars in fixed point, so that
repeated subtraction never leaves 0.09999999 cpus behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

SCALARS = ("cpus", "mem", "disk")

#: Mesos' default ``--min_allocatable_resources`` is ``cpus:0.01|mem:32``: an agent
#: with less than both free is not offered.
_MIN_CPUS = 0.01
_MIN_MEM = 32.0


def _fixed(amount: float) -> float:
    return round(float(amount), 3)


class Resources:
    """An immutable bag of named scalar amounts (``{"cpus": 1.0, "mem": 128.0}``)."""

    __slots__ = ("_amounts",)

    def __init__(self, amounts: Optional[Mapping[str, float]] = None) -> None:
        cleaned: Dict[str, float] = {}
        for name, amount in (amounts or {}).items():
            fixed = _fixed(amount)
            if fixed > 0:
                cleaned[name] = fixed
        self._amounts = cleaned

    @classmethod
    def from_json(cls, resources: Iterable[Mapping[str, Any]]) -> Resources:
        """Sum the SCALAR entries of a JSON resource list; other kinds are not tracked."""
        amounts: Dict[str, float] = {}
        for resource in resources:
            if not isinstance(resource, Mapping) or resource.get("type", "SCALAR") != "SCALAR":
                continue
            name = resource.get("name")
            scalar = resource.get("scalar") or {}
            if not isinstance(name, str) or not isinstance(scalar, Mapping):
                continue
            try:
                amount = float(scalar.get("value", 0.0))
            except (TypeError, ValueError):
                continue
            amounts[name] = amounts.get(name, 0.0) + amount
        return cls(amounts)

    def to_json(self, role: str = "*") -> List[Dict[str, Any]]:
        """The JSON resource list of an offer: unreserved (role ``*``) scalars."""
        return [
            {"name": name, "type": "SCALAR", "scalar": {"value": amount}, "role": role}
            for name, amount in sorted(self._amounts.items(), key=lambda item: _order(item[0]))
        ]

    def as_dict(self) -> Dict[str, float]:
        return dict(self._amounts)

    def get(self, name: str) -> float:
        return self._amounts.get(name, 0.0)

    def __add__(self, other: Resources) -> Resources:
        """The sum, names in first-seen order (as Mesos' ``Resources::operator+=`` appends)."""
        names = list(self._amounts) + [name for name in other._amounts if name not in self._amounts]
        return Resources({name: self.get(name) + other.get(name) for name in names})

    def __sub__(self, other: Resources) -> Resources:
        """Subtraction that never goes below zero (callers check ``contains`` first)."""
        return Resources({name: self.get(name) - other.get(name) for name in self._amounts})

    def contains(self, other: Resources) -> bool:
        """True when every amount of ``other`` fits in this bag."""
        return all(self.get(name) >= amount for name, amount in other._amounts.items())

    def names(self) -> List[str]:
        return list(self._amounts)

    def describe(self, role: str) -> str:
        """Mesos' ``operator<<(ostream&, const Resources&)`` of these resources allocated to ``role``.

        ``cpus(allocated: *):0.5; mem(allocated: *):128``, or ``{}`` when empty
        (``src/common/resources.cpp``); scalars with 15 significant digits
        (``src/common/values.cpp``). The resources of an ACCEPT carry the offer's
        allocation role by then (``Master::accept``: ``injectAllocationInfo``).
        """
        if not self._amounts:
            return "{}"
        return "; ".join(f"{name}(allocated: {role}):{amount:.15g}" for name, amount in self._amounts.items())

    def is_empty(self) -> bool:
        return not self._amounts

    def allocatable(self) -> bool:
        return self.get("cpus") >= _MIN_CPUS or self.get("mem") >= _MIN_MEM

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resources) and self._amounts == other._amounts

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._amounts.items())))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}: {amount:g}" for name, amount in sorted(self._amounts.items()))
        return f"Resources({inner})"


def _order(name: str) -> int:
    return SCALARS.index(name) if name in SCALARS else len(SCALARS)


@dataclass(frozen=True)
class AgentSpec:
    """The size of one fake agent. The defaults are a small cloud instance."""

    cpus: float = 4.0
    mem: float = 8192.0
    disk: float = 16384.0
    hostname: Optional[str] = None

    def resources(self) -> Resources:
        return Resources({"cpus": self.cpus, "mem": self.mem, "disk": self.disk})


AgentsOption = Union[int, Sequence[Union[AgentSpec, Mapping[str, Any]]]]


def agent_specs(option: AgentsOption) -> List[AgentSpec]:
    """Normalise the ``agents`` argument: a count of default agents or a list of specs."""
    if isinstance(option, bool):
        raise TypeError("agents must be a count or a list of agent specs")
    if isinstance(option, int):
        if option < 0:
            raise ValueError("agents must not be negative")
        return [AgentSpec() for _ in range(option)]
    specs: List[AgentSpec] = []
    for spec in option:
        if isinstance(spec, AgentSpec):
            specs.append(spec)
        elif isinstance(spec, Mapping):
            unknown = set(spec) - {"cpus", "mem", "disk", "hostname"}
            if unknown:
                raise ValueError(f"unknown agent spec keys: {sorted(unknown)}")
            specs.append(AgentSpec(**spec))
        else:
            raise TypeError(f"not an agent spec: {spec!r}")
    return specs


class Agent:
    """One fake agent: what it has, and what is neither offered nor used by a task."""

    def __init__(self, agent_id: str, hostname: str, total: Resources) -> None:
        self.agent_id = agent_id
        self.hostname = hostname
        self.total = total
        self.free = total

    def restore(self) -> None:
        self.free = self.total


@dataclass
class RefuseFilter:
    """A framework refused these resources on this agent until ``expires_at``.

    As Mesos' ``RefusedOfferFilter``: it blocks an offer only when the refused
    resources contain the whole offer, so resources freed meanwhile (a finished
    task) make the agent worth offering again before the filter expires.
    """

    agent_id: str
    resources: Resources
    expires_at: float

    def blocks(self, agent_id: str, offered: Resources, now: float) -> bool:
        return agent_id == self.agent_id and now < self.expires_at and self.resources.contains(offered)
