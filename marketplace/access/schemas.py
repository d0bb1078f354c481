"""The access API's request and response models: one validation path for the API and the form.

Pure module (pydantic only). Whether the named datasets, columns, purpose and test environment
exist is the service's question; here every field is checked for what it can be on its own, and
all problems are reported together, each naming its field, in the caller's language.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from marketplace.access.decisions import normalise_disease_code
from marketplace.web.api import Body, ColumnName, FreeText, Id, Out
from marketplace.web.api import Code as AnyCode

MAX_DATASETS = 20
MAX_COLUMNS = 300  # per dataset; far above any descriptor we hold
MAX_CODES = 100
MAX_PROCESSORS = 50
MAX_DURATION_DAYS = 3650  # EHDS Art. 68(12): a permit lasts at most ten years
MAX_COMMENT = 5_000


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail on the write.
    if "\x00" in value:
        raise PydanticCustomError("nul_in_text", "må ikke indeholde NUL-tegn")
    return value


Code = Annotated[AnyCode, AfterValidator(_no_nul)]
"""A short machine code (purpose, vocabulary code, slug, status) without NUL."""


def Text(max_length: int, *, min_length: int = 0) -> Any:
    """Free text a person typed: bounded, no CPR number, no NUL."""
    return Annotated[FreeText(max_length, min_length=min_length), AfterValidator(_no_nul)]


def _not_a_flag(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "skal være et helt tal")
    return value


ObjectId = Annotated[Id, BeforeValidator(_not_a_flag)]
"""A database id that refuses true and false (which would otherwise count as 1 and 0)."""


def _disease_code(value: str) -> str:
    try:
        return normalise_disease_code(value)
    except ValueError:
        raise PydanticCustomError("icd10", "er ikke en ICD-10-kode") from None


DiseaseCode = Annotated[str, StringConstraints(max_length=20), AfterValidator(_disease_code)]
"""An ICD-10 or SKS diagnosis code, stored in its SKS form (J44.9 → DJ449)."""

Municipality = Annotated[
    str,
    BeforeValidator(lambda value: str(value) if isinstance(value, int)
                    and not isinstance(value, bool) else value),
    StringConstraints(pattern=r"^[0-9]{3}$"),
]
Age = Annotated[int, Field(ge=0, le=130)]


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


# --- an application -------------------------------------------------------------------------

class DatasetChoice(Body):
    """A dataset and the columns asked for."""

    id: ObjectId
    columns: list[ColumnName] = Field(min_length=1, max_length=MAX_COLUMNS)

    @field_validator("columns")
    @classmethod
    def _columns_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("column_twice", "en kolonne er valgt to gange")
        return value


class Period(Body):
    start: date
    end: date

    @model_validator(mode="after")
    def _in_order(self) -> Period:
        if self.start > self.end:
            raise PydanticCustomError("period_order", "perioden slutter, før den begynder")
        return self


class Cohort(Body):
    """Who the application is about; every criterion is optional."""

    age: list[Age] | None = Field(None, min_length=2, max_length=2,
                                  description="[minimum, maximum] in whole years")
    sex: list[Literal["male", "female"]] | None = Field(None, max_length=10)
    diagnoses: list[DiseaseCode] | None = Field(None, max_length=MAX_CODES)
    municipalities: list[Municipality] | None = Field(None, max_length=MAX_CODES)
    period: Period | None = None

    @field_validator("age")
    @classmethod
    def _minimum_first(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and value[0] > value[1]:
            raise PydanticCustomError("age_order", "den mindste alder skal stå først")
        return value

    def to_dict(self) -> dict[str, Any]:
        """The stored form: only the criteria given, codes sorted and without repeats."""
        cohort: dict[str, Any] = {}
        if self.age is not None:
            cohort["age"] = list(self.age)
        if self.sex:
            cohort["sex"] = sorted(set(self.sex))
        if self.diagnoses:
            cohort["diagnoses"] = _unique(self.diagnoses)
        if self.municipalities:
            cohort["municipalities"] = sorted(set(self.municipalities))
        if self.period is not None:
            cohort["period"] = {"start": self.period.start.isoformat(),
                                "end": self.period.end.isoformat()}
        return cohort


class Processor(Body):
    """A person who will process the data."""

    name: Text(200, min_length=1)  # type: ignore[valid-type]
    role: Text(200) = ""  # type: ignore[valid-type]
    email: Text(200) = ""  # type: ignore[valid-type]

    @model_validator(mode="before")
    @classmethod
    def _name_alone(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class Application(Body):
    """An application for data (EHDS Art. 67), as the API and the form send it."""

    title: Text(200, min_length=1)  # type: ignore[valid-type]
    description: Text(10_000, min_length=1)  # type: ignore[valid-type]
    purpose: Code = Field(description="a code from /api/v1/purposes")
    datasets: list[DatasetChoice] = Field(min_length=1, max_length=MAX_DATASETS)
    diseases: list[DiseaseCode] = Field(default_factory=list, max_length=MAX_CODES,
                                        description="ICD-10 codes the research is about")
    cohort: Cohort = Field(default_factory=lambda: Cohort.model_validate({}))
    duration_days: int = Field(ge=1, le=MAX_DURATION_DAYS)
    pseudonymised: bool = False
    pseudonymisation_justification: Text(5_000) = ""  # type: ignore[valid-type]
    safeguards: Text(5_000) = ""  # type: ignore[valid-type]
    ethics_approval: Text(200) = ""  # type: ignore[valid-type]
    processors: list[Processor] = Field(default_factory=list, max_length=MAX_PROCESSORS)
    test_environment: ObjectId | None = None
    test_course: ObjectId | None = None

    @field_validator("datasets")
    @classmethod
    def _datasets_once(cls, value: list[DatasetChoice]) -> list[DatasetChoice]:
        if len({choice.id for choice in value}) != len(value):
            raise PydanticCustomError("dataset_twice", "et datasæt er valgt to gange")
        return value

    @field_validator("diseases")
    @classmethod
    def _diseases_once(cls, value: list[str]) -> list[str]:
        return _unique(value)


class ResubmitQuery(BaseModel):
    """The denied or rejected application a new one amends (`?from=` on the form)."""

    resubmits: Id | None = Field(None, alias="from")

    @field_validator("resubmits", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class ReviewIn(Body):
    decision: Literal["approve", "reject", "request_changes"]
    comment: Text(MAX_COMMENT) = Field("", validate_default=True)  # type: ignore[valid-type]

    @field_validator("comment")
    @classmethod
    def _explained(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("decision", "approve") != "approve" and not value:
            raise PydanticCustomError("comment_needed",
                                      "forklar ansøgeren beslutningen i en kommentar")
        return value


class RevokeIn(Body):
    reason: Text(MAX_COMMENT, min_length=1)  # type: ignore[valid-type]


# --- paths ----------------------------------------------------------------------------------

class RequestPath(BaseModel):
    request_id: Id


class PermitPath(BaseModel):
    permit_id: Id


# --- responses ------------------------------------------------------------------------------

class PartyOut(Out):
    slug: str
    name: str
    country: str | None = None


class DecisionReasonOut(Out):
    rule: str
    message: str
    message_da: str | None = None
    datasets: list[int] = Field(default_factory=list)


class DecisionOut(Out):
    outcome: Literal["permit", "deny", "review"]
    reasons: list[DecisionReasonOut]
    policy_version: str
    decided_at: datetime | None = None


class ReviewOut(Out):
    holder: PartyOut
    round: int
    status: str
    comment: str
    due_at: datetime | None
    decided_at: datetime | None
    working_days_left: int | None


class PermitOut(Out):
    id: int
    status: Literal["active", "expired", "revoked"]
    access_request_id: int
    company: PartyOut
    purpose: str
    datasets: list[dict[str, Any]]
    cohort: dict[str, Any]
    k_min: int | None
    pseudonymised: bool
    duties: list[dict[str, Any]]
    approved_at: datetime | None
    valid_until: datetime | None
    policy_version: str
    test_environment: int | None
    test_course: int | None
    revoked_at: datetime | None
    revocation_reason: str | None


class DatasetChoiceOut(Out):
    id: int
    columns: list[str]


class AccessRequestOut(Out):
    id: int
    status: str
    round: int
    title: str
    description: str
    purpose: str
    company: PartyOut
    datasets: list[DatasetChoiceOut]
    diseases: list[str]
    cohort: dict[str, Any]
    duration_days: int
    pseudonymised: bool
    pseudonymisation_justification: str
    safeguards: str
    ethics_approval: str
    processors: list[dict[str, Any]]
    test_environment: int | None
    test_course: int | None
    submitted_at: datetime | None
    closed_at: datetime | None
    decision: DecisionOut | None
    reviews: list[ReviewOut]
    permit: PermitOut | None


class AccessRequestPage(Out):
    items: list[AccessRequestOut]
    total: int
    page: int
    per_page: int


class QueueItemOut(Out):
    access_request: AccessRequestOut
    due_at: datetime
    working_days_left: int
    overdue: bool


class ReviewQueueOut(Out):
    items: list[QueueItemOut]


class PurposeOut(Out):
    code: str
    label_da: str
    label_en: str


class RegisterDatasetOut(Out):
    id: int
    title: str
    holder: str


class ReleasedOutputOut(Out):
    output_id: int
    job_id: int
    name: str
    sha256: str
    released_at: datetime


class RegisterRowOut(Out):
    permit_id: int
    status: str
    company: PartyOut
    purpose: PurposeOut
    datasets: list[RegisterDatasetOut]
    pseudonymised: bool
    approved_at: datetime | None
    valid_until: datetime | None
    revoked_at: datetime | None
    released_outputs: list[ReleasedOutputOut] = Field(default_factory=list)


class RegisterPage(Out):
    items: list[RegisterRowOut]
    total: int
    page: int
    per_page: int


class RuleOut(Out):
    id: str
    outcome: str
    reason: str
    reason_da: str


class PoliciesOut(Out):
    policy_version: str
    rules: list[RuleOut]
