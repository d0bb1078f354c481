"""Request models of the secure processing environment's API."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace.web.api import Body, FreeText, Id, Out

MAX_SCRIPT_CHARS = 100_000


class PermitPath(BaseModel):
    permit_id: Id


class JobPath(BaseModel):
    job_id: Id


class DummyPath(BaseModel):
    permit_id: Id
    dataset_id: Id


class DummyQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    format: Literal["parquet", "csv"] = "parquet"


class JobIn(Body):
    """A script to run against the permit's data (Python source)."""

    name: FreeText(200, min_length=1)  # type: ignore[valid-type]
    script: str = Field(min_length=1, max_length=MAX_SCRIPT_CHARS)


class CheckOut(Out):
    rule: str
    outcome: Literal["pass", "warn", "fail"]
    message: str


class OutputOut(Out):
    id: int
    name: str
    bytes: int
    status: str
    checks: list[CheckOut]


class JobOut(Out):
    id: int
    permit_id: int
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    log: str
    outputs: list[OutputOut]


class JobQueued(Out):
    id: int
    status: str


class ColumnOut(Out):
    name: str
    type: str


class DatasetOut(Out):
    id: int
    title: str
    columns: list[ColumnOut]
    rows: int


class EnvironmentOut(Out):
    python: str
    packages: dict[str, str]


class LimitsOut(Out):
    cpu_seconds: int
    memory_mb: int
    wall_seconds: int


class WorkspaceOut(Out):
    permit_id: int
    datasets: list[DatasetOut]
    environment: EnvironmentOut
    limits: LimitsOut
    jobs: list[JobOut]
