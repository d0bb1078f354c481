"""The testbeds API's request and response models.

Pure module (pydantic only). The shapes, sizes and number ranges are checked here, in the
caller's language; whether a code is in the vocabulary, an organisation exists or a move is
allowed is the services' question.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from marketplace.access.schemas import Code, ObjectId, Text
from marketplace.web.api import Body, Id, Out
from marketplace.web.requests import QueryModel

MAX_CODES = 100
MAX_COST_DKK = 1_000_000_000
Dimension = Literal["treatment_errors", "prevented_admissions", "faster_return_home",
                    "own_resources"]
Codes = list[Code]


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

class EnvironmentFields(Body):
    """The editable fields of a test environment; only those given change."""

    name_da: Text(200, min_length=1) = None  # type: ignore[valid-type]
    name_en: Text(200) = None  # type: ignore[valid-type]
    description_da: Text(5_000) = None  # type: ignore[valid-type]
    description_en: Text(5_000) = None  # type: ignore[valid-type]
    contact_name: Text(200) = None  # type: ignore[valid-type]
    contact_email: Text(200) = None  # type: ignore[valid-type]
    homepage: Text(300) = None  # type: ignore[valid-type]
    themes: Codes | None = Field(None, max_length=MAX_CODES)
    target_groups: Codes | None = Field(None, max_length=MAX_CODES)
    resources: Codes | None = Field(None, max_length=MAX_CODES)
    facilities: Codes | None = Field(None, max_length=MAX_CODES)
    trl_min: int | None = Field(None, ge=1, le=9)
    trl_max: int | None = Field(None, ge=1, le=9)
    capacity_per_year: int | None = Field(None, ge=0, le=10_000)
    dataset_ids: list[ObjectId] | None = Field(None, max_length=100)

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class Host(Body):
    org: Code
    sector: Code


class EnvironmentIn(EnvironmentFields):
    slug: Code
    hosts: list[Host] = Field(min_length=1, max_length=20)
    name_da: Text(200, min_length=1)  # type: ignore[valid-type]

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"slug", "hosts"})


class ProfileIn(Body):
    """A solution described by its themes, target groups, needs, facilities and maturity."""

    name: Text(200) = None  # type: ignore[valid-type]
    themes: Codes = Field(default_factory=list, max_length=MAX_CODES)
    target_groups: Codes = Field(default_factory=list, max_length=MAX_CODES)
    needs: Codes = Field(default_factory=list, max_length=MAX_CODES)
    facilities: Codes = Field(default_factory=list, max_length=MAX_CODES)
    trl: int | None = Field(None, ge=1, le=9, description="technology readiness level")
    description: Text(5_000) = ""  # type: ignore[valid-type]

    def profile_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"name"})


class MatchIn(ProfileIn):
    """A profile to match, or the id of a saved one (`solution_profile_id`, signed in)."""

    solution_profile_id: ObjectId | None = None

    def profile_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"name", "solution_profile_id"})


class CoursePlan(Body):
    title: Text(200, min_length=1) = None  # type: ignore[valid-type]
    goal: Text(5_000) = None  # type: ignore[valid-type]
    planned_start: date | None = None
    planned_end: date | None = None
    participants_planned: int | None = Field(None, ge=0, le=100_000)


class CourseIn(CoursePlan):
    test_environment_id: ObjectId
    solution_profile_id: ObjectId
    title: Text(200, min_length=1)  # type: ignore[valid-type]

    def plan(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True,
                               exclude={"test_environment_id", "solution_profile_id"})


class CourseChanges(CoursePlan):
    """A move (`status`, `comment`), plan changes, or the procurement fields."""

    status: Code | None = None
    comment: Text(5_000) = None  # type: ignore[valid-type]
    yearly_cost_dkk: int | None = Field(None, ge=0, le=MAX_COST_DKK)
    procurement_need: Text(5_000) = None  # type: ignore[valid-type]
    procurement_value: Text(5_000) = None  # type: ignore[valid-type]
    procurement_market: Text(5_000) = None  # type: ignore[valid-type]

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class OutcomeIn(Body):
    """An outcome on one of the four effect dimensions."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    dimension: Dimension
    metric: Text(200, min_length=1)  # type: ignore[valid-type]
    unit: Text(40) = ""  # type: ignore[valid-type]
    baseline: float | None = Field(None, gt=-1e12, lt=1e12)
    result: float = Field(gt=-1e12, lt=1e12)
    better: Literal["lower", "higher"] | None = None
    note: Text(5_000) = ""  # type: ignore[valid-type]
    # Why a recorded outcome is corrected; required once the course is evaluated.
    reason: Text(5_000) = ""  # type: ignore[valid-type]


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
