"""Business rules of the testbeds domain: environments, matching, test courses, dossiers, KPIs."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path, PurePath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit, cpr
from marketplace.catalog import services as catalog_services
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from marketplace.identity import services as identity_services
from marketplace.identity.models import Organisation
from marketplace.identity.principal import Principal
from marketplace.security import Keyring
from marketplace.testbeds import dossier as dossiers
from marketplace.testbeds import lifecycle
from marketplace.testbeds.matching import (
    MAX_CODES,
    EnvironmentFacts,
    EnvironmentIndex,
    Profile,
    Vocabulary,
)
from marketplace.testbeds.models import (
    SECTORS,
    EvidenceFile,
    Procurement,
    SolutionProfile,
    TestCourse,
    TestCourseEvent,
    TestEnvironment,
    TestEnvironmentHost,
    TestOutcome,
)

VOCABULARY = Vocabulary.load()
HOST_ROLES = frozenset({"host_member", "holder_admin"})
MAX_TITLE = 200
MAX_TEXT = 5_000
MAX_COST_DKK = 1_000_000_000
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
EVIDENCE_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "text/csv": ".csv",
    "text/plain": ".txt",
}
# ASCII only: the name travels in a Content-Disposition header.
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9.\- _]+")


# Environments -----------------------------------------------------------------------------------


def get_test_environment(session: Session, *, environment_id: int) -> TestEnvironment | None:
    return session.get(TestEnvironment, environment_id)


def require_test_environment(session: Session, *, environment_id: int) -> TestEnvironment:
    """Return the environment; raises NotFound."""
    environment = get_test_environment(session, environment_id=environment_id)
    if environment is None:
        raise NotFound(f"test environment {environment_id} does not exist")
    return environment


def get_test_environment_by_slug(session: Session, *, slug: str) -> TestEnvironment | None:
    return session.scalars(select_environments().where(TestEnvironment.slug == slug)).first()


def select_environments() -> sa.Select[TestEnvironment]:
    return sa.select(TestEnvironment).order_by(TestEnvironment.id)


def list_test_environments(session: Session, *, theme: str | None = None
                           ) -> list[TestEnvironment]:
    """All test environments, or those working with `theme`; raises Invalid on an unknown
    theme."""
    environments = list(session.scalars(select_environments()))
    if theme is None:
        return environments
    if theme not in VOCABULARY.themes:
        raise Invalid.field("theme", f"unknown theme {theme}")
    return [env for env in environments if theme in env.themes]


def hosts_environment(actor: Principal, environment: TestEnvironment) -> bool:
    """Tell whether the actor speaks for one of the environment's host organisations."""
    if actor.is_operator:
        return True
    if actor.org_id not in environment.host_org_ids:
        return False
    return actor.kind == "client" or actor.role in HOST_ROLES


def _require_host(actor: Principal, environment: TestEnvironment) -> None:
    if not hosts_environment(actor, environment):
        raise Forbidden("only the environment's hosts may do this")


def hosted_environment_ids(session: Session, *, actor: Principal) -> set[int]:
    if actor.org_id is None or not (actor.kind == "client" or actor.role in HOST_ROLES):
        return set()
    rows = session.scalars(
        sa.select(TestEnvironmentHost.environment_id).where(
            TestEnvironmentHost.org_id == actor.org_id
        )
    )
    return set(rows)


def _codes(data: Mapping[str, Any], name: str, known: Mapping[str, Any],
           errors: list[dict[str, str]]) -> list[str] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        errors.append({"field": name, "message": "must be a list of codes"})
        return None
    if len(value) > MAX_CODES:
        errors.append({"field": name, "message": f"at most {MAX_CODES} codes"})
        return None
    unknown = sorted(set(value) - known.keys())
    if unknown:
        errors.append({"field": name, "message": f"unknown codes: {', '.join(unknown)}"})
        return None
    return sorted(set(value))


def _text(data: Mapping[str, Any], name: str, limit: int, errors: list[dict[str, str]],
          *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            errors.append({"field": name, "message": "is required"})
        return None
    if not isinstance(value, str):
        errors.append({"field": name, "message": "must be text"})
        return None
    value = value.strip()
    if required and not value:
        errors.append({"field": name, "message": "must not be empty"})
    elif len(value) > limit:
        errors.append({"field": name, "message": f"at most {limit} characters"})
    else:
        return value
    return None


def _integer(data: Mapping[str, Any], name: str, low: int, high: int,
             errors: list[dict[str, str]]) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.append({"field": name, "message": f"must be a whole number from {low} to {high}"})
        return None
    return value


ENVIRONMENT_TEXTS = {
    "name_da": MAX_TITLE, "name_en": MAX_TITLE, "description_da": MAX_TEXT,
    "description_en": MAX_TEXT, "contact_name": MAX_TITLE, "contact_email": MAX_TITLE,
    "homepage": 300,
}
ENVIRONMENT_CODES = {
    "themes": VOCABULARY.themes, "target_groups": VOCABULARY.target_groups,
    "resources": VOCABULARY.needs, "facilities": VOCABULARY.facilities,
}


def _environment_changes(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the editable fields of an environment; raises Invalid listing every problem."""
    known = {*ENVIRONMENT_TEXTS, *ENVIRONMENT_CODES, "trl_min", "trl_max", "capacity_per_year",
             "dataset_ids"}
    errors = [{"field": name, "message": "cannot be changed here"} for name in data
              if name not in known]
    changes: dict[str, Any] = {}
    for name, limit in ENVIRONMENT_TEXTS.items():
        value = _text(data, name, limit, errors, required=name == "name_da" and name in data)
        if value is not None:
            changes[name] = value
    if changes.get("contact_email") and "@" not in changes["contact_email"]:
        errors.append({"field": "contact_email", "message": "must be an e-mail address"})
    if changes.get("homepage") and not changes["homepage"].startswith(("https://", "http://")):
        errors.append({"field": "homepage", "message": "must start with https://"})
    for name, table in ENVIRONMENT_CODES.items():
        codes = _codes(data, name, table, errors)
        if codes is not None:
            changes[name] = codes
    for name in ("trl_min", "trl_max"):
        level = _integer(data, name, 1, 9, errors)
        if level is not None:
            changes[name] = level
    capacity = _integer(data, "capacity_per_year", 0, 10_000, errors)
    if capacity is not None:
        changes["capacity_per_year"] = capacity
    if "dataset_ids" in data:
        changes["dataset_ids"] = _dataset_ids(session, data["dataset_ids"], errors)
    if errors:
        raise Invalid("the test environment has invalid fields", errors=errors)
    return changes


def _dataset_ids(session: Session, value: Any, errors: list[dict[str, str]]) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    ) or len(value) > 100:
        errors.append({"field": "dataset_ids", "message": "must be a list of dataset ids"})
        return []
    missing = [
        dataset_id for dataset_id in value
        if (dataset := catalog_services.get_dataset(session, dataset_id=dataset_id)) is None
        or dataset.status != "published"
    ]
    if missing:
        errors.append({
            "field": "dataset_ids",
            "message": f"not published in the catalogue: {', '.join(map(str, missing))}",
        })
    return sorted(set(value))


def update_test_environment(session: Session, *, actor: Principal, environment_id: int,
                            changes: Mapping[str, Any]) -> TestEnvironment:
    """Change an environment's entry; raises NotFound, Forbidden (not a host) or Invalid."""
    environment = require_test_environment(session, environment_id=environment_id)
    _require_host(actor, environment)
    clean = _environment_changes(session, changes)
    low = clean.get("trl_min", environment.trl_min)
    high = clean.get("trl_max", environment.trl_max)
    if low > high:
        raise Invalid.field("trl_max", "must not be below trl_min")
    for name, value in clean.items():
        setattr(environment, name, value)
    session.flush()
    return environment


def create_test_environment(session: Session, *, actor: Principal, slug: str,
                            hosts: Iterable[tuple[str, str]],
                            fields: Mapping[str, Any]) -> TestEnvironment:
    """Add an environment hosted by the named organisations (operator only).

    `hosts` is (organisation slug, sector). Raises Forbidden, Conflict (slug taken) or Invalid.
    """
    if not actor.is_operator:
        raise Forbidden("only the platform operator adds test environments")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,79}", slug or ""):
        raise Invalid.field("slug", "use 2-80 lower-case letters, digits and hyphens")
    if get_test_environment_by_slug(session, slug=slug) is not None:
        raise Conflict(f"a test environment called {slug} exists")
    clean = _environment_changes(session, {"name_da": fields.get("name_da"), **fields})
    host_rows = []
    for position, (org_slug, sector) in enumerate(hosts):
        org = identity_services.get_org(session, slug=org_slug)
        if org is None or sector not in SECTORS:
            raise Invalid.field("hosts", f"unknown host {org_slug} or sector {sector}")
        host_rows.append(TestEnvironmentHost(org_id=org.id, sector=sector, position=position))
    if not host_rows:
        raise Invalid.field("hosts", "name at least one host organisation")
    environment = TestEnvironment(slug=slug, name_en=clean.get("name_en", clean["name_da"]),
                                  hosts=host_rows)
    for name, value in clean.items():
        setattr(environment, name, value)
    if environment.trl_min > environment.trl_max:
        raise Invalid.field("trl_max", "must not be below trl_min")
    session.add(environment)
    session.flush()
    return environment


def _start_of_year(now: datetime) -> datetime:
    return datetime(now.year, 1, 1, tzinfo=UTC)


def free_slots(session: Session, *, now: datetime) -> dict[int, int]:
    """Free test-course slots per environment this calendar year.

    A slot is taken by every agreed or running course and by courses that finished this year.
    """
    in_use = sa.or_(
        TestCourse.status.in_(("agreed", "running")),
        sa.and_(TestCourse.status.in_(("completed", "evaluated")),
                TestCourse.status_changed_at >= _start_of_year(now)),
    )
    used = dict(session.execute(
        sa.select(TestCourse.environment_id, sa.func.count())
        .where(in_use).group_by(TestCourse.environment_id)
    ).all())
    capacity = session.execute(sa.select(TestEnvironment.id, TestEnvironment.capacity_per_year))
    return {env_id: max(0, cap - used.get(env_id, 0)) for env_id, cap in capacity}


def linkable_datasets(session: Session) -> list[Any]:
    """The published catalogue datasets a host may link to its environment."""
    return catalog_services.list_published_datasets(session)


def environment_datasets(session: Session, *, environment: TestEnvironment) -> list[Any]:
    """The published catalogue datasets that belong to an environment."""
    datasets = (catalog_services.get_dataset(session, dataset_id=dataset_id)
                for dataset_id in environment.dataset_ids)
    return [d for d in datasets if d is not None and d.status == "published"]


# Matching ---------------------------------------------------------------------------------------


def profile_from_json(data: Mapping[str, Any]) -> Profile:
    """Read a solution profile from JSON or form data; raises Invalid on any bad field."""
    if not isinstance(data, Mapping):
        raise Invalid("send the solution profile as a JSON object")
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
        raise Invalid("the solution profile is not valid", errors=errors)
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
        raise Invalid("the solution profile is not valid", errors=errors)
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


def _require_company(actor: Principal) -> int:
    if actor.org_kind != "company" or actor.org_id is None:
        raise Forbidden("only companies describe solutions and propose test courses")
    return actor.org_id


def create_solution_profile(session: Session, *, actor: Principal, name: str,
                            profile: Profile) -> SolutionProfile:
    """Save a company's solution profile; raises Forbidden (not a company) or Invalid."""
    company_id = _require_company(actor)
    errors: list[dict[str, str]] = []
    clean_name = _text({"name": name}, "name", MAX_TITLE, errors, required=True)
    errors += VOCABULARY.validate(profile)
    if errors:
        raise Invalid("the solution profile is not valid", errors=errors)
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
        query = query.where(SolutionProfile.company_org_id == _require_company(actor))
    return list(session.scalars(query))


def require_solution_profile(session: Session, *, actor: Principal,
                             profile_id: int) -> SolutionProfile:
    """Return one of the actor's solution profiles; raises NotFound or Forbidden."""
    solution = session.get(SolutionProfile, profile_id)
    if solution is None:
        raise NotFound(f"solution profile {profile_id} does not exist")
    if not actor.is_operator and not actor.belongs_to(solution.company_org_id):
        raise Forbidden("this solution profile belongs to another company")
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
        name = _text(data, "name", MAX_TITLE, errors, required=True)
        if errors or name is None:
            raise Invalid("the solution profile is not valid", errors=errors)
        solution.name = name
    solution.themes, solution.target_groups = sorted(profile.themes), sorted(profile.target_groups)
    solution.needs, solution.facilities = sorted(profile.needs), sorted(profile.facilities)
    solution.trl, solution.description = profile.trl, profile.description
    session.flush()
    return solution


# Test courses -----------------------------------------------------------------------------------


def get_test_course(session: Session, *, course_id: int) -> TestCourse | None:
    return session.get(TestCourse, course_id)


def is_public_buyer(actor: Principal) -> bool:
    """Staff of a national, regional or municipal body: the ones who buy after a test."""
    return actor.kind == "staff" and actor.org_kind in ("national", "regional", "municipal")


def party_of(actor: Principal, course: TestCourse) -> str | None:
    """The actor's side in a course: "company", "host" or None."""
    if actor.belongs_to(course.company_org_id):
        return "company"
    if hosts_environment(actor, course.environment):
        return "host"
    return None


def can_view_course(actor: Principal, course: TestCourse) -> bool:
    if party_of(actor, course) is not None:
        return True
    # Buyers see finished courses: their evidence is what procurement needs.
    return is_public_buyer(actor) and course.status in lifecycle.DOSSIER_READY


def require_test_course(session: Session, *, actor: Principal, course_id: int) -> TestCourse:
    """Return a course the actor may see; raises NotFound or Forbidden."""
    course = get_test_course(session, course_id=course_id)
    if course is None:
        raise NotFound(f"test course {course_id} does not exist")
    if not can_view_course(actor, course):
        raise Forbidden("this test course belongs to another company and environment")
    return course


def require_course_for_access(session: Session, *, course_id: int,
                              company_org_id: int) -> TestCourse:
    """The test course an access application says it serves.

    Raises NotFound, Forbidden (another company's course) or Conflict (declined or finished:
    data for a test is only granted while the course lies ahead or runs).
    """
    course = get_test_course(session, course_id=course_id)
    if course is None:
        raise NotFound(f"test course {course_id} does not exist")
    if course.company_org_id != company_org_id:
        raise Forbidden("the test course belongs to another company")
    if course.status not in ("proposed", "agreed", "running"):
        raise Conflict(f"the test course is {course.status}; data serves open courses only")
    return course


def list_test_courses(session: Session, *, actor: Principal,
                      status: str | None = None) -> list[TestCourse]:
    """The courses the actor may see: its company's, its environments', finished ones for buyers."""
    if status is not None and status not in lifecycle.STATUS_LABELS:
        raise Invalid.field("status", f"unknown status {status}")
    if not actor.is_authenticated or actor.kind == "citizen":
        raise Forbidden("test courses are for companies, hosts and public buyers")
    query = sa.select(TestCourse).order_by(TestCourse.id.desc())
    if status:
        query = query.where(TestCourse.status == status)
    if not actor.is_operator:
        visible = [TestCourse.company_org_id == actor.org_id]
        hosted = hosted_environment_ids(session, actor=actor)
        if hosted:
            visible.append(TestCourse.environment_id.in_(hosted))
        if is_public_buyer(actor):
            visible.append(TestCourse.status.in_(lifecycle.DOSSIER_READY))
        query = query.where(sa.or_(*visible))
    return list(session.scalars(query))


def _log(session: Session, course: TestCourse, *, actor: Principal, from_status: str | None,
         to_status: str, comment: str, now: datetime) -> None:
    session.add(TestCourseEvent(course=course, from_status=from_status, to_status=to_status,
                                actor_org_id=actor.org_id, actor_name=actor.name,
                                comment=comment, at=now))


def _date(data: Mapping[str, Any], name: str, errors: list[dict[str, str]]) -> date | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors.append({"field": name, "message": "must be a date (YYYY-MM-DD)"})
        return None


def _course_plan(data: Mapping[str, Any], *, required: bool) -> dict[str, Any]:
    errors: list[dict[str, str]] = []
    plan: dict[str, Any] = {}
    title = _text(data, "title", MAX_TITLE, errors, required=required)
    if title is not None:
        plan["title"] = title
    goal = _text(data, "goal", MAX_TEXT, errors)
    if goal is not None:
        plan["goal"] = goal
    for name in ("planned_start", "planned_end"):
        if name in data:
            plan[name] = _date(data, name, errors)
    participants = _integer(data, "participants_planned", 0, 100_000, errors)
    if participants is not None:
        plan["participants_planned"] = participants
    start, end = plan.get("planned_start"), plan.get("planned_end")
    if start and end and end < start:
        errors.append({"field": "planned_end", "message": "must not be before planned_start"})
    if errors:
        raise Invalid("the test course is not valid", errors=errors)
    return plan


def propose_test_course(session: Session, *, actor: Principal, environment_id: int,
                        solution_profile_id: int, plan: Mapping[str, Any],
                        now: datetime) -> TestCourse:
    """Propose a test course of the company's solution in an environment.

    Raises Forbidden (not the solution's company), NotFound, Invalid, or Conflict when the
    same solution already has an open proposal there.
    """
    _require_company(actor)
    solution = require_solution_profile(session, actor=actor, profile_id=solution_profile_id)
    environment = require_test_environment(session, environment_id=environment_id)
    clean = _course_plan(plan, required=True)
    open_course = session.scalars(sa.select(TestCourse.id).where(
        TestCourse.environment_id == environment.id,
        TestCourse.solution_profile_id == solution.id,
        TestCourse.status.in_(("proposed", "agreed", "running")),
    )).first()
    if open_course is not None:
        raise Conflict(f"this solution already has test course {open_course} in the environment")
    course = TestCourse(environment=environment, company_org_id=solution.company_org_id,
                        solution=solution, status="proposed", status_changed_at=now, **clean)
    session.add(course)
    _log(session, course, actor=actor, from_status=None, to_status="proposed", comment="",
         now=now)
    session.flush()
    return course


PROCUREMENT_INPUTS_OPEN = frozenset({"running", "completed", "evaluated"})
DOSSIER_FIELDS = ("yearly_cost_dkk", "procurement_need", "procurement_value", "procurement_market")
PLAN_FIELDS = ("title", "goal", "planned_start", "planned_end", "participants_planned")


def _dossier_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    errors: list[dict[str, str]] = []
    clean: dict[str, Any] = {}
    if "yearly_cost_dkk" in data:
        if data["yearly_cost_dkk"] is None:
            clean["yearly_cost_dkk"] = None
        else:
            cost = _integer(data, "yearly_cost_dkk", 0, MAX_COST_DKK, errors)
            if cost is not None:
                clean["yearly_cost_dkk"] = cost
    for name in DOSSIER_FIELDS[1:]:
        value = _text(data, name, MAX_TEXT, errors)
        if value is not None:
            clean[name] = value
    if errors:
        raise Invalid("the procurement fields are not valid", errors=errors)
    return clean


def change_test_course(session: Session, *, actor: Principal, course_id: int,
                       changes: Mapping[str, Any], now: datetime) -> TestCourse:
    """Move a course on (`status`, `comment`), edit its plan or its procurement fields.

    Everything is checked before anything changes. Raises NotFound, Forbidden (not a party, or
    a move only the host may make), Invalid (unknown field or bad value) or Conflict (a move
    backwards, a skipped state, no free slot, evaluation without outcomes).
    """
    course = require_test_course(session, actor=actor, course_id=course_id)
    party = party_of(actor, course)
    if party is None:
        raise Forbidden("only the company and the hosts change a test course")
    allowed = {"status", "comment", *DOSSIER_FIELDS, *PLAN_FIELDS}
    unknown = [name for name in changes if name not in allowed]
    if unknown:
        raise Invalid("unknown fields", errors=[
            {"field": name, "message": "cannot be changed"} for name in unknown
        ])
    errors: list[dict[str, str]] = []
    comment = _text(changes, "comment", MAX_TEXT, errors) or ""
    if errors:
        raise Invalid("the comment is not valid", errors=errors)
    plan = _course_plan({k: v for k, v in changes.items() if k in PLAN_FIELDS}, required=False)
    if plan and (party != "company" or course.status != "proposed"):
        raise Conflict("the company can change the plan only while the course is proposed")
    dossier_fields = _dossier_fields(changes)
    if dossier_fields and (course.status not in PROCUREMENT_INPUTS_OPEN or course.procurement):
        raise Conflict("procurement inputs are given while a course runs or after it, until a "
                       "procurement has started")
    target = changes.get("status")
    if target is not None:
        _check_move(session, course, target=target, party=party, now=now)
    for name, value in {**plan, **dossier_fields}.items():
        setattr(course, name, value)
    if target is not None:
        _log(session, course, actor=actor, from_status=course.status, to_status=target,
             comment=comment, now=now)
        audit.record_audit(
            session, actor=actor, action=f"test_course.{target}", subject_type="test_course",
            subject_id=str(course.id),
            details={"from": course.status, "environment_id": course.environment_id,
                     "company_org_id": course.company_org_id},
        )
        if target in ("agreed", "declined"):
            course.decision_comment = comment
        course.status, course.status_changed_at = target, now
    session.flush()
    return course


def _check_move(session: Session, course: TestCourse, *, target: Any, party: str,
                now: datetime) -> None:
    if not isinstance(target, str):
        raise Invalid.field("status", "must be a status name")
    problem = lifecycle.transition_problem(course.status, target, party=party)
    if problem is not None:
        if problem.kind == "party":
            raise Forbidden(problem.message)
        if problem.kind == "unknown":
            raise Invalid.field("status", problem.message)
        raise Conflict(problem.message)
    if target == "agreed":
        # Two hosts agreeing at once must not both take the last slot.
        session.execute(sa.select(TestEnvironment.id)
                        .where(TestEnvironment.id == course.environment_id).with_for_update())
    if target == "agreed" and free_slots(session, now=now).get(course.environment_id, 0) <= 0:
        raise Conflict("the environment has no free slots this year")
    if target == "evaluated" and not course.outcomes:
        raise Conflict("record at least one outcome on the effect dimensions before evaluating")


def _require_open_for_outcomes(course: TestCourse, actor: Principal) -> str:
    party = party_of(actor, course)
    if party is None:
        raise Forbidden("only the company and the hosts record outcomes")
    if course.status not in lifecycle.OUTCOMES_OPEN:
        raise Conflict(f"outcomes and evidence are added while a course runs or is completed, "
                       f"not when it is {course.status}")
    return party


def _number(data: Mapping[str, Any], name: str, errors: list[dict[str, str]],
            *, required: bool) -> float | None:
    value = data.get(name)
    if value in (None, ""):
        if required:
            errors.append({"field": name, "message": "is required"})
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors.append({"field": name, "message": "must be a number"})
        return None
    if isinstance(value, bool) or not abs(number) < 1e12:
        errors.append({"field": name, "message": "must be a finite number"})
        return None
    return number


def record_outcome(session: Session, *, actor: Principal, course_id: int,
                   data: Mapping[str, Any]) -> TestOutcome:
    """Record (or replace) the actor's side's outcome on one effect dimension.

    Raises NotFound, Forbidden, Conflict (course not running/completed) or Invalid.
    """
    course = require_test_course(session, actor=actor, course_id=course_id)
    party = _require_open_for_outcomes(course, actor)
    errors: list[dict[str, str]] = []
    dimension = data.get("dimension")
    if dimension not in lifecycle.EFFECT_DIMENSIONS:
        errors.append({"field": "dimension", "message": "must be one of "
                       + ", ".join(lifecycle.EFFECT_DIMENSIONS)})
    metric = _text(data, "metric", MAX_TITLE, errors, required=True)
    unit = _text(data, "unit", 40, errors) or ""
    note = _text(data, "note", MAX_TEXT, errors) or ""
    baseline = _number(data, "baseline", errors, required=False)
    result = _number(data, "result", errors, required=True)
    better = data.get("better") or (
        lifecycle.EFFECT_DIMENSIONS[dimension].better if dimension in
        lifecycle.EFFECT_DIMENSIONS else "lower"
    )
    if better not in ("lower", "higher"):
        errors.append({"field": "better", "message": "must be lower or higher"})
    if errors or metric is None or result is None:
        raise Invalid("the outcome is not valid", errors=errors)
    outcome = next((o for o in course.outcomes
                    if o.dimension == dimension and o.party == party), None)
    if outcome is None:
        outcome = TestOutcome(course=course, dimension=dimension, party=party,
                              recorded_by_org_id=actor.org_id or course.company_org_id)
        session.add(outcome)
    outcome.metric, outcome.unit, outcome.note = metric, unit, note
    outcome.baseline, outcome.result, outcome.better = baseline, result, better
    session.flush()
    return outcome


def detect_evidence_type(data: bytes) -> str | None:
    """The content type of an evidence file judged by its bytes, or None if not accepted."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    first = text.split("\n", 1)[0]
    return "text/csv" if first.count(",") + first.count(";") >= 1 else "text/plain"


def _safe_filename(filename: str, content_type: str) -> str:
    name = PurePath(filename.replace("\\", "/")).name
    for danish, ascii_ in (("æ", "ae"), ("ø", "oe"), ("å", "aa"), ("Æ", "Ae"), ("Ø", "Oe"),
                           ("Å", "Aa")):
        name = name.replace(danish, ascii_)
    name = _SAFE_FILENAME.sub("_", name).strip(" ._")
    stem = (name.rsplit(".", 1)[0] if "." in name else name)[:150] or "evidence"
    return stem + EVIDENCE_TYPES[content_type]


def add_evidence(session: Session, *, actor: Principal, course_id: int, filename: str,
                 data: bytes, dimension: str | None, keyring: Keyring,
                 data_dir: Path) -> EvidenceFile:
    """Store an evidence file encrypted under the data directory.

    Only PDF, PNG, JPEG, CSV and plain text are accepted (judged by content, not by name), up
    to 10 MB, and text files must not contain CPR numbers. Raises NotFound, Forbidden,
    Conflict, TooLarge or Invalid; nothing is stored when it raises.
    """
    course = require_test_course(session, actor=actor, course_id=course_id)
    _require_open_for_outcomes(course, actor)
    if len(data) > EVIDENCE_MAX_BYTES:
        raise TooLarge(f"evidence files may be at most {EVIDENCE_MAX_BYTES // (1024 * 1024)} MB")
    if not data:
        raise Invalid.field("file", "the file is empty")
    if dimension is not None and dimension not in lifecycle.EFFECT_DIMENSIONS:
        raise Invalid.field("dimension", "unknown effect dimension")
    content_type = detect_evidence_type(data)
    if content_type is None:
        raise Invalid.field("file", "only PDF, PNG, JPEG, CSV and plain-text files are accepted")
    if content_type.startswith("text/") and cpr.contains_cpr(data.decode("utf-8")):
        raise Invalid.field("file", "the file contains CPR numbers; remove them and try again")
    relative = f"evidence/{course.id}/{uuid.uuid4().hex}.bin"
    sha256 = keyring.write_encrypted(Path(data_dir) / relative, [data],
                                     context=_evidence_context(relative))
    evidence = EvidenceFile(
        course=course, dimension=dimension, filename=_safe_filename(filename, content_type),
        content_type=content_type, size_bytes=len(data), sha256=sha256, path=relative,
        uploaded_by_org_id=actor.org_id or course.company_org_id,
    )
    session.add(evidence)
    audit.record_audit(
        session, actor=actor, action="test_course.evidence_added", subject_type="test_course",
        subject_id=str(course.id), details={"sha256": sha256, "size_bytes": len(data)},
    )
    session.flush()
    return evidence


def _evidence_context(relative_path: str) -> str:
    return f"testbeds-evidence:{relative_path}"


def read_evidence(session: Session, *, actor: Principal, evidence_id: int, keyring: Keyring,
                  data_dir: Path) -> tuple[EvidenceFile, bytes]:
    """Decrypt an evidence file the actor may see; raises NotFound, Forbidden or Invalid."""
    evidence = session.get(EvidenceFile, evidence_id)
    if evidence is None:
        raise NotFound(f"evidence file {evidence_id} does not exist")
    require_test_course(session, actor=actor, course_id=evidence.course_id)
    data = b"".join(keyring.read_encrypted(Path(data_dir) / evidence.path,
                                           context=_evidence_context(evidence.path)))
    if hashlib.sha256(data).hexdigest() != evidence.sha256:
        raise Invalid("the stored evidence file does not match its checksum")
    return evidence, data


# Procurement dossier ----------------------------------------------------------------------------


def build_dossier(session: Session, *, actor: Principal, course_id: int,
                  now: datetime) -> dossiers.Dossier:
    """The procurement dossier of a completed or evaluated course; raises NotFound,
    Forbidden or Conflict (the course has not finished)."""
    course = require_test_course(session, actor=actor, course_id=course_id)
    if course.status not in lifecycle.DOSSIER_READY:
        raise Conflict("a procurement dossier exists once the test course is completed")
    return _dossier_of(course, generated_at=now)


def _dossier_of(course: TestCourse, *, generated_at: datetime) -> dossiers.Dossier:
    solution, environment = course.solution, course.environment
    procurement = course.procurement
    return dossiers.Dossier(
        course_id=course.id, title=course.title, status=course.status, goal=course.goal,
        company_name=course.company.name, company_country=course.company.country,
        solution_name=solution.name, solution_description=solution.description,
        themes=tuple(solution.themes), target_groups=tuple(solution.target_groups),
        trl=solution.trl, environment_name_da=environment.name_da,
        environment_name_en=environment.name_en,
        hosts=tuple(host.org.name for host in environment.hosts),
        planned_start=course.planned_start, planned_end=course.planned_end,
        participants_planned=course.participants_planned,
        yearly_cost_dkk=course.yearly_cost_dkk, need=course.procurement_need,
        value=course.procurement_value, market=course.procurement_market,
        generated_at=generated_at,
        outcomes=tuple(
            dossiers.DossierOutcome(
                dimension=o.dimension, party=o.party, metric=o.metric, unit=o.unit,
                baseline=o.baseline, result=o.result, change=o.change, note=o.note,
            )
            for o in course.outcomes
        ),
        evidence=tuple(
            dossiers.DossierEvidence(
                id=e.id, filename=e.filename, content_type=e.content_type,
                size_bytes=e.size_bytes, sha256=e.sha256, dimension=e.dimension,
            )
            for e in course.evidence
        ),
        timeline=tuple((event.to_status, event.at.date()) for event in course.events),
        procurement=dossiers.DossierProcurement(
            buyer=procurement.buyer.name, started_at=procurement.started_at
        ) if procurement else None,
    )


def start_procurement(session: Session, *, actor: Principal, course_id: int, note: str,
                      now: datetime) -> Procurement:
    """Record that a public buyer starts an innovative procurement based on a test course.

    Raises Forbidden (not staff of a public body), Conflict (not finished, already started)
    or Invalid.
    """
    course = require_test_course(session, actor=actor, course_id=course_id)
    if not is_public_buyer(actor) and not actor.is_operator:
        raise Forbidden("procurements are started by a municipality, region or national body")
    if course.status not in lifecycle.DOSSIER_READY:
        raise Conflict("a procurement can start once the test course is completed")
    if course.procurement is not None:
        raise Conflict("a procurement has already started for this test course")
    errors: list[dict[str, str]] = []
    clean_note = _text({"note": note}, "note", MAX_TEXT, errors) or ""
    if errors:
        raise Invalid("the note is not valid", errors=errors)
    buyer_id = actor.org_id
    if buyer_id is None:
        raise Forbidden("procurements are started on behalf of an organisation")
    procurement = Procurement(course=course, buyer_org_id=buyer_id, started_by_name=actor.name,
                              note=clean_note, started_at=now)
    session.add(procurement)
    audit.record_audit(
        session, actor=actor, action="procurement.started", subject_type="test_course",
        subject_id=str(course.id), details={"buyer_org_id": buyer_id},
    )
    session.flush()
    return procurement


# Figures for the KPIs -----------------------------------------------------------------------


@dataclass(frozen=True)
class CourseFigures:
    """What the test courses contribute to the cluster's key figures."""

    courses_by_status: dict[str, int]
    municipalities_involved: int
    hospitals_involved: int
    foreign_companies: int
    procurements: int


def course_figures(session: Session) -> CourseFigures:
    """Courses per status, the municipalities, hospitals and foreign companies involved, and
    the procurements started, from the platform's records."""
    agreed = TestCourse.status.in_(lifecycle.AGREED_OR_LATER)
    by_status: dict[str, int] = {status: count for status, count in session.execute(
        sa.select(TestCourse.status, sa.func.count()).group_by(TestCourse.status))}
    involved_hosts = session.execute(
        sa.select(TestEnvironmentHost.sector, TestEnvironmentHost.org_id).distinct()
        .join(TestCourse, TestCourse.environment_id == TestEnvironmentHost.environment_id)
        .where(agreed)
    ).all()
    buyers = session.execute(
        sa.select(Organisation.kind, Organisation.id).join(
            Procurement, Procurement.buyer_org_id == Organisation.id)
    ).all()
    municipalities = {org for sector, org in involved_hosts if sector == "municipality"}
    municipalities |= {org for kind, org in buyers if kind == "municipal"}
    hospitals = {org for sector, org in involved_hosts if sector == "hospital"}
    foreign = session.scalar(
        sa.select(sa.func.count(sa.distinct(TestCourse.company_org_id)))
        .join(Organisation, Organisation.id == TestCourse.company_org_id)
        .where(agreed, Organisation.country != "DK")
    ) or 0
    procurements = session.scalar(sa.select(sa.func.count()).select_from(Procurement)) or 0
    return CourseFigures(courses_by_status=by_status,
                         municipalities_involved=len(municipalities),
                         hospitals_involved=len(hospitals), foreign_companies=foreign,
                         procurements=procurements)
