"""How the domains are put together where a lower one needs a higher one's work.

The domains form a directed graph (identity < catalog < consent < access < delivery < testbeds
< the newer domains); a lower domain never imports a higher one. Where access needs a cohort
estimate (delivery), the test environments (testbeds) or the results released from the secure
processing environment (workspace), create_app hands it these functions.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from marketplace import cpr
from marketplace.access import notices as access_notices
from marketplace.access.decisions import PolicyBundle
from marketplace.access.ports import AccessEngine
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Dataset
from marketplace.db import session_scope
from marketplace.delivery import cohorts as delivery_cohorts
from marketplace.delivery import services as delivery_services
from marketplace.security import Keyring
from marketplace.statistics import services as statistics_services
from marketplace.testbeds import services as testbeds_services
from marketplace.workspace import release as workspace_release
from marketplace.workspace import services as workspace_services

log = logging.getLogger(__name__)


class _CohortEstimate:
    """The delivery domain's estimate, with the keys and files it reads."""

    def __init__(self, *, keyring: Keyring, data_dir: Path) -> None:
        self.keyring, self.data_dir = keyring, data_dir

    def __call__(self, session: Session, *, datasets: Sequence[Dataset], cohort: dict[str, Any],
                 purpose: str, as_of: datetime) -> dict[int, int | None]:
        return delivery_cohorts.estimate_cohort_sizes(
            session, datasets=datasets, cohort=cohort, purpose=purpose, as_of=as_of,
            keyring=self.keyring, data_dir=self.data_dir)


class _TestBeds:
    """The testbeds domain's environments and courses, as access asks for them."""

    def environment_exists(self, session: Session, *, environment_id: int) -> bool:
        return testbeds_services.get_test_environment(
            session, environment_id=environment_id) is not None

    def course_environment(self, session: Session, *, course_id: int,
                           company_org_id: int) -> int:
        course = testbeds_services.require_course_for_access(
            session, course_id=course_id, company_org_id=company_org_id)
        return course.environment_id

    def environments(self, session: Session) -> Sequence[Any]:
        return testbeds_services.list_test_environments(session)

    def course(self, session: Session, *, course_id: int) -> Any | None:
        return testbeds_services.get_test_course(session, course_id=course_id)

    def open_courses(self, session: Session, *, company_org_id: int) -> Sequence[Any]:
        return testbeds_services.list_open_courses(session, company_org_id=company_org_id)


def released_results(session: Session, *, permit_ids: Sequence[int]
                     ) -> dict[int, list[dict[str, Any]]]:
    """Results released from permits' secure processing environments, per permit (for the
    public register and the citizens' "who used my data")."""
    released = workspace_release.released_outputs(session, permit_ids=permit_ids)
    return {permit_id: [output.to_json() for output in outputs]
            for permit_id, outputs in released.items()}


def public_statistics(session: Session, *, limit: int) -> list[dict[str, Any]]:
    """Statistics released to companies, for the public register of data uses."""
    return statistics_services.public_statistics_json(session, limit=limit)


def access_engine(*, policies: PolicyBundle, keyring: Keyring, data_dir: Path) -> AccessEngine:
    """The engine that decides applications, with delivery's estimate, the test beds, and the
    results released from the secure processing environment and the statistics released to
    companies (for the public register)."""
    return AccessEngine(policies=policies,
                        estimate_cohort=_CohortEstimate(keyring=keyring, data_dir=data_dir),
                        test_beds=_TestBeds(), released_results=released_results,
                        released_state=workspace_release.released_state,
                        public_statistics=public_statistics)


def warm_caches(app: Flask) -> int:
    """Fill the in-process caches the hot requests read (the cohort columns of every published
    dataset, the table that spells digits for the CPR check); return how many data versions
    were decoded. Run before forking workers."""
    cpr.warm()
    with app.app_context(), session_scope(app) as session:
        return delivery_cohorts.warm(session, keyring=app.extensions["marketplace.keyring"],
                                     data_dir=Path(app.config["DATA_DIR"]))


def remove_leftovers(sessions: sessionmaker[Session], *, data_dir: Path) -> list[Path]:
    """Remove what killed processes left in the data folder: spooled uploads of older releases,
    half-written files and stored files that no committed row points at (start-up of the app
    and of each job worker)."""
    spool = data_dir / "tmp"
    removed = [spool / name for name in catalog_services.clean_spool(spool)]
    if not any((data_dir / name).is_dir() for name in ("catalog", "extracts", "workspace")):
        return removed
    try:
        with sessions() as session:
            removed += catalog_services.remove_leftover_files(session, data_dir=data_dir)
            removed += delivery_services.remove_leftover_files(session, data_dir=data_dir)
            removed += workspace_services.remove_leftover_files(session, data_dir=data_dir)
    except SQLAlchemyError as error:  # a database not migrated yet holds no rows to keep
        log.warning("leftover files were not checked: %s", type(error).__name__)
    if removed:
        log.info("removed %d file(s) left by stopped processes", len(removed))
    return removed


def reminders() -> tuple[Any, ...]:
    """The reminders the notification runner produces: access's review deadlines."""
    return (access_notices.remind_review_deadlines,)
