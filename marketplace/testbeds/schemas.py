"""The testbeds API's paths, queries and responses, and the bodies the services do not take.

The bodies the services take are the commands of `commands.py`.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from marketplace.access.schemas import Code, Text
from marketplace.testbeds.commands import Dimension
from marketplace.web.api import Body, Id, Out
from marketplace.web.requests import QueryModel


class _OptionalBody(Body):
    """A body that may be left out altogether."""

    model_config = ConfigDict(extra="forbid",
                              openapi_extra={"required": False})  # type: ignore[typeddict-unknown-key]

    @model_validator(mode="before")
    @classmethod
    def _empty_body(cls, value: Any) -> Any:
        return {} if value is None else value


# --- paths and queries ----------------------------------------------------------------------

class EnvironmentPath(BaseModel):
    environment_id: Id


class ProfilePath(BaseModel):
    profile_id: Id


class CoursePath(BaseModel):
    course_id: Id


class EvidencePath(BaseModel):
    evidence_id: Id


class EnvironmentsQuery(QueryModel):
    model_config = ConfigDict(extra="ignore")
    theme: Code | None = None


class CoursesQuery(QueryModel):
    model_config = ConfigDict(extra="ignore")
    status: Code | None = None


class EvidenceQuery(QueryModel):
    model_config = ConfigDict(extra="ignore")
    filename: Text(200) | None = None  # type: ignore[valid-type]
    dimension: Dimension | None = None


# --- bodies ---------------------------------------------------------------------------------
# The bodies that the services take are commands (`commands.py`); the views use them directly.

class ProcurementIn(_OptionalBody):
    note: Text(5_000) = ""  # type: ignore[valid-type]


# --- responses ------------------------------------------------------------------------------

class TestCourseCompanyRef(Out):
    slug: str
    name: str


class LinkedDatasetOut(Out):
    id: int
    title: str
    publisher: dict[str, Any]
    url: str


class EnvironmentOut(Out):
    id: int
    slug: str
    name: str
    name_da: str
    name_en: str
    description: str
    hosts: list[dict[str, Any]]
    themes: list[str]
    target_groups: list[str]
    resources: list[str]
    facilities: list[str]
    trl: dict[str, int]
    capacity_per_year: int
    free_slots: int
    datasets: list[LinkedDatasetOut]
    contact: dict[str, Any]
    updated_at: datetime


class EnvironmentList(Out):
    items: list[EnvironmentOut]


class MatchReasonOut(Out):
    code: str
    fits: bool
    points: float
    max_points: float
    message: str


class MatchOut(Out):
    test_environment: EnvironmentOut
    score: float
    reasons: list[MatchReasonOut]
    datasets: list[LinkedDatasetOut]


class MatchesOut(Out):
    items: list[MatchOut]
    datasets: list[LinkedDatasetOut]


class SolutionOut(Out):
    id: int
    company: TestCourseCompanyRef
    name: str
    themes: list[str]
    target_groups: list[str]
    needs: list[str]
    facilities: list[str]
    trl: int | None
    description: str
    created_at: datetime


class SolutionList(Out):
    items: list[SolutionOut]


class OutcomeOut(Out):
    id: int
    dimension: str
    party: str
    metric: str
    unit: str
    baseline: float | None
    result: float
    better: str
    change: float | None
    note: str


class EvidenceOut(Out):
    id: int
    dimension: str | None
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    url: str


class ProcurementOut(Out):
    id: int
    buyer: TestCourseCompanyRef
    started_at: datetime
    note: str


class CourseOut(Out):
    id: int
    title: str
    goal: str | None
    status: str
    status_label: str
    next_statuses: list[str]
    test_environment: dict[str, Any]
    company: dict[str, Any]
    solution_profile_id: int | None
    planned_start: date | None
    planned_end: date | None
    participants_planned: int | None
    outcomes: list[OutcomeOut]
    evidence: list[EvidenceOut]
    procurement: ProcurementOut | None
    history: list[dict[str, Any]]
    created_at: datetime
    status_changed_at: datetime


class CourseList(Out):
    items: list[CourseOut]


class DossierOut(Out):
    test_course_id: int
    title: str
    status: str
    solution: dict[str, Any]
    tested: dict[str, Any]
    effects: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    yearly_cost_dkk: int | None
    direct_purchase_limit_dkk: int
    within_direct_purchase: bool | None
    value_based_procurement: dict[str, Any]
    missing: list[str]
    procurement: dict[str, Any] | None
    generated_at: datetime
    sha256: str = Field(description="SHA-256 of this dossier without generated_at and sha256, "
                        "in Danish (?lang=da), as JSON with sorted keys and no spaces")
