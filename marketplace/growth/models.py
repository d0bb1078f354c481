"""Growth opportunities, gate recommendations and decisions, evidence, clinical projects and
value-based procurement cases."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, JSONValue, UTCDateTime, created_at, intpk, utcnow
from marketplace.identity.models import Organisation

STAGES = ("bobler", "identifikation", "kvalificering", "koncept_og_plan", "eksekvering")
SIDE_STATES = ("parkeret", "stoppet")
ALL_STAGES = STAGES + SIDE_STATES
ORIGINS = ("idea", "clinical_project", "test_course")
DECISIONS = ("go", "kill", "hold", "recycle")
TRACKS = ("procurement", "partnership", "export")
EVIDENCE_SOURCES = ("test_course", "clinical_project", "statistics", "output")
ROUTES = ("direct_purchase", "innovation_partnership", "opi", "tender")

_STAGE_SQL = ", ".join(f"'{stage}'" for stage in ALL_STAGES)


class Opportunity(Base):
    """A healthy growth opportunity moving through the cluster's stage gates."""

    __tablename__ = "growth_opportunity"
    __table_args__ = (
        sa.CheckConstraint(f"stage IN ({_STAGE_SQL})", name="stage"),
        sa.Index("ix_growth_opportunity_stage_updated_at", "stage", "updated_at"),
    )

    id: Mapped[intpk]
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    origin: Mapped[str] = mapped_column(sa.String(20), default="idea")
    stage: Mapped[str] = mapped_column(sa.String(20), default="bobler")
    # Where a parked or stopped opportunity stood, so that a revival returns it there.
    paused_from: Mapped[str | None] = mapped_column(sa.String(20))
    themes: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    need_owner_org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"),
                                                         index=True)
    registered_by_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"),
                                                      index=True)
    registered_by_name: Mapped[str] = mapped_column(sa.String(200), default="")
    # Koncept og plan: {dimension: {"baseline", "target", "unit"}} and the execution tracks.
    kpis: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    tracks: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    need_owner: Mapped[Organisation | None] = relationship(foreign_keys=[need_owner_org_id])
    registered_by: Mapped[Organisation] = relationship(foreign_keys=[registered_by_org_id])
    companies: Mapped[list[OpportunityCompany]] = relationship(
        back_populates="opportunity", cascade="all, delete-orphan",
        order_by="OpportunityCompany.position")
    recommendations: Mapped[list[Recommendation]] = relationship(
        back_populates="opportunity", order_by="Recommendation.id")
    decisions: Mapped[list[GateDecision]] = relationship(
        back_populates="opportunity", order_by="GateDecision.id")
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="opportunity", order_by="Evidence.id")


class OpportunityCompany(Base):
    """A company taking part in an opportunity."""

    __tablename__ = "growth_opportunity_company"

    opportunity_id: Mapped[int] = mapped_column(
        sa.ForeignKey("growth_opportunity.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), primary_key=True,
                                        index=True)
    position: Mapped[int] = mapped_column(default=0)

    opportunity: Mapped[Opportunity] = relationship(back_populates="companies")
    org: Mapped[Organisation] = relationship()


class Recommendation(Base):
    """The secretariat's recommendation at a gate, scored against one screening-model version."""

    __tablename__ = "growth_recommendation"

    id: Mapped[intpk]
    opportunity_id: Mapped[int] = mapped_column(sa.ForeignKey("growth_opportunity.id"),
                                                index=True)
    from_stage: Mapped[str] = mapped_column(sa.String(20))
    to_stage: Mapped[str] = mapped_column(sa.String(20))
    text: Mapped[str] = mapped_column(sa.Text, default="")
    model_version: Mapped[str] = mapped_column(sa.String(40))
    # {criterion: {"value", "weight", "reason"}} and {criterion: {"met", "reason"}}
    scores: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    must_meet: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    total: Mapped[float | None] = mapped_column(sa.Float)
    knocked_out: Mapped[bool] = mapped_column(default=False)
    by_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    by_name: Mapped[str] = mapped_column(sa.String(200), default="")
    at: Mapped[created_at]
    decided: Mapped[bool] = mapped_column(default=False)

    opportunity: Mapped[Opportunity] = relationship(back_populates="recommendations")


class GateDecision(Base):
    """The steering group's decision at a gate (or a revival of a parked or stopped one)."""

    __tablename__ = "growth_gate_decision"
    __table_args__ = (
        sa.CheckConstraint("decision IN ('go', 'kill', 'hold', 'recycle', 'revive')",
                           name="decision"),
    )

    id: Mapped[intpk]
    opportunity_id: Mapped[int] = mapped_column(sa.ForeignKey("growth_opportunity.id"),
                                                index=True)
    recommendation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("growth_recommendation.id"))
    from_stage: Mapped[str] = mapped_column(sa.String(20))
    to_stage: Mapped[str] = mapped_column(sa.String(20))
    decision: Mapped[str] = mapped_column(sa.String(10))
    minutes: Mapped[str] = mapped_column(sa.Text, default="")
    by_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    by_name: Mapped[str] = mapped_column(sa.String(200), default="")
    at: Mapped[created_at]

    opportunity: Mapped[Opportunity] = relationship(back_populates="decisions")


class Evidence(Base):
    """A link from an opportunity to what backs it, with where it came from."""

    __tablename__ = "growth_evidence"
    __table_args__ = (
        sa.UniqueConstraint("opportunity_id", "source", "source_id"),
        sa.CheckConstraint(
            "source IN ('test_course', 'clinical_project', 'statistics', 'output')",
            name="source"),
    )

    id: Mapped[intpk]
    opportunity_id: Mapped[int] = mapped_column(sa.ForeignKey("growth_opportunity.id"),
                                                index=True)
    source: Mapped[str] = mapped_column(sa.String(20))
    source_id: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(300))
    # Who produced it and when, and the measured outcomes it carries:
    # {"owner", "recorded_at", "status", "outcomes": [{"dimension", "metric", ...}], ...}
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    added_by_name: Mapped[str] = mapped_column(sa.String(200), default="")
    added_at: Mapped[created_at]

    opportunity: Mapped[Opportunity] = relationship(back_populates="evidence")


class ClinicalProject(Base):
    """A research project that already runs in the clinic, entering the pipeline at
    kvalificering instead of starting from scratch."""

    __tablename__ = "growth_clinical_project"

    id: Mapped[intpk]
    opportunity_id: Mapped[int] = mapped_column(sa.ForeignKey("growth_opportunity.id"),
                                                unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    department_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    funding_dkk: Mapped[int] = mapped_column(sa.BigInteger)
    start: Mapped[date] = mapped_column(sa.Date)
    end: Mapped[date] = mapped_column(sa.Date)
    ethics_approval: Mapped[str] = mapped_column(sa.String(100))
    permit_ids: Mapped[list[int]] = mapped_column(JSONValue, default=list)
    outcomes: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue, default=list)
    registered_by_name: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[created_at]

    department: Mapped[Organisation] = relationship()


class ProcurementCase(Base):
    """A value-based procurement case in six steps, pre-filled from evidence, completed by the
    buyer and handed to procurement."""

    __tablename__ = "growth_procurement_case"

    id: Mapped[intpk]
    opportunity_id: Mapped[int] = mapped_column(sa.ForeignKey("growth_opportunity.id"),
                                                unique=True)
    buyer_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    yearly_cost_dkk: Mapped[int] = mapped_column(sa.BigInteger)
    route: Mapped[str] = mapped_column(sa.String(30))
    # [{"key", "status", "fields": {...}, "evidence": [{"source", "id"}]}] in the six steps' order
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONValue, default=list)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    opportunity: Mapped[Opportunity] = relationship()
    buyer: Mapped[Organisation] = relationship()
