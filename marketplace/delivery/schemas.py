"""The delivery API's request and response models (the public contract's field names)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from marketplace.access.schemas import ObjectId
from marketplace.web.api import Body, Id, Out
from marketplace.web.requests import QueryModel


class ExtractPermitPath(BaseModel):
    permit_id: Id


class ExtractPath(BaseModel):
    extract_id: Id


class ExtractIn(Body):
    """Which dataset of the permit to extract; optional when the permit covers one."""

    model_config = ConfigDict(extra="forbid",
                              openapi_extra={"required": False})  # type: ignore[typeddict-unknown-key]
    dataset_id: ObjectId | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_body(cls, value: Any) -> Any:
        return {} if value is None else value


class ExtractsQuery(QueryModel):
    model_config = ConfigDict(extra="ignore")
    permit_id: Id | None = None


class DataQuery(QueryModel):
    model_config = ConfigDict(extra="ignore")
    format: Literal["parquet", "csv"] = "parquet"


class ManifestOut(Out):
    extract_id: int
    permit_id: int
    dataset_id: int
    rows_in: int
    rows_out: int
    rows_suppressed: int
    k: int | None
    columns: list[Any]
    sha256: str = Field(description="SHA-256 of the Parquet bytes served")
    csv_sha256: str | None = Field(None, description="SHA-256 of the CSV bytes served")
    created_at: str
    generalisation: dict[str, Any] | None = Field(
        None, description="per column, the generalisation applied")
    rows_dropped: dict[str, int] | None = Field(
        None, description="rows left out and why: consent, cohort, suppression")
    persons_in: int | None = None
    persons_suppressed: int | None = None
    k_required: int | None = None
    datasets_assessed: int | None = None
    risk: dict[str, float] | None = Field(
        None, description="share of unique persons, maximum and average prosecutor risk")
    risk_before: dict[str, float] | None = None
    signature: str = Field(description="Ed25519 over the manifest without `signature`, as JSON "
                                       "with sorted keys and no spaces; base64. Verify it with "
                                       "the key you pinned from "
                                       "/.well-known/marketplace-signing-key, never with the "
                                       "embedded public_key alone")
    public_key: str = Field(description="the raw 32-byte Ed25519 public key, base64")


class ExtractOut(Out):
    id: int
    permit_id: int
    dataset_id: int
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float = Field(ge=0, le=1)
    attempts: int
    created_at: datetime | None
    finished_at: datetime | None
    error: str | None = None
    manifest: ManifestOut | None = None
    report: dict[str, Any] | None = None


class ExtractList(Out):
    items: list[ExtractOut]


class SigningKeyOut(Out):
    algorithm: Literal["Ed25519"]
    public_key: str
    key_id: str
    signed_form: str
