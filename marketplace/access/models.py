"""Database models of the access domain: applications, decisions, reviews, permits, audit."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, JSONValue, UTCDateTime, created_at, intpk, utcnow
from marketplace.identity.models import Organisation

# An application moves: review -> changes_requested -> review ... -> permitted | rejected;
# the engine may also end it at once: permitted | denied.
REQUEST_STATES = ("review", "changes_requested", "permitted", "denied", "rejected")
TASK_STATES = ("pending", "approved", "rejected", "changes_requested", "superseded")


class AccessRequest(Base):
    """A data access application (EHDS Art. 67): what a permit needs, as the applicant gave it."""

    __tablename__ = "access_request"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {REQUEST_STATES}", name="status"),
        sa.CheckConstraint("duration_days > 0", name="duration_days"),
        sa.Index("ix_access_request_status_submitted_at", "status", "submitted_at"),
    )

    id: Mapped[intpk]
    company_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    submitted_by: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text)
    purpose: Mapped[str] = mapped_column(sa.String(60))
    diseases: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    cohort: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    duration_days: Mapped[int]
    pseudonymised: Mapped[bool] = mapped_column(default=False)
    pseudonymisation_justification: Mapped[str] = mapped_column(sa.Text, default="")
    safeguards: Mapped[str] = mapped_column(sa.Text, default="")
    ethics_approval: Mapped[str] = mapped_column(sa.String(200), default="")
    processors: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue, default=list)
    test_environment_id: Mapped[int | None]
    test_course_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(sa.String(20))
    round: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[created_at]
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    company: Mapped[Organisation] = relationship(lazy="joined")
    items: Mapped[list[RequestedDataset]] = relationship(
        back_populates="access_request", order_by="RequestedDataset.id",
        cascade="all, delete-orphan")
    decisions: Mapped[list[AccessDecision]] = relationship(
        back_populates="access_request", order_by="AccessDecision.id")
    review_tasks: Mapped[list[ReviewTask]] = relationship(
        back_populates="access_request", order_by="ReviewTask.id")
    permit: Mapped[Permit | None] = relationship(back_populates="access_request")

    @property
    def datasets(self) -> list[dict[str, Any]]:
        return [{"dataset_id": item.dataset_id, "columns": list(item.columns)}
                for item in self.items]

    @property
    def dataset_ids(self) -> list[int]:
        return [item.dataset_id for item in self.items]

    @property
    def holder_org_ids(self) -> set[int]:
        return {item.holder_org_id for item in self.items}

    @property
    def latest_decision(self) -> AccessDecision | None:
        return self.decisions[-1] if self.decisions else None

    @property
    def current_tasks(self) -> list[ReviewTask]:
        return [task for task in self.review_tasks if task.round == self.round]


class RequestedDataset(Base):
    """One dataset an application asks for, with its columns and the holder who decides."""

    __tablename__ = "requested_dataset"
    __table_args__ = (
        sa.UniqueConstraint("access_request_id", "dataset_id",
                            name="uq_requested_dataset_access_request_id"),
    )

    id: Mapped[intpk]
    access_request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("access_request.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("dataset.id"), index=True)
    holder_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    columns: Mapped[list[str]] = mapped_column(JSONValue)

    access_request: Mapped[AccessRequest] = relationship(back_populates="items")


class AccessDecision(Base):
    """What the policy engine decided on one submission, with the bundle it used."""

    __tablename__ = "access_decision"

    id: Mapped[intpk]
    access_request_id: Mapped[int] = mapped_column(sa.ForeignKey("access_request.id"), index=True)
    round: Mapped[int]
    outcome: Mapped[str] = mapped_column(sa.String(10))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue)
    policy_version: Mapped[str] = mapped_column(sa.String(64))
    # The cohort sizes the engine saw, per dataset id (counts, never people).
    cohort_sizes: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    access_request: Mapped[AccessRequest] = relationship(back_populates="decisions")


class ReviewTask(Base):
    """One data holder's review of one round of an application."""

    __tablename__ = "review_task"
    __table_args__ = (
        sa.UniqueConstraint("access_request_id", "holder_org_id", "round",
                            name="uq_review_task_access_request_id"),
        sa.CheckConstraint(f"status IN {TASK_STATES}", name="status"),
        sa.Index("ix_review_task_holder_org_id_status", "holder_org_id", "status"),
    )

    id: Mapped[intpk]
    access_request_id: Mapped[int] = mapped_column(sa.ForeignKey("access_request.id"))
    holder_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    round: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    reviewer: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[created_at]
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    access_request: Mapped[AccessRequest] = relationship(back_populates="review_tasks")
    holder: Mapped[Organisation] = relationship(lazy="joined")


class Permit(Base):
    """A data permit (EHDS Art. 68): the conditions data may be used under, until when."""

    __tablename__ = "permit"
    __table_args__ = (
        sa.CheckConstraint("status IN ('active', 'revoked')", name="status"),
        sa.Index("ix_permit_status_valid_until", "status", "valid_until"),
    )

    id: Mapped[intpk]
    access_request_id: Mapped[int] = mapped_column(sa.ForeignKey("access_request.id"),
                                                   unique=True)
    company_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(60))
    datasets: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue)
    cohort: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    k_min: Mapped[int | None]
    pseudonymised: Mapped[bool] = mapped_column(default=False)
    duties: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue, default=list)
    policy_version: Mapped[str] = mapped_column(sa.String(64))
    test_environment_id: Mapped[int | None]
    test_course_id: Mapped[int | None]
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    # Stored state is active or revoked; expiry is derived from valid_until when read.
    stored_status: Mapped[str] = mapped_column("status", sa.String(10), default="active")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(sa.String(200))
    revocation_reason: Mapped[str | None] = mapped_column(sa.Text)

    company: Mapped[Organisation] = relationship(lazy="joined")
    access_request: Mapped[AccessRequest] = relationship(back_populates="permit")

    def status_at(self, now: datetime) -> str:
        if self.stored_status == "revoked":
            return "revoked"
        return "expired" if now >= self.valid_until else "active"

    @property
    def status(self) -> str:
        """active, revoked or expired (a permit expires by itself at valid_until)."""
        return self.status_at(utcnow())

    @property
    def dataset_ids(self) -> list[int]:
        return [entry["dataset_id"] for entry in self.datasets]
