"""Each data holder's disclosure rules for statistics on its datasets: the minimum persons per
cell, the rounding base and the differential-privacy budget.

The rules a request meets are never looser than the platform's floor or the dataset's own k:
a holder can make them stricter, never weaker.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Dataset
from marketplace.identity.principal import Principal
from marketplace.statistics.models import (
    DEFAULT_EPSILON_BUDGET,
    DEFAULT_ROUNDING_BASE,
    MAX_EPSILON_PER_REQUEST,
    PLATFORM_MIN_THRESHOLD,
    StatisticsPolicy,
)
from marketplace.statistics.problems import invalid
from marketplace.statistics.schemas import StatisticsPolicyIn


@dataclass(frozen=True)
class DisclosureRules:
    threshold: int
    rounding: int
    epsilon_budget: float
    epsilon_spent: float
    epsilon_per_request: float = MAX_EPSILON_PER_REQUEST


def minimum_threshold(dataset: Dataset) -> int:
    """The lowest threshold a holder may set: the platform's floor or the dataset's k."""
    return max(PLATFORM_MIN_THRESHOLD, int(dataset.k_min or 1))


def disclosure_rules(session: Session, *, dataset: Dataset) -> DisclosureRules:
    """The rules in force: the holder's threshold (never under the platform's floor or the
    dataset's k), rounding base and privacy budget."""
    policy = session.get(StatisticsPolicy, dataset.id)
    floor = minimum_threshold(dataset)
    if policy is None:
        return DisclosureRules(floor, DEFAULT_ROUNDING_BASE, DEFAULT_EPSILON_BUDGET, 0.0)
    return DisclosureRules(
        max(floor, policy.threshold or 0), policy.rounding_base, policy.epsilon_budget,
        policy.epsilon_spent,
        min(policy.epsilon_per_request or MAX_EPSILON_PER_REQUEST, MAX_EPSILON_PER_REQUEST))


def policy_to_json(session: Session, *, dataset: Dataset) -> dict[str, Any]:
    """The rules of a dataset as the API and the page show them (defaults where none are set)."""
    rules = disclosure_rules(session, dataset=dataset)
    return {"dataset_id": dataset.id, "threshold": rules.threshold,
            "rounding_base": rules.rounding, "epsilon_budget": rules.epsilon_budget,
            "epsilon_per_request": rules.epsilon_per_request,
            "epsilon_spent": round(rules.epsilon_spent, 6),
            "minimum_threshold": minimum_threshold(dataset)}


def read_statistics_policy(session: Session, *, actor: Principal, dataset_id: int
                           ) -> dict[str, Any]:
    """The statistics rules of a dataset the actor can see; raise NotFound."""
    dataset = catalog_services.require_visible_dataset(session, dataset_id=dataset_id,
                                                       actor=actor)
    return policy_to_json(session, dataset=dataset)


def owned_dataset(session: Session, *, actor: Principal, dataset_id: int) -> Dataset:
    """A dataset whose rules the actor may set (its holder's administrators and systems);
    raise NotFound or Forbidden."""
    return catalog_services.require_owned_dataset(session, dataset_id=dataset_id, actor=actor)


def set_statistics_policy(session: Session, *, actor: Principal, dataset_id: int,
                          policy: StatisticsPolicyIn) -> dict[str, Any]:
    """Set a dataset's statistics rules and audit the change.

    Raises NotFound, Forbidden (not the holder's administrators) and Invalid (a threshold under
    the dataset's k, a per-request privacy loss above the budget).
    """
    dataset = owned_dataset(session, actor=actor, dataset_id=dataset_id)
    floor = minimum_threshold(dataset)
    if policy.threshold < floor:
        raise invalid("threshold", "skal være mindst {floor}: platformens og datasættets "
                      "grænse", floor=floor)
    if policy.epsilon_per_request > policy.epsilon_budget:
        raise invalid("epsilon_per_request", "kan ikke være større end hele budgettet")
    stored = session.get(StatisticsPolicy, dataset.id)
    if stored is None:
        stored = StatisticsPolicy(dataset_id=dataset.id, epsilon_spent=0.0)
        session.add(stored)
    before = policy_to_json(session, dataset=dataset)
    stored.threshold = policy.threshold
    stored.rounding_base = policy.rounding_base
    stored.epsilon_budget = policy.epsilon_budget
    stored.epsilon_per_request = policy.epsilon_per_request
    session.flush()
    after = policy_to_json(session, dataset=dataset)
    audit.record_audit(session, actor=actor, action="statistics_policy.set",
                       subject_type="dataset", subject_id=str(dataset.id),
                       details={"before": before, "after": after})
    return after
