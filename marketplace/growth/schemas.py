"""Request models of the growth pipeline's API (validated at the typed edge)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from marketplace.web.api import Body, Code, FreeText, Id
from marketplace.web.requests import QueryModel

Stage = Literal["bobler", "identifikation", "kvalificering", "koncept_og_plan", "eksekvering",
                "parkeret", "stoppet"]
Origin = Literal["idea", "clinical_project", "test_course"]
Decision = Literal["go", "kill", "hold", "recycle"]
Dimension = Literal["treatment_errors", "prevented_admissions", "faster_return_home",
                    "own_resources"]
Track = Literal["procurement", "partnership", "export"]
EvidenceSource = Literal["test_course", "clinical_project", "statistics", "output"]
StepKey = Literal["need", "value", "market", "investment", "procedure", "implementation"]
CriterionKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]

# Above these an amount is a typing error, not a project: the region's whole yearly
# procurement is about DKK 14 bn.
MAX_FUNDING_DKK = 1_000_000_000
MAX_YEARLY_COST_DKK = 1_000_000_000
MAX_MEASURE = 1e12

Measure = Annotated[float, Field(ge=-MAX_MEASURE, le=MAX_MEASURE, allow_inf_nan=False)]


class OpportunityIn(Body):
    title: FreeText(200, min_length=1)  # type: ignore[valid-type]
    description: FreeText(5000) = ""  # type: ignore[valid-type]
    origin: Origin = "idea"
    need_owner: Code | None = None
    companies: list[Code] = Field(default_factory=list, max_length=20)
    themes: list[Code] = Field(default_factory=list, max_length=10)


class OpportunityChange(Body):
    title: FreeText(200, min_length=1) | None = None  # type: ignore[valid-type]
    description: FreeText(5000) | None = None  # type: ignore[valid-type]
    need_owner: Code | None = None
    companies: list[Code] | None = Field(None, max_length=20)
    themes: list[Code] | None = Field(None, max_length=10)


class RecommendationIn(Body):
    to_stage: Stage
    scores: dict[CriterionKey, Any] = Field(default_factory=dict, max_length=30)
    must_meet: dict[CriterionKey, Any] = Field(default_factory=dict, max_length=30)
    reasons: dict[CriterionKey, FreeText(1000)] = Field(  # type: ignore[valid-type]
        default_factory=dict, max_length=60)
    text: FreeText(5000, min_length=1)  # type: ignore[valid-type]


class GateDecisionIn(Body):
    to_stage: Stage
    decision: Decision
    minutes: FreeText(10000, min_length=1)  # type: ignore[valid-type]


class ReviveIn(Body):
    reason: FreeText(2000, min_length=1)  # type: ignore[valid-type]


class KpiIn(Body):
    dimension: Dimension
    baseline: Measure
    target: Measure
    unit: FreeText(40) = ""  # type: ignore[valid-type]


class PlanIn(Body):
    kpis: list[KpiIn] = Field(min_length=1, max_length=4)
    tracks: list[Track] = Field(min_length=1, max_length=3)


class EvidenceIn(Body):
    source: EvidenceSource
    id: Id


class ClinicalOutcomeIn(Body):
    dimension: Dimension
    metric: FreeText(200, min_length=1)  # type: ignore[valid-type]
    baseline: Measure | None = None
    result: Measure
    unit: FreeText(40) = ""  # type: ignore[valid-type]


class ClinicalProjectIn(Body):
    title: FreeText(200, min_length=1)  # type: ignore[valid-type]
    department: Code
    funding_dkk: int = Field(ge=0, le=MAX_FUNDING_DKK)
    start: date
    end: date
    ethics_approval: FreeText(100, min_length=1)  # type: ignore[valid-type]
    permit_ids: list[Id] = Field(default_factory=list, max_length=20)
    company_partners: list[Code] = Field(default_factory=list, max_length=20)
    outcomes: list[ClinicalOutcomeIn] = Field(default_factory=list, max_length=20)
    themes: list[Code] = Field(default_factory=list, max_length=10)
    description: FreeText(5000) = ""  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _period(self) -> ClinicalProjectIn:
        if self.end < self.start:
            raise PydanticCustomError("period_order", "perioden slutter, før den begynder")
        return self


class ProcurementCaseIn(Body):
    yearly_cost_dkk: int = Field(ge=0, le=MAX_YEARLY_COST_DKK)
    buyer: Code | None = None


StepValue = FreeText(5000) | Annotated[int, Field(ge=0, le=10**12)] | bool


class StepIn(Body):
    fields: dict[CriterionKey, StepValue] = Field(  # type: ignore[valid-type]
        default_factory=dict, max_length=20)
    status: Literal["draft", "complete"] = "complete"


class OpportunityPath(BaseModel):
    opportunity_id: Id


class CasePath(BaseModel):
    case_id: Id


class StepPath(BaseModel):
    case_id: Id
    step: StepKey


class BoardQuery(QueryModel):
    model_config = ConfigDict(extra="ignore")
    stage: Stage | None = None
    origin: Origin | None = None
    theme: Code | None = None
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
