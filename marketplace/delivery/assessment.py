"""What an anonymity assessment must take into account besides the extracted dataset itself.

A company links everything it holds: the permit's datasets share pseudonyms, and content links
what it received under its other permits. So a person's whole record spans
- the other datasets of the same permit (their levels are chosen together with this one), and
- the datasets the company already received under other permits, at the levels they were
  released at (those files are out; the search can only generalise what is still to come).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.access import services as access_services
from marketplace.access.models import Permit
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Dataset, DataVersion
from marketplace.delivery import pipeline
from marketplace.delivery.models import Extract

PlanOf = Callable[[Permit, Dataset], pipeline.ExtractPlan]
FramesOf = Callable[[DataVersion, pipeline.ExtractPlan], Iterator[pd.DataFrame]]


def companions_for(session: Session, *, permit: Permit, dataset: Dataset, plan_of: PlanOf,
                   frames_of: FramesOf) -> list[pipeline.Companion]:
    """The datasets whose records join this extract's persons' records (see the module)."""
    companions = []
    for entry in permit.datasets:
        if entry["dataset_id"] == dataset.id:
            continue
        other = catalog_services.get_dataset(session, dataset_id=entry["dataset_id"])
        if companion := _companion(session, permit=permit, dataset=other, plan_of=plan_of,
                                   frames_of=frames_of, fixed=None):
            companions.append(companion)
    released = session.scalars(
        sa.select(Extract)
        .where(Extract.company_org_id == permit.company_org_id, Extract.permit_id != permit.id,
               Extract.status == "succeeded")
        .order_by(Extract.id.desc()))
    seen: set[tuple[int, int]] = set()
    for extract in released:
        if (extract.permit_id, extract.dataset_id) in seen:
            continue  # the newest extract of a permit's dataset stands for the older ones
        seen.add((extract.permit_id, extract.dataset_id))
        other_permit = access_services.get_permit(session, permit_id=extract.permit_id)
        other = catalog_services.get_dataset(session, dataset_id=extract.dataset_id)
        levels = dict((extract.report or {}).get("generalisation") or {})
        if other_permit is None:
            continue
        if companion := _companion(session, permit=other_permit, dataset=other,
                                   plan_of=plan_of, frames_of=frames_of, fixed=levels):
            companions.append(companion)
    return companions


def _companion(session: Session, *, permit: Permit, dataset: Dataset | None, plan_of: PlanOf,
               frames_of: FramesOf, fixed: dict[str, int] | None) -> pipeline.Companion | None:
    if dataset is None or dataset.subject_column is None:
        return None
    version = catalog_services.current_version(session, dataset=dataset)
    if version is None or not version.sha256:
        return None
    plan = plan_of(permit, dataset)
    return pipeline.Companion(frames=lambda: frames_of(version, plan), plan=plan, fixed=fixed)
