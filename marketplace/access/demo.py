"""Demo content of the access domain: applications that show each outcome of the engine.

- Pulmo Monitor's home-care study in Albertslund is permitted at once;
- its COPD study on Herlev's non-public admissions waits for Herlev's review;
- Lumen Care (not accredited) asking for marketing is denied with both reasons;
- CareBridge (Germany) researching hospital contacts is permitted and shows in the register.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from marketplace.access import services
from marketplace.access.models import AccessRequest
from marketplace.access.ports import AccessEngine
from marketplace.access.schemas import Application
from marketplace.catalog import services as catalog_services
from marketplace.identity import services as identity_services
from marketplace.identity.demo import DemoWorld
from marketplace.identity.principal import ROLE_SCOPES, Principal


@dataclass(frozen=True)
class DemoApplication:
    company: str
    holder: str
    title: str
    description: str
    purpose: str
    diseases: tuple[str, ...] = ()
    ethics_approval: str = ""


DEMO_APPLICATIONS = (
    DemoApplication(
        "pulmo-monitor", "albertslund-kommune", "Hjemmepleje og KOL-monitorering i Albertslund",
        "Vi vil undersøge, om borgere med hjemmepleje har gavn af vores KOL-monitor, før "
        "kommunen overvejer et indkøb.", "company_research"),
    DemoApplication(
        "pulmo-monitor", "herlev-hospital", "Genindlæggelser efter KOL-indlæggelse",
        "Udvikling af en algoritme, der forudsiger genindlæggelse inden for 30 dage efter en "
        "KOL-indlæggelse.", "company_research", diseases=("DJ44",),
        ethics_approval="VEK H-24012345"),
    DemoApplication(
        "lumen-care", "albertslund-kommune", "Målrettet markedsføring af lysterapi",
        "Vi vil finde borgere, der kunne købe vores lysterapilampe.", "advertising_marketing"),
    DemoApplication(
        "carebridge", "sundhedsdatastyrelsen", "Sygehuskontakter før og efter telemedicin",
        "Europæisk sammenligning af sygehuskontakter før og efter indførelse af telemedicin.",
        "public_research"),
)


def _applicant(session: Session, slug: str) -> Principal:
    """The company's own staff member where the demo has one, else its API client."""
    org = identity_services.require_org(session, slug=slug)
    user = next((u for u in org.users if u.role == "company_member"), None)
    if user is not None:
        return identity_services.staff_principal(user)
    return Principal(kind="client", name=org.name, org_id=org.id, org_slug=org.slug,
                     org_kind=org.kind, scopes=ROLE_SCOPES["company_member"])


def seed_demo(session: Session, world: DemoWorld) -> None:
    """Add this domain's demo content to the demo world (idempotent)."""
    existing = set(session.scalars(sa.select(AccessRequest.title)))
    now = datetime.combine(world.today, time(9), tzinfo=UTC)
    # The engine create_app composed: delivery's cohort estimate and the test beds.
    engine: AccessEngine = current_app.extensions["marketplace.access_engine"]
    for demo in DEMO_APPLICATIONS:
        holder = world.orgs.get(demo.holder)
        if demo.title in existing or holder is None:
            continue
        datasets = catalog_services.list_published_datasets(session, publisher_org_ids=[holder.id])
        if not datasets:
            continue
        dataset = datasets[0]
        columns = [c["name"] for c in dataset.columns
                   if c.get("role") != "direct_identifier" and c.get("shareable", True)]
        body = {"title": demo.title, "description": demo.description, "purpose": demo.purpose,
                "datasets": [{"id": dataset.id, "columns": columns}],
                "diseases": list(demo.diseases), "cohort": {"age": [18, 100]},
                "duration_days": 365, "ethics_approval": demo.ethics_approval,
                "safeguards": "Analyse i platformens sikre behandlingsmiljø; ingen eksport af "
                              "mikrodata.",
                "processors": [{"name": "Projektleder", "role": "dataansvarlig"}]}
        services.submit_application(
            session, actor=_applicant(session, demo.company),
            application=Application.model_validate(body), engine=engine, now=now)
