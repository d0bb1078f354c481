"""Database models of the consent domain.

Consent events are append-only: a change of mind is a new event, never an update, so the
history a citizen sees is complete and consent can be evaluated as of any past moment.
"""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, UTCDateTime, intpk, utcnow
from marketplace.identity.models import Citizen

BLIND_INDEX = sa.String(64)


class ConsentEvent(Base):
    """One citizen's decision about secondary use, as it was made (append-only)."""

    __tablename__ = "consent_event"
    __table_args__ = (
        sa.CheckConstraint(
            "decision IN ('permit', 'deny', 'clear', 'opt_out', 'opt_out_withdrawn')",
            name="decision"),
        sa.CheckConstraint("scope_type IN ('all', 'holder', 'dataset')", name="scope_type"),
        sa.CheckConstraint(
            "(scope_type = 'all' AND scope_id IS NULL) OR "
            "(scope_type <> 'all' AND scope_id IS NOT NULL)", name="scope_id"),
        sa.CheckConstraint(
            "(decision IN ('opt_out', 'opt_out_withdrawn') AND purpose IS NULL "
            "AND scope_type = 'all') OR "
            "(decision IN ('permit', 'deny', 'clear') AND purpose IS NOT NULL)",
            name="purpose"),
        sa.Index("ix_consent_event_citizen_id_at", "citizen_id", "at"),
        sa.Index("ix_consent_event_purpose_at", "purpose", "at"),
        sa.Index("ix_consent_event_decision_at", "decision", "at"),
    )

    id: Mapped[intpk]
    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("citizen.id"))
    # The citizen's CPR blind index, equal to the catalog's `_subject_key`: bulk evaluation
    # reads events by it without a join.
    subject_key: Mapped[str] = mapped_column(BLIND_INDEX, index=True)
    # The citizen themselves, or a parent acting for a child under 15.
    actor_citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("citizen.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    decision: Mapped[str] = mapped_column(sa.String(20))
    scope_type: Mapped[str] = mapped_column(sa.String(10))
    scope_id: Mapped[int | None]
    purpose: Mapped[str | None] = mapped_column(sa.String(64))
    notice_version: Mapped[str] = mapped_column(sa.String(32))
    channel: Mapped[str] = mapped_column(sa.String(10))  # web, api or demo

    citizen: Mapped[Citizen] = relationship(foreign_keys=[citizen_id])
    actor: Mapped[Citizen] = relationship(foreign_keys=[actor_citizen_id])

    @property
    def by_guardian(self) -> bool:
        return self.actor_citizen_id != self.citizen_id


class Guardianship(Base):
    """A parent with custody who may manage consent for a child under 15."""

    __tablename__ = "guardianship"
    __table_args__ = (
        sa.UniqueConstraint("guardian_citizen_id", "child_citizen_id"),
        sa.CheckConstraint("source IN ('claim', 'operator')", name="source"),
        sa.CheckConstraint("guardian_citizen_id <> child_citizen_id", name="not_self"),
    )

    id: Mapped[intpk]
    guardian_citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("citizen.id"), index=True)
    child_citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("citizen.id"), index=True)
    source: Mapped[str] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    guardian: Mapped[Citizen] = relationship(foreign_keys=[guardian_citizen_id])
    child: Mapped[Citizen] = relationship(foreign_keys=[child_citizen_id])


class DataUse(Base):
    """Transparency: one extract, or one workspace job, used a dataset's records of a permit
    ("who used my data"); the citizens whose records it used are its `DataUseSubject` rows."""

    __tablename__ = "data_use"
    __table_args__ = (
        # One row per use: an extract and dataset, or a workspace job and dataset.
        sa.UniqueConstraint("extract_id", "dataset_id"),
        sa.UniqueConstraint("workspace_job_id", "dataset_id"),
    )

    id: Mapped[intpk]
    # Plain ids, no foreign keys: a use is written by the job that has just read the extract,
    # dataset and organisations it names, beside its subjects in bulk; datasets and
    # organisations are retired, never deleted. A use names either an extract or a workspace
    # job: the first that analysed these citizens' records under the permit.
    extract_id: Mapped[int | None]
    workspace_job_id: Mapped[int | None]
    permit_id: Mapped[int] = mapped_column(index=True)
    dataset_id: Mapped[int]
    holder_org_id: Mapped[int]
    company_org_id: Mapped[int]
    purpose: Mapped[str] = mapped_column(sa.String(64))
    persons: Mapped[int]  # how many citizens' records it used: its DataUseSubject rows
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class DataUseSubject(Base):
    """One citizen whose records a use took: their blind index and the use.

    A national extract adds a million of these, so a row is as narrow as it can be: two columns
    and only the primary key, which answers a citizen's "who used my data" and refuses a
    citizen twice in one use. `use_id` is a plain id, no foreign key, for the same reason as the
    use's own ids: a key checked per row would be most of the cost of writing them. On SQLite
    the table is the primary key's tree itself (no rowid).
    """

    __tablename__ = "data_use_subject"
    __table_args__ = (sa.PrimaryKeyConstraint("subject_key", "use_id"),
                      {"sqlite_with_rowid": False})

    subject_key: Mapped[str] = mapped_column(BLIND_INDEX)
    use_id: Mapped[int] = mapped_column(autoincrement=False)


class ConsentRevision(Base):
    """A counter of consent events, bumped in the same transaction as each of them.

    Cached consent snapshots are keyed on it. Event ids and times are handed out before
    commit, so an event can become visible after a higher-numbered one; this counter only moves
    forward, on commit, and every waiting writer sees the count the last one left.
    """

    __tablename__ = "consent_revision"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ConsentNotice(Base):
    """A published version of the information citizens consent under (append-only).

    The newest is current; before any is published the purpose taxonomy's own version is.
    Each consent event names the version it was given under.
    """

    __tablename__ = "consent_notice"

    id: Mapped[intpk]
    version: Mapped[str] = mapped_column(sa.String(32), unique=True)
    summary: Mapped[str] = mapped_column(sa.Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_by: Mapped[str] = mapped_column(sa.String(200))
