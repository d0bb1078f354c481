"""Companies' solution profiles and the explainable match against the test environments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.catalog import services as catalog_services
from marketplace.errors import Forbidden, Invalid, NotFound
from marketplace.identity.principal import Principal
from marketplace.testbeds.environments import (
    environment_datasets,
    free_slots,
    list_test_environments,
)
from marketplace.testbeds.fields import MAX_TITLE, VOCABULARY, read_text
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


def profile_from_json(data: Mapping[str, Any]) -> Profile:
    """Read a solution profile from JSON or form data; raises Invalid on any bad field."""
    if not isinstance(data, Mapping):
        raise Invalid("send løsningsprofilen som et JSON-objekt")
    errors: list[dict[str, str]] = []
    lists = {}
    for name in ("themes", "target_groups", "needs", "facilities"):
        value = data.get(name) or []
        if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
            errors.append({"field": name, "message": "must be a list of codes"})
            value = []
        lists[name] = frozenset(value)
    description = data.get("description") or ""
    if not isinstance(description, str):
        errors.append({"field": "description", "message": "must be text"})
        description = ""
    trl = data.get("trl")
    if trl is not None and (isinstance(trl, bool) or not isinstance(trl, int)):
        errors.append({"field": "trl", "message": "technology readiness level must be 1-9"})
        trl = None
    profile = Profile(trl=trl, description=description.strip(), **lists)
    errors += VOCABULARY.validate(profile)
    if errors:
        raise Invalid("løsningsprofilen er ikke gyldig", errors=errors)
    return profile


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


def describe_and_match(session: Session, *, actor: Principal, data: Mapping[str, Any],
                       solution_id: int | None, now: datetime
                       ) -> tuple[SolutionProfile | None, MatchResult]:
    """Match a described solution; a company's description is saved as its solution profile
    (or updates the profile `solution_id`). Raises Invalid, and NotFound or Forbidden for a
    profile that is not the company's."""
    profile = profile_from_json({k: v for k, v in data.items() if k != "name"})
    solution = None
    if actor.org_kind == "company":
        name = str(data.get("name") or "").strip() or profile.description[:80] or "Min løsning"
        if solution_id is None:
            solution = create_solution_profile(session, actor=actor, name=name, profile=profile)
        else:
            solution = update_solution_profile(session, actor=actor, profile_id=solution_id,
                                               data={**data, "name": name})
    return solution, match_environments(session, profile=profile, now=now)


# Solution profiles ------------------------------------------------------------------------------


def require_company(actor: Principal) -> int:
    if actor.org_kind != "company" or actor.org_id is None:
        raise Forbidden("kun virksomheder beskriver løsninger og foreslår testforløb")
    return actor.org_id


def create_solution_profile(session: Session, *, actor: Principal, name: str,
                            profile: Profile) -> SolutionProfile:
    """Save a company's solution profile; raises Forbidden (not a company) or Invalid."""
    company_id = require_company(actor)
    errors: list[dict[str, str]] = []
    clean_name = read_text({"name": name}, "name", MAX_TITLE, errors, required=True)
    errors += VOCABULARY.validate(profile)
    if errors:
        raise Invalid("løsningsprofilen er ikke gyldig", errors=errors)
    solution = SolutionProfile(
        company_org_id=company_id, name=clean_name, themes=sorted(profile.themes),
        target_groups=sorted(profile.target_groups), needs=sorted(profile.needs),
        facilities=sorted(profile.facilities), trl=profile.trl, description=profile.description,
    )
    session.add(solution)
    session.flush()
    return solution


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
                            data: Mapping[str, Any]) -> SolutionProfile:
    """Replace the fields given in `data`; raises NotFound, Forbidden or Invalid."""
    solution = require_solution_profile(session, actor=actor, profile_id=profile_id)
    current = {
        "themes": solution.themes, "target_groups": solution.target_groups,
        "needs": solution.needs, "facilities": solution.facilities, "trl": solution.trl,
        "description": solution.description,
    }
    profile = profile_from_json({**current, **{k: v for k, v in data.items() if k != "name"}})
    if "name" in data:
        errors: list[dict[str, str]] = []
        name = read_text(data, "name", MAX_TITLE, errors, required=True)
        if errors or name is None:
            raise Invalid("løsningsprofilen er ikke gyldig", errors=errors)
        solution.name = name
    solution.themes, solution.target_groups = sorted(profile.themes), sorted(profile.target_groups)
    solution.needs, solution.facilities = sorted(profile.needs), sorted(profile.facilities)
    solution.trl, solution.description = profile.trl, profile.description
    session.flush()
    return solution
