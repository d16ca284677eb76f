"""How the fake master makes offers: batch allocation, refuse filters, decline, revive, suppress.

As Mesos' hierarchical allocator (``src/master/allocator/mesos/hierarchical.cpp``):

- offers are made in a batch every ``allocation_interval`` (``--allocation_interval``,
  default 1 s, ``src/master/flags.cpp``), on the master's clock;
- besides, a new or re-activated framework (``addFramework``, ``activateFramework``)
  and a REVIVE (``reviveOffers``) get an allocation at once;
- resources that come back (a DECLINE, the unused rest of an ACCEPT, a finished
  task, a rescinded offer, a framework gone: ``recoverResources``) wait for the
  next batch, so a framework that launches on every offer sees at most one round
  of offers per interval;
- a DECLINE or ACCEPT with ``filters.refuse_seconds`` (default 5 s, the ``Filters``
  proto default) keeps those resources from the framework for
  ``max(allocation_interval, refuse_seconds)``; over 365 days counts as 365 days, a
  negative value as the default, 0 installs no filter (``recoverResources``);
- a filter blocks an offer only while the refused resources contain all of it
  (``RefusedOfferFilter::filter``), so freed resources make an agent worth offering;
- REVIVE clears the framework's filters and lifts SUPPRESS (``reviveRoles``);
  SUPPRESS only stops new offers (``suppressRoles``).

(unverified) Frameworks are tried in registration order, where Mesos' DRF sorter
would pick the smallest share; all free resources of an agent go in one offer.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

from mesos_auth.testing.master import events
from mesos_auth.testing.master.calls import as_list, value_of
from mesos_auth.testing.master.model import FrameworkState, Model, OfferState
from mesos_auth.testing.master.resources import Agent, RefuseFilter, Resources

JSON = Dict[str, Any]

#: ``recoverResources``: longer filters are cut to 365 days.
MAX_REFUSE_SECONDS = 365 * 24 * 3600.0


class Allocator:
    """Offers of one fake master. Call with the master's lock held."""

    def __init__(self, model: Model, *, allocation_interval: float, default_refuse_seconds: float) -> None:
        self._model = model
        self.allocation_interval = float(allocation_interval)
        self._default_refuse_seconds = float(default_refuse_seconds)
        #: Allocation passes so far (Mesos' ``allocator/mesos/allocation_runs`` metric).
        self.runs = 0

    # -- batches ------------------------------------------------------------------------

    def start(self) -> None:
        """Run a batch allocation every interval from now on (until the next reset)."""
        self._model.later(self.allocation_interval, self._batch)

    def _batch(self) -> None:
        self.allocate()
        # The next batch one interval after this one ran, as Mesos' loop of
        # ``after(allocationInterval)``: a clock moved far ahead runs one batch, not many.
        self._model.later(self.allocation_interval, self._batch)

    def allocate(self) -> None:
        """Offer every agent's free resources to the first framework that takes them."""
        model = self._model
        self.runs += 1
        now = model.clock()
        takers = [framework for framework in model.frameworks.values() if framework.takes_offers]
        for framework in model.frameworks.values():
            framework.filters = [f for f in framework.filters if now < f.expires_at]
        batches: Dict[str, List[JSON]] = {}
        for agent in model.agents.values():
            if not agent.free.allocatable():
                continue
            for framework in takers:
                if any(f.blocks(agent.agent_id, agent.free, now) for f in framework.filters):
                    continue
                offer = self._new_offer(framework, agent)
                batches.setdefault(framework.framework_id, []).append(_offer_json(framework, offer, agent))
                break
        for framework_id, offer_list in batches.items():
            model.emit(model.frameworks[framework_id], events.offers(offer_list))

    def _new_offer(self, framework: FrameworkState, agent: Agent) -> OfferState:
        offer_id = f"{self._model.master_id}-O{next(self._model.offer_numbers)}"
        offer = OfferState(offer_id, framework.framework_id, agent.agent_id, agent.free)
        agent.free = Resources()
        self._model.offers[offer_id] = offer
        framework.offer_ids.add(offer_id)
        return offer

    # -- resources coming back -------------------------------------------------------------

    def recover(
        self, framework: Optional[FrameworkState], agent_id: str, resources: Resources, refuse_seconds: float = 0.0
    ) -> None:
        """``recoverResources``: back to the agent, filtered for the framework if asked; no allocation."""
        if resources.is_empty():
            return
        self._model.give_to_agent(agent_id, resources)
        if framework is not None and refuse_seconds > 0:
            seconds = max(self.allocation_interval, refuse_seconds)
            framework.filters.append(RefuseFilter(agent_id, resources, self._model.clock() + seconds))

    def discard_offer(self, offer: OfferState, refuse_seconds: float = 0.0) -> None:
        """``Master::discardOffer``: the offer goes away and its resources are recovered."""
        self._model.offers.pop(offer.offer_id, None)
        framework = self._model.frameworks.get(offer.framework_id)
        if framework is not None:
            framework.offer_ids.discard(offer.offer_id)
        self.recover(framework, offer.agent_id, offer.resources, refuse_seconds)

    def take_offer(self, offer: OfferState) -> Resources:
        """An accepted offer leaves the table; its resources are the ACCEPT's to use."""
        self._model.offers.pop(offer.offer_id, None)
        framework = self._model.frameworks.get(offer.framework_id)
        if framework is not None:
            framework.offer_ids.discard(offer.offer_id)
        return offer.resources

    def return_offers(self, framework: FrameworkState) -> None:
        """A framework that fails over, disconnects or goes away loses its offers (no filter)."""
        for offer_id in sorted(framework.offer_ids):
            offer = self._model.offers.get(offer_id)
            if offer is not None:
                self.discard_offer(offer)
        framework.offer_ids.clear()

    def rescind_offers(self, framework_id: Optional[str] = None) -> int:
        """Take back outstanding offers (all, or one framework's), with RESCIND events."""
        count = 0
        for offer in list(self._model.offers.values()):
            if framework_id is not None and offer.framework_id != framework_id:
                continue
            self._model.emit(self._model.frameworks[offer.framework_id], events.rescind(offer.offer_id))
            self.discard_offer(offer)
            count += 1
        return count

    def refuse_seconds(self, filters: Any) -> float:
        """``filters.refuse_seconds`` as ``recoverResources`` reads it (see the module text)."""
        if not isinstance(filters, dict) or "refuse_seconds" not in filters:
            return self._default_refuse_seconds
        try:
            seconds = float(filters["refuse_seconds"])
        except (TypeError, ValueError):
            return self._default_refuse_seconds
        if seconds > MAX_REFUSE_SECONDS:
            return MAX_REFUSE_SECONDS
        if seconds < 0 or math.isnan(seconds):
            return self._default_refuse_seconds
        return seconds

    # -- calls ----------------------------------------------------------------------------

    def decline(self, framework: FrameworkState, decline: JSON) -> None:
        """``Master::decline``: the offers back, filtered; ids no longer valid are ignored.

        As in Mesos, the offer ids are not checked against the framework: an offer
        it still has is discarded whoever made the call, and the filter is set for
        the framework the offer was made to (``Master::discardOffer``).
        """
        refuse = self.refuse_seconds(decline.get("filters"))
        for offer_id in as_list(decline.get("offer_ids")):
            offer = self._model.offers.get(str(value_of(offer_id)))
            if offer is not None:
                self.discard_offer(offer, refuse)

    def revive(self, framework: FrameworkState) -> None:
        framework.filters.clear()
        framework.suppressed = False
        self.allocate()

    def suppress(self, framework: FrameworkState) -> None:
        framework.suppressed = True


def _offer_json(framework: FrameworkState, offer: OfferState, agent: Agent) -> JSON:
    resources = offer.resources.to_json()
    body: JSON = {
        "id": events.value(offer.offer_id),
        "framework_id": events.value(offer.framework_id),
        "agent_id": events.value(offer.agent_id),
        "hostname": agent.hostname,
        "resources": resources,
    }
    if framework.multi_role:
        allocation = {"role": framework.allocation_role}
        body["allocation_info"] = allocation
        for resource in resources:
            resource["allocation_info"] = dict(allocation)
    return body
