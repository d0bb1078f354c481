"""Demo content of the consent domain: a realistic mix of citizens' choices.

Most citizens never touch their settings; some opt out of all secondary use (a few of them later
take it back), some permit company research or public research, and some deny one data holder.
The demo family (Mette and her son Oscar) get a short history of their own, Oscar's recorded by
his mother.
"""
from datetime import UTC, datetime, time, timedelta

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.catalog.purposes import load_taxonomy
from marketplace.consent import services
from marketplace.consent.models import ConsentEvent
from marketplace.identity.demo import DemoWorld

# Share of the population per kind of choice (the rest never changes anything).
SHARES = (("opt_out", 0.05), ("permit_company", 0.08), ("permit_public", 0.06),
          ("deny_holder", 0.03), ("deny_test_environment", 0.02))
DENIED_HOLDERS = ("region-hovedstaden", "herlev-hospital", "rigshospitalet",
                  "koebenhavns-kommune", "sundhedsdatastyrelsen")
WITHDRAWN_SHARE = 0.15  # of those who opted out, the share who later took it back
HISTORY_DAYS = 400


def seed_demo(session: Session, world: DemoWorld) -> None:
    """Add this domain's demo content to the demo world (idempotent)."""
    already = session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)
                             .where(ConsentEvent.channel == "demo"))
    if already:
        return
    rows = _family_events(world) + _population_events(world)
    rows.sort(key=lambda row: row["at"])
    for start in range(0, len(rows), 5000):
        session.execute(sa.insert(ConsentEvent), rows[start:start + 5000])
    services.bump_consent_revision(session)
    session.flush()


def _event(world: DemoWorld, *, citizen_id: int, cpr: str, at: datetime, decision: str,
           purpose: str | None, scope_type: str = "all", scope_id: int | None = None,
           actor_citizen_id: int | None = None) -> dict:
    return {"citizen_id": citizen_id, "subject_key": world.keyring.blind_index(cpr),
            "actor_citizen_id": actor_citizen_id or citizen_id, "at": at, "decision": decision,
            "scope_type": scope_type, "scope_id": scope_id, "purpose": purpose,
            "notice_version": load_taxonomy().notice_version, "channel": "demo"}


def _day(world: DemoWorld, days_ago: int, seconds: int = 0) -> datetime:
    start = datetime.combine(world.today - timedelta(days=days_ago), time(9), tzinfo=UTC)
    return start + timedelta(seconds=seconds)


def _family_events(world: DemoWorld) -> list[dict]:
    mother, son = world.population.iloc[0], world.population.iloc[1]
    mother_id = int(mother["citizen_id"])
    return [
        _event(world, citizen_id=mother_id, cpr=mother["cpr"], at=_day(world, 210),
               decision="permit", purpose="public_research"),
        _event(world, citizen_id=mother_id, cpr=mother["cpr"], at=_day(world, 90),
               decision="permit", purpose="test_environment"),
        _event(world, citizen_id=int(son["citizen_id"]), cpr=son["cpr"], at=_day(world, 90, 60),
               decision="permit", purpose="public_research", actor_citizen_id=mother_id),
    ]


def _population_events(world: DemoWorld) -> list[dict]:
    population = world.population.iloc[2:]
    rng = np.random.default_rng(world.seed + 3)
    draw = rng.random(len(population))
    bounds = np.cumsum([share for _kind, share in SHARES])
    kinds = np.searchsorted(bounds, draw, side="right")
    holders = [world.orgs[slug].id for slug in DENIED_HOLDERS if slug in world.orgs]
    rows: list[dict] = []
    for position in np.flatnonzero(kinds < len(SHARES)):
        person = population.iloc[position]
        kind = SHARES[kinds[position]][0]
        days_ago = int(rng.integers(2, HISTORY_DAYS))
        at = _day(world, days_ago, int(rng.integers(0, 36_000)))
        common = {"citizen_id": int(person["citizen_id"]), "cpr": person["cpr"]}
        if kind == "opt_out":
            rows.append(_event(world, **common, at=at, decision="opt_out", purpose=None))
            if rng.random() < WITHDRAWN_SHARE:
                rows.append(_event(world, **common, at=at + timedelta(days=days_ago // 2),
                                   decision="opt_out_withdrawn", purpose=None))
        elif kind == "permit_company":
            rows.append(_event(world, **common, at=at, decision="permit",
                               purpose="company_research"))
        elif kind == "permit_public":
            rows.append(_event(world, **common, at=at, decision="permit",
                               purpose="public_research"))
        elif kind == "deny_holder" and holders:
            rows.append(_event(world, **common, at=at, decision="deny",
                               purpose="company_research", scope_type="holder",
                               scope_id=holders[int(rng.integers(0, len(holders)))]))
        elif kind == "deny_test_environment":
            rows.append(_event(world, **common, at=at, decision="deny",
                               purpose="test_environment"))
    return rows
