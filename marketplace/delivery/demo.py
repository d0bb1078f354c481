"""Demo content of the delivery domain: one finished extract per dataset of each active permit."""
import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.access.models import Permit
from marketplace.db import utcnow
from marketplace.delivery import services
from marketplace.delivery.models import Extract
from marketplace.errors import DomainError
from marketplace.identity.demo import DemoWorld
from marketplace.identity.principal import Principal

log = logging.getLogger(__name__)


def _company(permit: Permit) -> Principal:
    org = permit.company
    return Principal(kind="client", name=f"demo {org.slug}", org_id=org.id, org_slug=org.slug,
                     org_kind=org.kind, scopes=frozenset({"access:request"}))


def seed_demo(session: Session, world: DemoWorld) -> None:
    """Build the missing demo extracts (idempotent: one per permit and dataset)."""
    now = utcnow()
    for permit in session.scalars(sa.select(Permit).order_by(Permit.id)):
        if permit.status_at(now) != "active":
            continue
        for dataset_id in permit.dataset_ids:
            exists = session.scalar(sa.select(Extract.id).where(
                Extract.permit_id == permit.id, Extract.dataset_id == dataset_id))
            if exists is not None:
                continue
            try:
                extract = services.request_extract(session, actor=_company(permit),
                                                   permit_id=permit.id, dataset_id=dataset_id,
                                                   now=now)
                services.claim_next_extract(session, worker="demo", now=now,
                                            extract_id=extract.id)
                services.run_extract(session, extract=extract, keyring=world.keyring,
                                     data_dir=world.data_dir, now=now)
            except DomainError as error:
                log.warning("demo extract of dataset %s under permit %s skipped: %s",
                            dataset_id, permit.id, error.detail)
