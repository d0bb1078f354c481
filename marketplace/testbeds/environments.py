"""Test environments: their entries, hosts, free slots and linked datasets."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.catalog import services as catalog_services
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.identity import services as identity_services
from marketplace.identity.principal import Principal
from marketplace.languages import N_
from marketplace.testbeds.commands import VOCABULARY, EnvironmentChanges, NewEnvironment
from marketplace.testbeds.models import (
    SECTORS,
    TestCourse,
    TestEnvironment,
    TestEnvironmentHost,
)

HOST_ROLES = frozenset({"host_member", "holder_admin"})

# Environments -----------------------------------------------------------------------------------


def get_test_environment(session: Session, *, environment_id: int) -> TestEnvironment | None:
    return session.get(TestEnvironment, environment_id)


def require_test_environment(session: Session, *, environment_id: int) -> TestEnvironment:
    """Return the environment; raises NotFound."""
    environment = get_test_environment(session, environment_id=environment_id)
    if environment is None:
        raise NotFound("testmiljø {id} findes ikke", id=environment_id)
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
        raise Invalid.field("theme", N_("ukendt tema {theme}"), theme=theme)
    return [env for env in environments if theme in env.themes]


def hosts_environment(actor: Principal, environment: TestEnvironment) -> bool:
    """Tell whether the actor speaks for one of the environment's host organisations."""
    if actor.is_operator:
        return True
    if actor.org_id not in environment.host_org_ids:
        return False
    return actor.kind == "client" or actor.role in HOST_ROLES


def require_host(actor: Principal, environment: TestEnvironment) -> None:
    if not hosts_environment(actor, environment):
        raise Forbidden("kun testmiljøets værter kan gøre dette")


def hosted_environment_ids(session: Session, *, actor: Principal) -> set[int]:
    if actor.org_id is None or not (actor.kind == "client" or actor.role in HOST_ROLES):
        return set()
    rows = session.scalars(
        sa.select(TestEnvironmentHost.environment_id).where(
            TestEnvironmentHost.org_id == actor.org_id
        )
    )
    return set(rows)


def _published_datasets(session: Session, dataset_ids: list[int]) -> list[int]:
    """The ids as stored; raises Invalid naming those not published in the catalogue."""
    missing = [
        dataset_id for dataset_id in dataset_ids
        if (dataset := catalog_services.get_dataset(session, dataset_id=dataset_id)) is None
        or dataset.status != "published"
    ]
    if missing:
        raise Invalid.field("dataset_ids", N_("ikke udgivet i kataloget: {ids}"),
                            ids=", ".join(map(str, missing)))
    return sorted(set(dataset_ids))


def _stored_changes(session: Session, changes: EnvironmentChanges) -> dict[str, Any]:
    clean = changes.given()
    if clean.get("dataset_ids") is not None:
        clean["dataset_ids"] = _published_datasets(session, clean["dataset_ids"])
    # A field sent as null changes nothing (the name is refused by the command).
    return {name: value for name, value in clean.items() if value is not None}


def update_test_environment(session: Session, *, actor: Principal, environment_id: int,
                            changes: EnvironmentChanges) -> TestEnvironment:
    """Change an environment's entry; raises NotFound, Forbidden (not a host) or Invalid."""
    environment = require_test_environment(session, environment_id=environment_id)
    require_host(actor, environment)
    clean = _stored_changes(session, changes)
    low = clean.get("trl_min", environment.trl_min)
    high = clean.get("trl_max", environment.trl_max)
    if low > high:
        raise Invalid.field("trl_max", N_("må ikke være under mindste TRL"))
    for name, value in clean.items():
        setattr(environment, name, value)
    session.flush()
    return environment


def create_test_environment(session: Session, *, actor: Principal,
                            environment: NewEnvironment) -> TestEnvironment:
    """Add an environment hosted by the named organisations (operator only).

    Raises Forbidden, Conflict (slug taken) or Invalid (bad slug, unknown host or sector).
    """
    if not actor.is_operator:
        raise Forbidden("kun platformens operatør opretter testmiljøer")
    slug = environment.slug
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,79}", slug):
        raise Invalid.field("slug", N_("brug 2-80 små bogstaver, cifre og bindestreger"))
    if get_test_environment_by_slug(session, slug=slug) is not None:
        raise Conflict("der findes allerede et testmiljø med navnet {slug}", slug=slug)
    clean = _stored_changes(session, environment)
    clean.pop("slug", None)
    clean.pop("hosts", None)
    host_rows = []
    for position, host in enumerate(environment.hosts):
        org = identity_services.get_org(session, slug=host.org)
        if org is None or host.sector not in SECTORS:
            raise Invalid.field("hosts", N_("ukendt vært {host} eller sektor {sector}"),
                                host=host.org, sector=host.sector)
        host_rows.append(TestEnvironmentHost(org_id=org.id, sector=host.sector,
                                             position=position))
    # The column defaults apply only on insert; the range check below needs them now.
    created = TestEnvironment(slug=slug, name_en=clean.get("name_en", clean["name_da"]),
                              hosts=host_rows, trl_min=1, trl_max=9, capacity_per_year=0)
    for name, value in clean.items():
        setattr(created, name, value)
    if created.trl_min > created.trl_max:
        raise Invalid.field("trl_max", N_("må ikke være under mindste TRL"))
    session.add(created)
    session.flush()
    return created


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
