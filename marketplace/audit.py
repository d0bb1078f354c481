"""The append-only audit chain: every decision, permit, release and gate is one hashed link.

Each entry's hash covers the entry and the previous entry's hash, so an edited or deleted entry
breaks every later link. Entries are written in the same transaction as the act they record.
Every domain writes here; this module depends on no domain.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace.cpr import CPR_IN_TEXT
from marketplace.db import Base, JSONValue, UTCDateTime, intpk, utcnow
from marketplace.identity.principal import Principal

GENESIS_HASH = "0" * 64
_AUDIT_LOCK = 0x41554449  # "AUDI": serialises appenders to the chain on PostgreSQL
_HEAD_KEY = "audit.head"


class AuditEntry(Base):
    """One link of the append-only audit chain: its hash covers the entry and the previous hash.

    The unique prev_hash makes a fork impossible: two writers that read the same head cannot
    both append after it.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_entry_subject_type_subject_id", "subject_type",
                               "subject_id"),)

    id: Mapped[intpk]
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(60))
    subject_type: Mapped[str] = mapped_column(sa.String(40))
    subject_id: Mapped[str] = mapped_column(sa.String(80))
    details: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)


def actor_label(actor: Principal | None) -> str:
    """How the audit chain names who acted (never a CPR: citizens by their internal id)."""
    if actor is None:
        return "system"
    ident = actor.user_id or actor.client_id or actor.citizen_id or ""
    return f"{actor.kind}:{actor.org_slug or '-'}:{ident}"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _clean_details(details: dict) -> dict:
    """JSON-native details with anything CPR-like blanked (hostile text may carry one)."""
    text = CPR_IN_TEXT.sub("[cpr]", json.dumps(details, default=str, ensure_ascii=False))
    return json.loads(text)


def entry_hash(*, prev_hash: str, at: datetime, actor: str, action: str, subject_type: str,
               subject_id: str, details: dict) -> str:
    body = {"prev_hash": prev_hash, "at": at.isoformat(timespec="microseconds"), "actor": actor,
            "action": action, "subject_type": subject_type, "subject_id": subject_id,
            "details": details}
    return hashlib.sha256(_canonical(body).encode()).hexdigest()


def _innermost_transaction(session: Session) -> object:
    # A savepoint that rolls back takes its entries with it: remember the head per savepoint.
    return session.get_nested_transaction() or session.get_transaction()


def _chain_head(session: Session) -> str:
    """The hash to chain the next entry to, taking the append lock once per transaction.

    Once this transaction holds the lock (an advisory lock on PostgreSQL, the write lock on
    SQLite) nobody else can append until it ends, so the head it last wrote stays the head.
    """
    transaction = _innermost_transaction(session)
    held = session.info.get(_HEAD_KEY)
    if held and held[0] is transaction:
        return held[1]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_AUDIT_LOCK)))
    head = session.scalar(sa.select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    return head or GENESIS_HASH


def record_audit(session: Session, *, actor: Principal | None, action: str, subject_type: str,
                 subject_id: str, details: dict) -> AuditEntry:
    """Append an entry to the audit chain in the caller's transaction."""
    entry = AuditEntry(at=utcnow(), actor=actor_label(actor), action=action,
                       subject_type=subject_type, subject_id=str(subject_id),
                       details=_clean_details(details), prev_hash=_chain_head(session))
    entry.hash = entry_hash(prev_hash=entry.prev_hash, at=entry.at, actor=entry.actor,
                            action=action, subject_type=subject_type,
                            subject_id=entry.subject_id, details=entry.details)
    session.add(entry)
    session.info[_HEAD_KEY] = (_innermost_transaction(session), entry.hash)
    return entry


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str | None = None
    head: str | None = None


def audit_entries(session: Session) -> Iterator[AuditEntry]:
    """Every entry, oldest first, read in batches."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    yield from session.scalars(query)


def verify_audit_chain(session: Session) -> AuditVerification:
    """Walk the chain from the start; name the first entry that was edited or follows a gap."""
    previous, checked = GENESIS_HASH, 0
    for entry in audit_entries(session):
        if entry.prev_hash != previous:
            return AuditVerification(False, checked, entry.id,
                                     "the previous entry was deleted or edited", previous)
        expected = entry_hash(prev_hash=entry.prev_hash, at=entry.at, actor=entry.actor,
                              action=entry.action, subject_type=entry.subject_type,
                              subject_id=entry.subject_id, details=entry.details)
        if expected != entry.hash:
            return AuditVerification(False, checked, entry.id, "the entry was edited", previous)
        previous, checked = entry.hash, checked + 1
    return AuditVerification(True, checked, head=previous)


def audit_trail(session: Session, *, subject_type: str, subject_id: str) -> list[AuditEntry]:
    """The audit entries about one subject (an application, a permit, ...), oldest first."""
    return list(session.scalars(sa.select(AuditEntry).where(
        AuditEntry.subject_type == subject_type, AuditEntry.subject_id == subject_id)
        .order_by(AuditEntry.id)))
