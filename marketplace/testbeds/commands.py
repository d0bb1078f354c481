"""What companies, hosts and the operator ask the testbeds domain to do, as validated commands.

Pure module (pydantic only). The API bodies are these models, the testbeds pages build them
from their forms, and the services take them. Shapes, sizes, number ranges and vocabulary codes
are checked here; whether a dataset is published, a profile is the caller's or a move is
allowed is the services' question. Messages are Danish source text, shown in the caller's
language at the edge.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from marketplace.catalog.descriptor import Clean, Stripped, raise_at
from marketplace.testbeds.matching import MAX_CODES, Profile, Vocabulary

VOCABULARY = Vocabulary.load()
MAX_ID = 2**31 - 1
MAX_TITLE = 200
MAX_TEXT = 5_000
MAX_COST_DKK = 1_000_000_000
Dimension = Literal["treatment_errors", "prevented_admissions", "faster_return_home",
                    "own_resources"]


def Text(max_length: int, *, min_length: int = 0) -> Any:
    """Text a person typed: stripped, bounded, no NUL, no lone surrogate, no CPR number."""
    return Annotated[str, Stripped, Field(min_length=min_length, max_length=max_length), Clean]


def _not_a_flag(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "skal være et helt tal")
    return value


def Whole(low: int, high: int) -> Any:
    """A whole number in a range (true and false are no numbers)."""
    return Annotated[int, BeforeValidator(_not_a_flag), Field(ge=low, le=high)]


Id = Whole(1, MAX_ID)
"""A database id: a whole number from 1 to 2³¹−1."""
Code = Annotated[str, Stripped, Field(min_length=1, max_length=100), Clean]
"""A short machine code (slug, sector, status)."""


def _known_in(known: Mapping[str, Any]) -> AfterValidator:
    """Vocabulary codes: each known, duplicates dropped, in code order."""

    def check(codes: list[str]) -> list[str]:
        if any(code not in known for code in codes):
            raise PydanticCustomError("vocabulary", "indeholder koder, der ikke findes i "
                                                    "ordforrådet")
        return sorted(set(codes))

    return AfterValidator(check)


Themes = Annotated[list[Code], Field(max_length=MAX_CODES), _known_in(VOCABULARY.themes)]
TargetGroups = Annotated[list[Code], Field(max_length=MAX_CODES),
                         _known_in(VOCABULARY.target_groups)]
Needs = Annotated[list[Code], Field(max_length=MAX_CODES), _known_in(VOCABULARY.needs)]
Facilities = Annotated[list[Code], Field(max_length=MAX_CODES), _known_in(VOCABULARY.facilities)]


def _email(value: str | None) -> str | None:
    if value and "@" not in value:
        raise PydanticCustomError("email", "skal være en e-mailadresse")
    return value


def _web_address(value: str | None) -> str | None:
    if value and not value.startswith(("https://", "http://")):
        raise PydanticCustomError("url", "skal begynde med https://")
    return value


class _BedCommand(BaseModel):
    """Unknown fields are refused, so a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid", str_max_length=100_000, allow_inf_nan=False)

    def given(self, *, exclude: set[str] | None = None) -> dict[str, Any]:
        """The fields the caller gave, as they are to be stored."""
        return self.model_dump(exclude_unset=True, exclude=exclude)


# --- test environments ------------------------------------------------------------------------

class EnvironmentChanges(_BedCommand):
    """The editable fields of a test environment; only those given change."""

    name_da: Text(MAX_TITLE, min_length=1) = None  # type: ignore[valid-type]
    name_en: Text(MAX_TITLE) = None  # type: ignore[valid-type]
    description_da: Text(MAX_TEXT) = None  # type: ignore[valid-type]
    description_en: Text(MAX_TEXT) = None  # type: ignore[valid-type]
    contact_name: Text(MAX_TITLE) = None  # type: ignore[valid-type]
    contact_email: Annotated[Text(MAX_TITLE), AfterValidator(_email)] = None  # type: ignore[valid-type]
    homepage: Annotated[Text(300), AfterValidator(_web_address)] = None  # type: ignore[valid-type]
    themes: Themes | None = None
    target_groups: TargetGroups | None = None
    resources: Needs | None = None
    facilities: Facilities | None = None
    trl_min: Whole(1, 9) | None = None  # type: ignore[valid-type]
    trl_max: Whole(1, 9) | None = None  # type: ignore[valid-type]
    capacity_per_year: Whole(0, 10_000) | None = None  # type: ignore[valid-type]
    dataset_ids: list[Id] | None = Field(None, max_length=100)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _no_null_name(self) -> EnvironmentChanges:
        # A name may be changed, never removed.
        if "name_da" in self.model_fields_set and self.name_da is None:
            raise_at([(("name_da",), "skal udfyldes", None)], type(self).__name__)
        if (self.trl_min is not None and self.trl_max is not None
                and self.trl_min > self.trl_max):
            raise_at([(("trl_max",), "må ikke være under trl_min", self.trl_max)],
                     type(self).__name__)
        return self


class EnvironmentHost(_BedCommand):
    org: Code
    sector: Code


class NewEnvironment(EnvironmentChanges):
    """A test environment the operator adds, hosted by the named organisations."""

    slug: Code
    hosts: list[EnvironmentHost] = Field(min_length=1, max_length=20)
    name_da: Text(MAX_TITLE, min_length=1)  # type: ignore[valid-type]

    def fields(self) -> dict[str, Any]:
        return self.given(exclude={"slug", "hosts"})


# --- solution profiles and matching -----------------------------------------------------------

class SolutionDescription(_BedCommand):
    """A solution described by its themes, target groups, needs, facilities and maturity."""

    name: Text(MAX_TITLE) = None  # type: ignore[valid-type]
    themes: Themes = Field(default_factory=list)
    target_groups: TargetGroups = Field(default_factory=list)
    needs: Needs = Field(default_factory=list)
    facilities: Facilities = Field(default_factory=list)
    trl: Whole(1, 9) | None = Field(  # type: ignore[valid-type]
        None, description="technology readiness level")
    description: Text(MAX_TEXT) = ""  # type: ignore[valid-type]

    @classmethod
    def of(cls, profile: Profile, *, name: str | None = None) -> SolutionDescription:
        """The description of a profile (e.g. one made by a program)."""
        return cls.model_validate({
            "name": name, "themes": sorted(profile.themes),
            "target_groups": sorted(profile.target_groups), "needs": sorted(profile.needs),
            "facilities": sorted(profile.facilities), "trl": profile.trl,
            "description": profile.description})

    def profile(self) -> Profile:
        return Profile(themes=frozenset(self.themes),
                       target_groups=frozenset(self.target_groups),
                       needs=frozenset(self.needs), facilities=frozenset(self.facilities),
                       trl=self.trl, description=self.description)

    def says_something(self) -> bool:
        """Whether there is anything to match on (codes or words)."""
        return bool(self.themes or self.target_groups or self.needs or self.facilities
                    or self.description)


class MatchRequest(SolutionDescription):
    """A profile to match, or the id of a saved one (`solution_profile_id`, signed in)."""

    solution_profile_id: Id | None = None  # type: ignore[valid-type]


# --- test courses -----------------------------------------------------------------------------

class CoursePlan(_BedCommand):
    title: Text(MAX_TITLE, min_length=1) = None  # type: ignore[valid-type]
    goal: Text(MAX_TEXT) = None  # type: ignore[valid-type]
    planned_start: date | None = None
    planned_end: date | None = None
    participants_planned: Whole(0, 100_000) | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> CoursePlan:
        if "title" in self.model_fields_set and self.title is None:
            raise_at([(("title",), "skal udfyldes", None)], type(self).__name__)
        if self.planned_start and self.planned_end and self.planned_end < self.planned_start:
            raise_at([(("planned_end",), "må ikke ligge før planned_start", self.planned_end)],
                     type(self).__name__)
        return self


PLAN_FIELDS = frozenset(CoursePlan.model_fields)


class CourseProposal(CoursePlan):
    """A company's proposal to test its solution in an environment."""

    test_environment_id: Id  # type: ignore[valid-type]
    solution_profile_id: Id  # type: ignore[valid-type]
    title: Text(MAX_TITLE, min_length=1)  # type: ignore[valid-type]

    def plan(self) -> dict[str, Any]:
        return self.given(exclude={"test_environment_id", "solution_profile_id"})


class CourseChanges(CoursePlan):
    """A move (`status`, `comment`), plan changes, or the procurement fields."""

    status: Code | None = None
    comment: Text(MAX_TEXT) = None  # type: ignore[valid-type]
    yearly_cost_dkk: Whole(0, MAX_COST_DKK) | None = None  # type: ignore[valid-type]
    procurement_need: Text(MAX_TEXT) = None  # type: ignore[valid-type]
    procurement_value: Text(MAX_TEXT) = None  # type: ignore[valid-type]
    procurement_market: Text(MAX_TEXT) = None  # type: ignore[valid-type]

    def plan(self) -> dict[str, Any]:
        return {k: v for k, v in self.given().items() if k in PLAN_FIELDS}

    def dossier_fields(self) -> dict[str, Any]:
        return {k: v for k, v in self.given().items()
                if k in ("yearly_cost_dkk", "procurement_need", "procurement_value",
                         "procurement_market")}


class OutcomeReport(_BedCommand):
    """An outcome on one of the four effect dimensions."""

    dimension: Dimension
    metric: Text(MAX_TITLE, min_length=1)  # type: ignore[valid-type]
    unit: Text(40) = ""  # type: ignore[valid-type]
    baseline: float | None = Field(None, gt=-1e12, lt=1e12)
    result: float = Field(gt=-1e12, lt=1e12)
    better: Literal["lower", "higher"] | None = None
    note: Text(MAX_TEXT) = ""  # type: ignore[valid-type]
    reason: Text(MAX_TEXT) = Field(  # type: ignore[valid-type]
        "", description="why a recorded outcome is corrected; required once evaluated")
