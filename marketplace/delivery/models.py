"""Database models of the delivery domain: durable extract jobs and their signed results."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, JSONValue, UTCDateTime, created_at, intpk

EXTRACT_STATUSES = ("queued", "running", "succeeded", "failed")


class Extract(Base):
    """One requested extract of one dataset under one permit, and the job that builds it.

    The job is durable: a worker leases it (lease_owner, lease_expires_at); a worker that dies
    leaves an expired lease that another worker takes over. The output file is recorded only
    when it is complete, so a crashed run leaves nothing visible.
    """

    __tablename__ = "extract"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name="status"
        ),
        sa.CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        sa.Index("ix_extract_status_created_at", "status", "created_at"),
    )

    id: Mapped[intpk]
    permit_id: Mapped[int] = mapped_column(sa.ForeignKey("permit.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("dataset.id"), index=True)
    company_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    data_version_id: Mapped[int] = mapped_column(sa.ForeignKey("data_version.id"))
    data_version_sha256: Mapped[str] = mapped_column(sa.String(64))
    requested_by: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")
    progress: Mapped[float] = mapped_column(sa.Float, default=0.0)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[created_at]
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    path: Mapped[str | None] = mapped_column(sa.String(300))
    byte_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)

    @property
    def is_finished(self) -> bool:
        return self.status in ("succeeded", "failed")
