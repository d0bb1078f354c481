"""Extracts of the delivery domain: finding and requesting them, and their API form."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.access import services as access_services
from marketplace.access.models import Permit
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Dataset
from marketplace.delivery.models import Extract
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.identity.principal import Principal
from marketplace.languages import N_

# --- finding extracts ------------------------------------------------------------------------


def get_extract(session: Session, *, extract_id: int) -> Extract | None:
    return session.get(Extract, extract_id)


def require_extract(session: Session, *, extract_id: int) -> Extract:
    """Return the extract; raise NotFound."""
    extract = get_extract(session, extract_id=extract_id)
    if extract is None:
        raise NotFound("udtræk {id} findes ikke", id=extract_id)
    return extract


def require_visible_extract(session: Session, *, extract_id: int, actor: Principal) -> Extract:
    """Return the extract for the permit's company or the operator; raise NotFound (also for
    another organisation's extract: its id does not reveal that it exists)."""
    extract = require_extract(session, extract_id=extract_id)
    if not (actor.is_operator or actor.belongs_to(extract.company_org_id)):
        raise NotFound("udtræk {id} findes ikke", id=extract_id)
    return extract


def list_extracts(session: Session, *, actor: Principal, permit_id: int | None = None
                  ) -> list[Extract]:
    """The actor's company's extracts (all of them for the operator), newest first."""
    query = sa.select(Extract).order_by(Extract.id.desc())
    if not actor.is_operator:
        if actor.org_id is None:
            raise Forbidden("kun organisationer har udtræk")
        query = query.where(Extract.company_org_id == actor.org_id)
    if permit_id is not None:
        query = query.where(Extract.permit_id == permit_id)
    return list(session.scalars(query))


EXTRACT_STATES = ("queued", "running", "succeeded", "failed")


def page_extract_queue(session: Session, *, actor: Principal, status: str | None, offset: int,
                       limit: int) -> tuple[list[Extract], int]:
    """One page of every company's extracts, newest first, with the total: the
    operator's view of the queue. Raises Forbidden for anyone else."""
    if not actor.is_operator:
        raise Forbidden("kun platformens operatør ser hele køen af udtræk")
    query = sa.select(Extract)
    if status is not None:
        query = query.where(Extract.status == status)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    items = session.scalars(query.order_by(Extract.created_at.desc(), Extract.id.desc())
                            .offset(offset).limit(limit))
    return list(items), total


@dataclass(frozen=True)
class PermitOverview:
    permit: Permit
    datasets: list[Dataset]
    extracts: list[Extract]
    status: str


def list_usable_permits(session: Session, *, actor: Principal, now: datetime
                        ) -> list[PermitOverview]:
    """The permits of the actor's company with their datasets and extracts, newest first."""
    if actor.org_id is None and not actor.is_operator:
        raise Forbidden("kun organisationer har tilladelser")
    query = sa.select(Permit).order_by(Permit.id.desc())
    if not actor.is_operator:
        query = query.where(Permit.company_org_id == actor.org_id)
    permits = list(session.scalars(query))
    extracts = list_extracts(session, actor=actor)
    overviews = []
    for permit in permits:
        datasets = [
            d for d in (catalog_services.get_dataset(session, dataset_id=i)
                        for i in permit.dataset_ids) if d is not None
        ]
        overviews.append(PermitOverview(
            permit=permit,
            datasets=datasets,
            extracts=[e for e in extracts if e.permit_id == permit.id],
            status=permit.status_at(now),
        ))
    return overviews


# --- requesting ------------------------------------------------------------------------------


def permitted_entry(permit: Permit, dataset_id: int | None) -> dict:
    entries = permit.datasets
    if dataset_id is None:
        if len(entries) != 1:
            raise Invalid.field("dataset_id", N_("tilladelsen omfatter flere datasæt: angiv ét"))
        return entries[0]
    for entry in entries:
        if entry["dataset_id"] == dataset_id:
            return entry
    raise Invalid.field("dataset_id", N_("tilladelsen omfatter ikke datasæt "
                                      "{dataset}"), dataset=dataset_id)


def require_downloadable_permit(permit: Permit) -> None:
    """Raise Conflict for a permit to pseudonymised (record-level) data: such data stays in
    the secure processing environment (EHDS Art. 73) and is analysed in the permit's workspace.
    """
    if permit.pseudonymised:
        raise Conflict(
            "pseudonymiserede data på personniveau kan ikke hentes; analysér dem i det sikre "
            "analysemiljø på /workspace/{permit} (API: /api/v1/permits/{permit}/workspace)",
            permit=permit.id,
            title=N_("Data på personniveau bliver i det sikre analysemiljø"))


def is_record_level(session: Session, *, extract: Extract) -> bool:
    """Whether the extract's permit is to pseudonymised data (analysed in the workspace only)."""
    return access_services.require_permit(session, permit_id=extract.permit_id).pseudonymised


def request_extract(session: Session, *, actor: Principal, permit_id: int,
                    dataset_id: int | None, now: datetime) -> Extract:
    """Queue an extract of one dataset under a permit the actor's company may use now.

    Raises NotFound, Forbidden (another company, or the operator: an extract ordered by anyone
    but the company would appear in its list as if it had ordered it), Conflict (permit expired
    or revoked, or no valid data version) and Invalid (dataset not covered by the permit).
    """
    permit = access_services.require_usable_permit(session, permit_id=permit_id, actor=actor,
                                                   now=now)
    if not actor.belongs_to(permit.company_org_id):
        raise Forbidden("kun virksomheden med tilladelsen kan bestille udtræk under den; "
                        "platformens operatør kan ikke bestille på en virksomheds vegne")
    require_downloadable_permit(permit)
    entry = permitted_entry(permit, dataset_id)
    dataset = catalog_services.require_dataset(session, dataset_id=entry["dataset_id"])
    if dataset.status == "retired":
        raise Conflict("datasættet er trukket tilbage")
    version = catalog_services.current_version(session, dataset=dataset)
    if version is None or not version.sha256:
        raise Conflict("datasættet har ingen gyldig dataversion at lave udtræk fra")
    extract = Extract(
        permit_id=permit.id,
        dataset_id=dataset.id,
        company_org_id=permit.company_org_id,
        data_version_id=version.id,
        data_version_sha256=version.sha256,
        requested_by=access_services.actor_label(actor),
        status="queued",
        progress=0.0,
        attempts=0,
        created_at=now,
    )
    session.add(extract)
    session.flush()
    audit.record_audit(
        session, actor=actor, action="extract.requested", subject_type="extract",
        subject_id=str(extract.id),
        details={"permit_id": permit.id, "dataset_id": dataset.id, "data_version": version.id},
    )
    return extract


def retry_extract(session: Session, *, actor: Principal, extract_id: int, now: datetime
                  ) -> Extract:
    """Queue a failed extract again; raise Conflict unless it failed, Forbidden for others."""
    extract = require_visible_extract(session, extract_id=extract_id, actor=actor)
    access_services.require_usable_permit(session, permit_id=extract.permit_id, actor=actor,
                                          now=now)
    if extract.status != "failed":
        raise Conflict("kun et mislykket udtræk kan prøves igen")
    extract.status, extract.progress, extract.error = "queued", 0.0, None
    extract.attempts = 0
    extract.lease_owner = extract.lease_expires_at = None
    audit.record_audit(session, actor=actor, action="extract.retried",
                                 subject_type="extract", subject_id=str(extract.id), details={})
    return extract


def extract_to_json(extract: Extract) -> dict:
    """The API form of an extract."""
    body = {
        "id": extract.id,
        "permit_id": extract.permit_id,
        "dataset_id": extract.dataset_id,
        "status": extract.status,
        "progress": round(extract.progress, 4),
        "attempts": extract.attempts,
        "created_at": extract.created_at.isoformat() if extract.created_at else None,
        "finished_at": extract.finished_at.isoformat() if extract.finished_at else None,
    }
    if extract.error:
        body["error"] = extract.error
    if extract.status == "succeeded" and extract.manifest:
        body["manifest"] = extract.manifest
        body["report"] = extract.report
    return body
