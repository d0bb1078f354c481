"""Request models of the secure processing environment's API."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from marketplace.web.api import Body, FreeText, Id, Out
from marketplace.web.requests import QueryModel

MAX_SCRIPT_CHARS = 100_000


class WorkspacePermitPath(BaseModel):
    permit_id: Id


class JobPath(BaseModel):
    job_id: Id


class DummyPath(BaseModel):
    permit_id: Id
    dataset_id: Id


class DummyQuery(QueryModel):
    model_config = ConfigDict(extra="ignore")
    format: Literal["parquet", "csv"] = "parquet"


def _plain_text(value: str) -> str:
    # The database cannot hold NUL characters, and a lone surrogate is no UTF-8 text.
    if "\x00" in value:
        raise PydanticCustomError("nul_in_text", "må ikke indeholde NUL-tegn")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("string_unicode", "skal være gyldig Unicode-tekst") from None
    return value


PlainText = AfterValidator(_plain_text)


class JobIn(Body):
    """A script to run against the permit's data (Python source)."""

    name: Annotated[FreeText(200, min_length=1), PlainText]  # type: ignore[valid-type]
    script: Annotated[str, Field(min_length=1, max_length=MAX_SCRIPT_CHARS), PlainText]


class JobCheckOut(Out):
    rule: str
    outcome: Literal["pass", "warn", "fail"]
    message: str


class JobOutputOut(Out):
    id: int
    name: str
    bytes: int
    status: str
    checks: list[JobCheckOut]


class JobOut(Out):
    id: int
    permit_id: int
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    log: str
    outputs: list[JobOutputOut]


class JobQueued(Out):
    id: int
    status: str


class ColumnOut(Out):
    name: str
    type: str


class WorkspaceDatasetOut(Out):
    id: int
    title: str
    columns: list[ColumnOut]
    rows: int


class AnalysisEnvironmentOut(Out):
    python: str
    packages: dict[str, str]


class LimitsOut(Out):
    cpu_seconds: int
    memory_mb: int
    wall_seconds: int


class WorkspaceOut(Out):
    permit_id: int
    datasets: list[WorkspaceDatasetOut]
    environment: AnalysisEnvironmentOut
    limits: LimitsOut
    jobs: list[JobOut]
