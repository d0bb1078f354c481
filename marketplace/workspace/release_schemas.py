"""The typed edge of output review and release: request bodies, paths and documented answers."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from marketplace.web.api import Body, FreeText, Id, Out

MAX_COMMENT = 4000
MAX_THRESHOLD = 1000
OUTPUT_TYPES = ("csv", "tsv", "txt", "json", "png", "svg", "pdf", "html", "md")


class OutputPath(BaseModel):
    output_id: Id


class PolicyDatasetPath(BaseModel):
    dataset_id: Id


class OutputReviewIn(Body):
    """One output checker's decision; rejecting or asking for changes needs a comment."""

    decision: Literal["approve", "reject", "request_changes"]
    comment: FreeText(MAX_COMMENT) = Field("", validate_default=True)  # type: ignore[valid-type]

    @field_validator("comment")
    @classmethod
    def _comment_when_not_approving(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("decision", "approve") != "approve" and not value:
            raise PydanticCustomError("comment_required", "skriv en begrundelse til virksomheden")
        return value


class OutputPolicyIn(Body):
    """A data holder's rules for outputs computed from one dataset."""

    cell_threshold: int = Field(ge=1, le=MAX_THRESHOLD)
    checkers_required: int = Field(ge=1, le=2)
    allowed_types: list[str] = Field(min_length=1, max_length=len(OUTPUT_TYPES))

    @field_validator("allowed_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        cleaned = [item.strip().lower().lstrip(".") for item in value]
        if any(item not in OUTPUT_TYPES for item in cleaned):
            raise PydanticCustomError("unknown_output_type", "ukendt filtype")
        return sorted(set(cleaned), key=OUTPUT_TYPES.index)


class ReleaseCheckOut(Out):
    rule: str
    outcome: Literal["pass", "warn", "fail"]
    message: str


class OutputReviewOut(Out):
    reviewer: str
    organisation: str
    decision: str
    comment: str
    at: str


class ReleaseOutputOut(Out):
    id: int
    job_id: int
    permit_id: int
    name: str
    bytes: int
    status: str
    checks: list[ReleaseCheckOut]
    reviews: list[OutputReviewOut]
    approvals: int
    checkers_required: int
    due_at: str | None
    working_days_left: int | None
    released_at: str | None


class QueueOut(Out):
    items: list[ReleaseOutputOut]
    total: int
    target_working_days: int


class ReleaseManifestOut(Out):
    output_id: int
    job_id: int
    permit_id: int
    sha256: str
    script_sha256: str
    checks: list[ReleaseCheckOut]
    reviewers: list[OutputReviewOut]
    released_at: str
    signature: str
    public_key: str


class OutputPolicyOut(Out):
    dataset_id: int
    cell_threshold: int
    checkers_required: int
    allowed_types: list[str]
