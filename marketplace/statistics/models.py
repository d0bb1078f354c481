"""Database models of the statistics domain: requests, their released tables, holders' rules."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, JSONValue, UTCDateTime, created_at, intpk

STATUSES = ("released", "denied", "review", "rejected")
METHODS = ("sdc", "dp")
DEFAULT_ROUNDING_BASE = 5
DEFAULT_EPSILON_BUDGET = 5.0
# No holder may publish smaller cells than this: counts of 1 to 4 are never shown, the rule
# Sundhedsdatastyrelsen applies to its own published statistics.
PLATFORM_MIN_THRESHOLD = 5
# The most privacy loss one request may spend (a holder may set less).
MAX_EPSILON_PER_REQUEST = 2.0


class StatisticsRequest(Base):
    """One health data request for anonymous statistics (EHDS Art. 69) and its answer.

    The cohort and grouping of every released table are kept: they are the history against
    which a later request is checked for differencing.
    """

    __tablename__ = "statistics_request"
    __table_args__ = (
        sa.CheckConstraint("status IN ('released', 'denied', 'review', 'rejected')",
                           name="status"),
        sa.CheckConstraint("method IN ('sdc', 'dp')", name="method"),
        sa.Index("ix_statistics_request_company_org_id_dataset_id", "company_org_id",
                 "dataset_id"),
    )

    id: Mapped[intpk]
    company_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("dataset.id"), index=True)
    data_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("data_version.id"))
    requested_by: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(200))
    purpose: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str] = mapped_column(sa.Text)
    measures: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue)
    group_by: Mapped[list[str]] = mapped_column(JSONValue)
    cohort: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    method: Mapped[str] = mapped_column(sa.String(3))
    epsilon: Mapped[float | None] = mapped_column(sa.Float)
    status: Mapped[str] = mapped_column(sa.String(20))
    decision: Mapped[dict[str, Any]] = mapped_column(JSONValue)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    created_at: Mapped[created_at]
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The data holder's decision on a request a policy rule sent to review.
    reviewer_org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))
    reviewed_by: Mapped[str | None] = mapped_column(sa.String(200))
    review_comment: Mapped[str | None] = mapped_column(sa.Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StatisticsPolicy(Base):
    """A data holder's disclosure rules for statistics on one dataset, and the privacy budget
    spent on it so far (a row is created when the holder sets rules or a dataset is first
    answered with noise)."""

    __tablename__ = "statistics_policy"
    __table_args__ = (
        sa.CheckConstraint("rounding_base >= 1", name="rounding_base"),
        sa.CheckConstraint("epsilon_spent >= 0", name="epsilon_spent"),
    )

    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("dataset.id"), primary_key=True)
    threshold: Mapped[int | None]
    rounding_base: Mapped[int] = mapped_column(default=DEFAULT_ROUNDING_BASE)
    epsilon_budget: Mapped[float] = mapped_column(sa.Float, default=DEFAULT_EPSILON_BUDGET)
    epsilon_spent: Mapped[float] = mapped_column(sa.Float, default=0.0)
    epsilon_per_request: Mapped[float | None] = mapped_column(sa.Float)
