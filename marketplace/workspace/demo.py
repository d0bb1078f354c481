"""Demo content of the secure processing environment: a permit to pseudonymised data.

Pulmo Monitor applies for pseudonymised admissions from Herlev og Gentofte Hospital to develop
a readmission model; the hospital approves, and the permit opens a workspace at
/workspace/<permit> where the company's staff (sign in as company-pulmo) run scripts.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, time

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from marketplace.access import services as access_services
from marketplace.access.models import AccessRequest
from marketplace.access.ports import AccessEngine
from marketplace.access.schemas import Application
from marketplace.catalog import services as catalog_services
from marketplace.errors import DomainError
from marketplace.identity import services as identity_services
from marketplace.identity.demo import DemoWorld
from marketplace.identity.principal import Principal

log = logging.getLogger(__name__)

TITLE = "Genindlæggelsesmodel i det sikre analysemiljø"


def _staff(session: Session, slug: str, role: str) -> Principal | None:
    org = identity_services.require_org(session, slug=slug)
    user = next((u for u in org.users if u.role == role), None)
    return identity_services.staff_principal(user) if user is not None else None


def seed_demo(session: Session, world: DemoWorld) -> None:
    """Add a permit to pseudonymised data with a workspace (idempotent)."""
    if session.scalar(sa.select(AccessRequest.id).where(AccessRequest.title == TITLE)):
        return
    holder = world.orgs.get("herlev-hospital")
    company = _staff(session, "pulmo-monitor", "company_member")
    reviewer = _staff(session, "herlev-hospital", "holder_admin")
    if holder is None or company is None or reviewer is None:
        return
    datasets = [d for d in catalog_services.list_published_datasets(
        session, publisher_org_ids=[holder.id]) if d.subject_column]
    if not datasets:
        return
    dataset = datasets[0]
    # The holder marks its CPR column unshareable: the rows stay record-level without it.
    columns = [c["name"] for c in dataset.columns
               if c.get("role") != "direct_identifier" and c.get("shareable", True)]
    now = datetime.combine(world.today, time(10), tzinfo=UTC)
    body = {"title": TITLE,
            "description": "Vi udvikler en model, der forudsiger genindlæggelse inden for 30 "
                           "dage, og har brug for forløb pr. person; analysen sker i "
                           "platformens sikre analysemiljø.",
            "purpose": "company_research", "datasets": [{"id": dataset.id, "columns": columns}],
            "diseases": ["DJ44"], "cohort": {"age": [18, 100]}, "duration_days": 365,
            "ethics_approval": "VEK H-24012399", "pseudonymised": True,
            "pseudonymisation_justification": "Forløb pr. person kræver et pseudonym; data "
                                              "forlader ikke det sikre analysemiljø.",
            "safeguards": "Kun godkendte resultater forlader miljøet.",
            "processors": [{"name": "Projektleder", "role": "dataansvarlig"}]}
    try:
        engine: AccessEngine = current_app.extensions["marketplace.access_engine"]
        request = access_services.submit_application(
            session, actor=company, application=Application.model_validate(body),
            engine=engine, now=now)
        if request.status != "permitted":
            access_services.review_application(
                session, actor=reviewer, request_id=request.id,
                decision="approve", comment="Godkendt til analyse i det sikre miljø.", now=now)
    except DomainError as error:
        log.warning("demo workspace permit skipped: %s", error.detail)
