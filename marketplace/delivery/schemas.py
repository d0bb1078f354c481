"""The delivery API's request and response models (the public contract's field names)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from marketplace.access.schemas import ObjectId
from marketplace.web.api import Body, Id, Out


class PermitPath(BaseModel):
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


class ExtractsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    permit_id: Id | None = None


class DataQuery(BaseModel):
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
    sha256: str
    created_at: str
    signature: str = Field(description="Ed25519 over the manifest without `signature`, as JSON "
                                       "with sorted keys and no spaces; base64")
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
