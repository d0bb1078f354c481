"""Database models of the secure processing environment: jobs, their outputs, reviews, settings."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, JSONValue, UTCDateTime, created_at, intpk

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
OUTPUT_STATUSES = ("pending_review", "changes_requested", "rejected", "released")
REVIEW_DECISIONS = ("approve", "reject", "request_changes")
DEFAULT_CELL_THRESHOLD = 5
DEFAULT_OUTPUT_TYPES = ("csv", "txt", "json", "png", "svg", "pdf", "html", "md")


class WorkspaceJob(Base):
    """A script a company runs against its permit's data inside the sandbox.

    Durable like extracts: a worker leases the job (lease_owner, lease_expires_at); an expired
    lease is taken over. `log` holds the sandbox's output with CPR-like numbers scrubbed.
    """

    __tablename__ = "workspace_job"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name="status"),
        sa.CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        sa.Index("ix_workspace_job_status_created_at", "status", "created_at"),
    )

    id: Mapped[intpk]
    permit_id: Mapped[int] = mapped_column(sa.ForeignKey("permit.id"), index=True)
    company_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    script: Mapped[str] = mapped_column(sa.Text)
    script_sha256: Mapped[str] = mapped_column(sa.String(64))
    submitted_by: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")
    progress: Mapped[float] = mapped_column(sa.Float, default=0.0)
    attempts: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(sa.Text)
    log: Mapped[str] = mapped_column(sa.Text, default="")
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[created_at]
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    outputs: Mapped[list[WorkspaceOutput]] = relationship(
        back_populates="job", order_by="WorkspaceOutput.id")

    @property
    def is_finished(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")


class WorkspaceOutput(Base):
    """One file a job wrote to /output/, kept encrypted until two checkers release it."""

    __tablename__ = "workspace_output"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('pending_review', 'changes_requested', 'rejected', 'released')",
            name="status"),
        sa.UniqueConstraint("job_id", "name"),
    )

    id: Mapped[intpk]
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("workspace_job.id"), index=True)
    permit_id: Mapped[int] = mapped_column(sa.ForeignKey("permit.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    byte_size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    media_type: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending_review")
    # [{"rule", "outcome": "pass|warn|fail", "message"}] from the automatic checks.
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue, default=list)
    # The researcher's justification and ACRO's per-output status and comments, when present.
    justification: Mapped[str] = mapped_column(sa.Text, default="")
    acro: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    holder_org_ids: Mapped[list[int]] = mapped_column(JSONValue, default=list)
    review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[created_at]
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)

    job: Mapped[WorkspaceJob] = relationship(back_populates="outputs")
    reviews: Mapped[list[OutputReview]] = relationship(
        back_populates="output", order_by="OutputReview.id")


class OutputReview(Base):
    """One output checker's decision on one output; release needs distinct approving checkers."""

    __tablename__ = "output_review"
    __table_args__ = (
        sa.CheckConstraint("decision IN ('approve', 'reject', 'request_changes')",
                           name="decision"),
    )

    id: Mapped[intpk]
    output_id: Mapped[int] = mapped_column(sa.ForeignKey("workspace_output.id"), index=True)
    reviewer_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    reviewer_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    reviewer: Mapped[str] = mapped_column(sa.String(200))
    decision: Mapped[str] = mapped_column(sa.String(20))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    at: Mapped[created_at]

    output: Mapped[WorkspaceOutput] = relationship(back_populates="reviews")


class OutputPolicy(Base):
    """A data holder's rules for outputs computed from one dataset."""

    __tablename__ = "output_policy"

    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("dataset.id"), primary_key=True)
    cell_threshold: Mapped[int] = mapped_column(default=DEFAULT_CELL_THRESHOLD)
    checkers_required: Mapped[int] = mapped_column(default=2)
    allowed_types: Mapped[list[str]] = mapped_column(
        JSONValue, default=lambda: list(DEFAULT_OUTPUT_TYPES))


def output_path(output_id: int, *, data_dir: Path) -> Path:
    """Where an output's encrypted bytes are kept (context: `output_context`)."""
    return data_dir / "workspace" / "outputs" / f"{output_id}.enc"


def output_context(output_id: int) -> str:
    return f"workspace/output/{output_id}"
