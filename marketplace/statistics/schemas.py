"""Request and response models of the statistics API (validated at the edge, documented in
/api/openapi.json)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from marketplace.statistics.models import (
    MAX_EPSILON_PER_REQUEST,
    PLATFORM_MIN_THRESHOLD,
    STATUSES,
)
from marketplace.web.api import Body, Code, ColumnName, FreeText, Id, Out
from marketplace.web.requests import QueryModel

MAX_GROUPS = 4
MAX_MEASURES = 10
MAX_CODES = 100
MAX_EPSILON = MAX_EPSILON_PER_REQUEST
DEFAULT_EPSILON = 1.0
MAX_THRESHOLD = 1000
MAX_ROUNDING_BASE = 100
MAX_EPSILON_BUDGET = 100.0
MAX_COMMENT = 4000

DiseaseCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True,
                                               pattern=r"^[A-Z][0-9A-Z]{1,9}$")]
MunicipalityCode = Annotated[str, StringConstraints(strip_whitespace=True,
                                                    pattern=r"^[0-9]{3,4}$")]


class StatisticsPeriod(Body):
    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> StatisticsPeriod:
        if self.start and self.end and self.start > self.end:
            raise PydanticCustomError("period_order", "perioden slutter før den begynder")
        return self


class StatisticsCohort(Body):
    """Who is counted: the same criteria as an application's cohort."""

    age: tuple[Annotated[int, Field(ge=0, le=130)], Annotated[int, Field(ge=0, le=130)]] | None \
        = Field(None, description="[minimum, maximum] age in whole years")
    sex: list[Literal["male", "female"]] | None = Field(None, max_length=2)
    diagnoses: list[DiseaseCode] | None = Field(
        None, max_length=MAX_CODES, description="ICD-10 or SKS code prefixes")
    municipalities: list[MunicipalityCode] | None = Field(None, max_length=MAX_CODES)
    period: StatisticsPeriod | None = None

    @model_validator(mode="after")
    def _age_ordered(self) -> StatisticsCohort:
        if self.age and self.age[0] > self.age[1]:
            raise PydanticCustomError("age_order", "mindstealderen skal stå først")
        return self

    def criteria(self) -> dict[str, Any]:
        """The cohort as the delivery pipeline's cohort filter reads it (empty parts left out)."""
        out: dict[str, Any] = {}
        if self.age:
            out["age"] = [self.age[0], self.age[1]]
        if self.sex:
            out["sex"] = sorted(set(self.sex))
        if self.diagnoses:
            out["diagnoses"] = list(dict.fromkeys(self.diagnoses))
        if self.municipalities:
            out["municipalities"] = sorted(set(self.municipalities))
        if self.period and (self.period.start or self.period.end):
            out["period"] = {k: v.isoformat() for k, v in
                             (("start", self.period.start), ("end", self.period.end)) if v}
        return out


class FeasibilityIn(Body):
    datasets: list[Id] = Field(min_length=1, max_length=20)
    # Never changed, so one shared default is safe.
    cohort: StatisticsCohort = StatisticsCohort.model_validate({})
    purpose: Code | None = Field(
        None, description="the purpose whose consent applies; default: the caller's research")


class FeasibilityOut(Out):
    persons: int | None = Field(description="persons after consent and cohort, rounded; "
                                            "null under the threshold")
    rounded_to: int
    suppressed: bool
    threshold: int


class MeasureIn(Body):
    kind: Literal["count_persons", "count_rows", "mean", "median"]
    column: ColumnName | None = None

    @model_validator(mode="after")
    def _column_when_needed(self) -> MeasureIn:
        if self.kind in ("mean", "median") and not self.column:
            raise PydanticCustomError("measure_column", "middelværdi og median kræver en kolonne")
        if self.kind in ("count_persons", "count_rows") and self.column:
            raise PydanticCustomError("measure_no_column", "en optælling tager ingen kolonne")
        return self


class StatisticsRequestIn(Body):
    title: FreeText(200, min_length=1)  # type: ignore[valid-type]
    purpose: Code
    description: FreeText(10_000, min_length=1)  # type: ignore[valid-type]
    dataset: Id
    measures: list[MeasureIn] = Field(min_length=1, max_length=MAX_MEASURES)
    group_by: list[ColumnName] = Field(
        default_factory=list, max_length=MAX_GROUPS,
        description="dataset columns or derived groups: age_band, municipality, region, year, "
                    "quarter, icd10_chapter")
    # Never changed, so one shared default is safe.
    cohort: StatisticsCohort = StatisticsCohort.model_validate({})
    diseases: list[DiseaseCode] = Field(
        default_factory=list, max_length=MAX_CODES,
        description="ICD-10/SKS codes the question is about (for datasets limited to diseases, "
                    "DUO DS), as in applications")
    method: Literal["sdc", "dp"] = "sdc"
    epsilon: float | None = Field(None, gt=0, le=MAX_EPSILON,
                                  description="privacy loss of this request (method dp)")

    @model_validator(mode="after")
    def _consistent(self) -> StatisticsRequestIn:
        if len(set(self.group_by)) != len(self.group_by):
            raise PydanticCustomError("group_repeated", "en gruppering er nævnt to gange")
        if len({(m.kind, m.column) for m in self.measures}) != len(self.measures):
            raise PydanticCustomError("measure_repeated", "et mål er nævnt to gange")
        if self.epsilon is not None and self.method != "dp":
            raise PydanticCustomError("epsilon_without_dp", "epsilon gælder kun metoden dp")
        return self

    @property
    def privacy_loss(self) -> float | None:
        return (self.epsilon or DEFAULT_EPSILON) if self.method == "dp" else None


class ReasonOut(BaseModel):
    rule: str
    message: str


class StatisticsDecisionOut(BaseModel):
    outcome: Literal["permit", "deny", "review"]
    reasons: list[ReasonOut]
    policy_version: str


class RulesOut(BaseModel):
    threshold: int
    rounding: int
    secondary_suppression: bool
    epsilon: float | None = None


class ResultOut(Out):
    columns: list[str]
    rows: list[list[Any]] = Field(description="one row per cell; a null group value marks a "
                                              "margin (all values), a null measure a "
                                              "suppressed cell")
    suppressed_cells: int
    rules: RulesOut


class HolderReviewOut(BaseModel):
    decision: Literal["approve", "reject"]
    comment: str
    reviewed_by: str
    at: str


class StatisticsRequestOut(Out):
    id: int
    status: Literal[STATUSES]  # type: ignore[valid-type]
    title: str
    purpose: str
    dataset: int
    method: Literal["sdc", "dp"]
    decision: StatisticsDecisionOut
    review: HolderReviewOut | None = Field(
        None, description="the data holder's decision, where a rule sent the request to review")
    result: ResultOut | None = None


class StatisticsRequestList(Out):
    items: list[StatisticsRequestOut]
    total: int


class StatisticsRequestPath(BaseModel):
    request_id: Id


class ResultQuery(QueryModel):
    format: Literal["json", "csv"] = "json"


class RegisterEntry(Out):
    id: int
    title: str
    purpose: str
    company: str
    dataset: int
    dataset_title: str
    released_at: str


class RegisterOut(Out):
    items: list[RegisterEntry]


class StatisticsReviewIn(Body):
    """The data holder's decision on a statistics request a rule sent to review; refusing needs
    a comment to the company."""

    decision: Literal["approve", "reject"]
    comment: FreeText(MAX_COMMENT) = Field("", validate_default=True)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _comment_when_refusing(self) -> StatisticsReviewIn:
        if self.decision == "reject" and not self.comment:
            raise PydanticCustomError("comment_required",
                                      "skriv en begrundelse til virksomheden")
        return self


class StatisticsReviewItem(StatisticsRequestOut):
    company: str
    dataset_title: str
    description: str
    requested_by: str
    due_at: str = Field(description="when the holder should have decided (5 working days)")
    working_days_left: int


class StatisticsReviewQueue(Out):
    items: list[StatisticsReviewItem]
    total: int


class StatisticsPolicyIn(Body):
    """A data holder's disclosure rules for statistics on one dataset."""

    threshold: int = Field(ge=PLATFORM_MIN_THRESHOLD, le=MAX_THRESHOLD,
                           description="minimum persons per published cell")
    rounding_base: int = Field(ge=1, le=MAX_ROUNDING_BASE,
                               description="counts are rounded to a multiple of this")
    epsilon_budget: float = Field(gt=0, le=MAX_EPSILON_BUDGET,
                                  description="total privacy loss the dataset may spend (dp)")
    epsilon_per_request: float = Field(gt=0, le=MAX_EPSILON_PER_REQUEST,
                                       description="the most one request may spend (dp)")


class StatisticsPolicyOut(Out):
    dataset_id: int
    threshold: int
    rounding_base: int
    epsilon_budget: float
    epsilon_per_request: float
    epsilon_spent: float
    minimum_threshold: int


class StatisticsPolicyPath(BaseModel):
    dataset_id: Id
