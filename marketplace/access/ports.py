"""What access needs from the domains above it, passed in rather than imported.

Access sits below delivery (which estimates cohorts from data versions) and testbeds (test
environments and courses). The application's composition (create_app) fills an `AccessEngine`
with their functions, so access never imports them and the domains form no cycle.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.access.decisions import PolicyBundle
from marketplace.catalog.models import Dataset
from marketplace.errors import NotFound


class CohortEstimate(Protocol):
    """People in each dataset's current version after consent and cohort filters, by dataset
    id; None where it cannot be known (no valid or a tampered data version)."""

    def __call__(self, session: Session, *, datasets: Sequence[Dataset], cohort: dict[str, Any],
                 purpose: str, as_of: datetime) -> dict[int, int | None]: ...


class TestBeds(Protocol):
    """The test environments and test courses an application may serve."""

    def environment_exists(self, session: Session, *, environment_id: int) -> bool: ...

    def course_environment(self, session: Session, *, course_id: int,
                           company_org_id: int) -> int:
        """The environment of the company's open course; raise NotFound, Forbidden, Conflict."""
        ...

    def environments(self, session: Session) -> Sequence[Any]: ...

    def course(self, session: Session, *, course_id: int) -> Any | None: ...

    def open_courses(self, session: Session, *, company_org_id: int) -> Sequence[Any]:
        """The company's courses an application may serve (with `id`, `title`, `status`)."""
        ...


class NoTestBeds:
    """No test environments known: every named environment or course is unknown."""

    def environment_exists(self, session: Session, *, environment_id: int) -> bool:
        return False

    def course_environment(self, session: Session, *, course_id: int,
                           company_org_id: int) -> int:
        raise NotFound("testforløb {id} findes ikke", id=course_id)

    def environments(self, session: Session) -> Sequence[Any]:
        return []

    def course(self, session: Session, *, course_id: int) -> Any | None:
        return None

    def open_courses(self, session: Session, *, company_org_id: int) -> Sequence[Any]:
        return []


class ReleasedResults(Protocol):
    """Results released from permits' secure processing environments, per permit, for the
    public register: `{permit_id: [{"output_id", "job_id", "name", "sha256", "released_at"}]}`.
    """

    def __call__(self, session: Session, *, permit_ids: Sequence[int]
                 ) -> dict[int, list[dict[str, Any]]]: ...


def no_released_results(session: Session, *, permit_ids: Sequence[int]
                        ) -> dict[int, list[dict[str, Any]]]:
    return {}


class ReleasedState(Protocol):
    """A query of one row whose values move whenever a result is released (the public
    register's pages are kept until they do)."""

    def __call__(self) -> sa.Select: ...


def no_released_state() -> sa.Select:
    return sa.select(sa.null())


class PublicStatistics(Protocol):
    """Anonymous statistics released to companies (EHDS Art. 69), newest first, for the public
    register: `[{"id", "title", "purpose", "company", "dataset", "dataset_title",
    "released_at"}]`."""

    def __call__(self, session: Session, *, limit: int) -> list[dict[str, Any]]: ...


def no_public_statistics(session: Session, *, limit: int) -> list[dict[str, Any]]:
    return []


@dataclass(frozen=True)
class AccessEngine:
    """The policies in force and the collaborators that decide an application."""

    policies: PolicyBundle
    estimate_cohort: CohortEstimate
    test_beds: TestBeds = field(default_factory=NoTestBeds)
    released_results: ReleasedResults = no_released_results
    released_state: ReleasedState = no_released_state
    public_statistics: PublicStatistics = no_public_statistics

