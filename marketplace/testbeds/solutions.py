"""Companies' solution profiles and the explainable match against the test environments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.catalog import services as catalog_services
from marketplace.errors import Forbidden, Invalid, NotFound
from marketplace.identity.principal import Principal
from marketplace.languages import N_
from marketplace.testbeds.commands import VOCABULARY, SolutionDescription
from marketplace.testbeds.environments import (
    environment_datasets,
    free_slots,
    list_test_environments,
)
from marketplace.testbeds.matching import (
    EnvironmentFacts,
    EnvironmentIndex,
    Profile,
)
from marketplace.testbeds.models import (
    SolutionProfile,
    TestEnvironment,
)

# Matching ---------------------------------------------------------------------------------------


def profile_of(solution: SolutionProfile) -> Profile:
    return Profile(
        themes=frozenset(solution.themes), target_groups=frozenset(solution.target_groups),
        needs=frozenset(solution.needs), facilities=frozenset(solution.facilities),
        trl=solution.trl, description=solution.description,
    )


@dataclass(frozen=True)
class EnvironmentMatch:
    environment: TestEnvironment
    score: float
    reasons: tuple
    datasets: list[Any]
    free_slots: int


@dataclass(frozen=True)
class MatchResult:
    items: list[EnvironmentMatch]
    datasets: list[Any]


def _facts(environment: TestEnvironment, *, slots: int) -> EnvironmentFacts:
    labels = [VOCABULARY.label("themes", code, lang) for code in environment.themes
              for lang in ("da", "en")]
    return EnvironmentFacts(
        id=environment.id,
        text=" ".join([environment.name_da, environment.name_en, environment.description_da,
                       environment.description_en, *labels]),
        themes=frozenset(environment.themes),
        target_groups=frozenset(environment.target_groups),
        resources=frozenset(environment.resources),
        facilities=frozenset(environment.facilities),
        host_sectors=frozenset(host.sector for host in environment.hosts),
        dataset_count=len(environment.dataset_ids),
        capacity=environment.capacity_per_year,
        free_slots=slots,
        trl_min=environment.trl_min,
        trl_max=environment.trl_max,
    )


@lru_cache(maxsize=8)
def _index(facts: tuple[EnvironmentFacts, ...]) -> EnvironmentIndex:
    # Keyed by the facts themselves, so any edit, new course or new environment rebuilds it.
    return EnvironmentIndex(VOCABULARY, facts)


def match_environments(session: Session, *, profile: Profile, now: datetime,
                       limit: int = 20) -> MatchResult:
    """Rank the test environments for a profile, best first; raises Invalid on a bad profile."""
    errors = VOCABULARY.validate(profile)
    if errors:
        raise Invalid("løsningsprofilen er ikke gyldig", errors=errors)
    environments = {env.id: env for env in list_test_environments(session)}
    slots = free_slots(session, now=now)
    facts = tuple(_facts(env, slots=slots.get(env.id, 0)) for env in environments.values())
    matches = _index(facts).rank(profile, limit=limit)
    items = [
        EnvironmentMatch(
            environment=environments[match.environment_id],
            score=match.score,
            reasons=match.reasons,
            datasets=environment_datasets(session, environment=environments[match.environment_id]),
            free_slots=slots.get(match.environment_id, 0),
        )
        for match in matches
    ]
    return MatchResult(items=items, datasets=suggest_datasets(session, profile=profile))


def suggest_datasets(session: Session, *, profile: Profile, limit: int = 5) -> list[Any]:
    """Published catalogue datasets whose descriptions share concepts with the profile."""
    wanted = VOCABULARY.analyse(profile.description)
    wanted.update({concept.code: 1 for concept in VOCABULARY.concepts.values()
                   if set(concept.themes) & profile.themes})
    if not wanted:
        return []
    scored = []
    for dataset in catalog_services.list_published_datasets(session):
        text = " ".join([
            dataset.title, getattr(dataset, "description", "") or "",
            *(dataset.keywords or []), *(dataset.themes or []),
            *(dataset.health_categories or []),
        ])
        found = VOCABULARY.analyse(text)
        score = sum(VOCABULARY.concepts[code].weight for code in found if code in wanted)
        if score > 0:
            scored.append((-score, dataset.id, dataset))
    return [dataset for *_, dataset in sorted(scored, key=lambda item: item[:2])[:limit]]


def describe_and_match(session: Session, *, actor: Principal, description: SolutionDescription,
                       solution_id: int | None, now: datetime
                       ) -> tuple[SolutionProfile | None, MatchResult]:
    """Match a described solution; a company's description is saved as its solution profile
    (or updates the profile `solution_id`). Raises Invalid, and NotFound or Forbidden for a
    profile that is not the company's."""
    profile = description.profile()
    solution = None
    if actor.org_kind == "company":
        name = description.name or profile.description[:80] or "Min løsning"
        named = description.model_copy(update={"name": name})
        if solution_id is None:
            solution = create_solution_profile(session, actor=actor, description=named)
        else:
            solution = update_solution_profile(session, actor=actor, profile_id=solution_id,
                                               changes=named)
    return solution, match_environments(session, profile=profile, now=now)


# Solution profiles ------------------------------------------------------------------------------


def require_company(actor: Principal) -> int:
    if actor.org_kind != "company" or actor.org_id is None:
        raise Forbidden("kun virksomheder beskriver løsninger og foreslår testforløb")
    return actor.org_id


def create_solution_profile(session: Session, *, actor: Principal,
                            description: SolutionDescription) -> SolutionProfile:
    """Save a company's solution profile; raises Forbidden (not a company) or Invalid."""
    company_id = require_company(actor)
    if not description.name:
        raise Invalid.field("name", N_("skal udfyldes"))
    profile = description.profile()
    _require_something_to_match(profile)
    solution = SolutionProfile(
        company_org_id=company_id, name=description.name, themes=sorted(profile.themes),
        target_groups=sorted(profile.target_groups), needs=sorted(profile.needs),
        facilities=sorted(profile.facilities), trl=profile.trl, description=profile.description,
    )
    session.add(solution)
    session.flush()
    return solution


def _require_something_to_match(profile: Profile) -> None:
    errors = VOCABULARY.validate(profile)
    if errors:
        raise Invalid("løsningsprofilen er ikke gyldig", errors=errors)


def list_solution_profiles(session: Session, *, actor: Principal) -> list[SolutionProfile]:
    query = sa.select(SolutionProfile).order_by(SolutionProfile.id.desc())
    if not actor.is_operator:
        query = query.where(SolutionProfile.company_org_id == require_company(actor))
    return list(session.scalars(query))


def require_solution_profile(session: Session, *, actor: Principal,
                             profile_id: int) -> SolutionProfile:
    """Return one of the actor's solution profiles; raises NotFound (also for another
    company's profile: its id does not reveal that it exists)."""
    solution = session.get(SolutionProfile, profile_id)
    if solution is None or not (actor.is_operator
                                or actor.belongs_to(solution.company_org_id)):
        raise NotFound("løsningsprofil {id} findes ikke", id=profile_id)
    return solution


def update_solution_profile(session: Session, *, actor: Principal, profile_id: int,
                            changes: SolutionDescription) -> SolutionProfile:
    """Replace the fields given in `changes`; raises NotFound, Forbidden or Invalid."""
    solution = require_solution_profile(session, actor=actor, profile_id=profile_id)
    given = changes.given(exclude={"name"})
    merged = {"themes": solution.themes, "target_groups": solution.target_groups,
              "needs": solution.needs, "facilities": solution.facilities,
              "trl": solution.trl, "description": solution.description, **given}
    profile = Profile(themes=frozenset(merged["themes"]),
                      target_groups=frozenset(merged["target_groups"]),
                      needs=frozenset(merged["needs"]), facilities=frozenset(merged["facilities"]),
                      trl=merged["trl"], description=merged["description"])
    _require_something_to_match(profile)
    if "name" in changes.model_fields_set:
        if not changes.name:
            raise Invalid.field("name", N_("skal udfyldes"))
        solution.name = changes.name
    solution.themes, solution.target_groups = sorted(profile.themes), sorted(profile.target_groups)
    solution.needs, solution.facilities = sorted(profile.needs), sorted(profile.facilities)
    solution.trl, solution.description = profile.trl, profile.description
    session.flush()
    return solution
