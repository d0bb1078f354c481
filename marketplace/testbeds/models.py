"""Test environments, solution profiles, test courses and their evidence."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, JSONValue, UTCDateTime, created_at, intpk, utcnow
from marketplace.identity.models import Organisation

SECTORS = ("hospital", "municipality", "knowledge_centre")


class TestEnvironment(Base):
    """A living lab where companies test solutions with hospitals and municipalities."""

    __tablename__ = "test_environment"
    __test__ = False  # not a pytest test class

    id: Mapped[intpk]
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name_da: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str] = mapped_column(sa.String(200))
    description_da: Mapped[str] = mapped_column(sa.Text, default="")
    description_en: Mapped[str] = mapped_column(sa.Text, default="")
    themes: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    target_groups: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    resources: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    facilities: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    dataset_ids: Mapped[list[int]] = mapped_column(JSONValue, default=list)
    trl_min: Mapped[int] = mapped_column(default=1)
    trl_max: Mapped[int] = mapped_column(default=9)
    capacity_per_year: Mapped[int] = mapped_column(default=0)
    contact_name: Mapped[str] = mapped_column(sa.String(200), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(200), default="")
    homepage: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    hosts: Mapped[list[TestEnvironmentHost]] = relationship(
        back_populates="environment", cascade="all, delete-orphan",
        order_by="TestEnvironmentHost.position",
    )

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name_da

    def description(self, lang: str) -> str:
        return self.description_en if lang == "en" and self.description_en else self.description_da

    @property
    def host_org_ids(self) -> set[int]:
        return {host.org_id for host in self.hosts}


class TestEnvironmentHost(Base):
    """An organisation hosting a test environment, in its role (hospital, municipality...)."""

    __tablename__ = "test_environment_host"
    __test__ = False

    environment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("test_environment.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), primary_key=True,
                                        index=True)
    sector: Mapped[str] = mapped_column(sa.String(20))
    position: Mapped[int] = mapped_column(default=0)

    environment: Mapped[TestEnvironment] = relationship(back_populates="hosts")
    org: Mapped[Organisation] = relationship()


class SolutionProfile(Base):
    """A company's description of the solution it wants to test."""

    __tablename__ = "solution_profile"

    id: Mapped[intpk]
    company_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    themes: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    target_groups: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    needs: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    facilities: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    trl: Mapped[int | None]
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    company: Mapped[Organisation] = relationship()


class TestCourse(Base):
    """A test course (testforløb): one solution tested in one environment."""

    __tablename__ = "test_course"
    __test__ = False

    id: Mapped[intpk]
    environment_id: Mapped[int] = mapped_column(sa.ForeignKey("test_environment.id"), index=True)
    company_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    solution_profile_id: Mapped[int] = mapped_column(
        sa.ForeignKey("solution_profile.id"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    goal: Mapped[str] = mapped_column(sa.Text, default="")
    planned_start: Mapped[date | None] = mapped_column(sa.Date)
    planned_end: Mapped[date | None] = mapped_column(sa.Date)
    participants_planned: Mapped[int | None]
    status: Mapped[str] = mapped_column(sa.String(20), default="proposed", index=True)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decision_comment: Mapped[str] = mapped_column(sa.Text, default="")
    yearly_cost_dkk: Mapped[int | None]
    procurement_need: Mapped[str] = mapped_column(sa.Text, default="")
    procurement_value: Mapped[str] = mapped_column(sa.Text, default="")
    procurement_market: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[created_at]

    environment: Mapped[TestEnvironment] = relationship()
    company: Mapped[Organisation] = relationship()
    solution: Mapped[SolutionProfile] = relationship()
    events: Mapped[list[TestCourseEvent]] = relationship(
        back_populates="course", order_by="TestCourseEvent.id"
    )
    outcomes: Mapped[list[TestOutcome]] = relationship(
        back_populates="course", order_by="TestOutcome.id"
    )
    evidence: Mapped[list[EvidenceFile]] = relationship(
        back_populates="course", order_by="EvidenceFile.id"
    )
    procurement: Mapped[Procurement | None] = relationship(back_populates="course")


class TestCourseEvent(Base):
    """One step in a test course's life (append-only history)."""

    __tablename__ = "test_course_event"
    __test__ = False

    id: Mapped[intpk]
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("test_course.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    actor_org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))
    actor_name: Mapped[str] = mapped_column(sa.String(200), default="")
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[TestCourse] = relationship(back_populates="events")
    actor_org: Mapped[Organisation | None] = relationship()


class TestOutcome(Base):
    """A measured effect on one of CHC's four effect dimensions, as one party recorded it."""

    __tablename__ = "test_outcome"
    __test__ = False
    __table_args__ = (sa.UniqueConstraint("course_id", "dimension", "party"),)

    id: Mapped[intpk]
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("test_course.id"))
    dimension: Mapped[str] = mapped_column(sa.String(40))
    party: Mapped[str] = mapped_column(sa.String(10))
    recorded_by_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    metric: Mapped[str] = mapped_column(sa.String(200))
    unit: Mapped[str] = mapped_column(sa.String(40), default="")
    baseline: Mapped[float | None] = mapped_column(sa.Float)
    result: Mapped[float] = mapped_column(sa.Float)
    better: Mapped[str] = mapped_column(sa.String(10), default="lower")
    note: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course: Mapped[TestCourse] = relationship(back_populates="outcomes")
    recorded_by: Mapped[Organisation] = relationship()

    @property
    def change(self) -> float | None:
        """Relative improvement (positive is better), or None without a usable baseline."""
        if not self.baseline:
            return None
        delta = (self.result - self.baseline) / abs(self.baseline)
        return -delta if self.better == "lower" else delta


class EvidenceFile(Base):
    """A document backing a test course's outcomes, stored encrypted under the data directory."""

    __tablename__ = "evidence_file"

    id: Mapped[intpk]
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("test_course.id"), index=True)
    dimension: Mapped[str | None] = mapped_column(sa.String(40))
    filename: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    path: Mapped[str] = mapped_column(sa.String(300))
    uploaded_by_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[TestCourse] = relationship(back_populates="evidence")
    uploaded_by: Mapped[Organisation] = relationship()


class Procurement(Base):
    """An innovative procurement a public buyer started on the strength of a test course."""

    __tablename__ = "procurement"

    id: Mapped[intpk]
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("test_course.id"), unique=True)
    buyer_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    started_by_name: Mapped[str] = mapped_column(sa.String(200), default="")
    note: Mapped[str] = mapped_column(sa.Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[TestCourse] = relationship(back_populates="procurement")
    buyer: Mapped[Organisation] = relationship()
