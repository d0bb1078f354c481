"""The append-only audit chain: every decision, permit, release and gate is one keyed link.

Each entry's MAC (HMAC-SHA256 under a key derived from the master key) covers the entry and the
previous entry's MAC, so an edited or deleted entry breaks every later link, and someone with
only database access cannot recompute the chain after an edit. The head (entry count and last
MAC) is kept MAC'd in `audit_head`, so cutting off the newest entries is caught too. Entries are
written in the same transaction as the act they record. Every domain writes here; this module
depends on no domain. Sessions carry the key in `session.info[AUDIT_KEY]` (set by create_app).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace.cpr import CPR_IN_TEXT
from marketplace.db import Base, JSONValue, UTCDateTime, intpk, utcnow
from marketplace.identity.principal import Principal

GENESIS_HASH = "0" * 64
AUDIT_KEY = "audit_key"
_AUDIT_LOCK = 0x41554449  # "AUDI": serialises appenders to the chain on PostgreSQL
_HEAD_KEY = "audit.head"
_HEAD_ID = 1


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


class AuditHead(Base):
    """The chain's anchor: how many entries it has and the last MAC, MAC'd together."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    entries: Mapped[int]
    # Entries written before the key existed carry plain SHA-256 links; the MAC'd head and the
    # first keyed entry pin their last hash, so they cannot be re-hashed unnoticed either.
    legacy_entries: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(sa.String(64))
    mac: Mapped[str] = mapped_column(sa.String(64))


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


def _entry_body(*, prev_hash: str, at: datetime, actor: str, action: str, subject_type: str,
                subject_id: str, details: dict) -> bytes:
    body = {"prev_hash": prev_hash, "at": at.isoformat(timespec="microseconds"), "actor": actor,
            "action": action, "subject_type": subject_type, "subject_id": subject_id,
            "details": details}
    return _canonical(body).encode()


def entry_hash(key: bytes, **fields: Any) -> str:
    """The MAC of one entry (its fields and the previous entry's MAC) under the audit key."""
    return hmac.new(key, _entry_body(**fields), hashlib.sha256).hexdigest()


def _legacy_hash(**fields: Any) -> str:
    # Chains written before the key was introduced used plain SHA-256; see seal_legacy_chain.
    return hashlib.sha256(_entry_body(**fields)).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {"prev_hash": entry.prev_hash, "at": entry.at, "actor": entry.actor,
            "action": entry.action, "subject_type": entry.subject_type,
            "subject_id": entry.subject_id, "details": entry.details}


def _head_mac(key: bytes, head: AuditHead) -> str:
    return _anchor_mac(key, legacy_entries=head.legacy_entries, entries=head.entries,
                       last_hash=head.hash)


def _anchor_mac(key: bytes, *, legacy_entries: int, entries: int, last_hash: str) -> str:
    message = f"audit-head:{legacy_entries}:{entries}:{last_hash}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def audit_key(session: Session) -> bytes:
    """The key the session's app appends and verifies with; fail closed without one."""
    key = session.info.get(AUDIT_KEY)
    if not key:
        raise RuntimeError("this database session carries no audit key: make sessions with "
                           "the app's session factory")
    return key


def _innermost_transaction(session: Session) -> object:
    # A savepoint that rolls back takes its entries with it: remember the head per savepoint.
    return session.get_nested_transaction() or session.get_transaction()


def _locked_head(session: Session) -> AuditHead | None:
    """The chain's anchor, read under a lock that holds until the transaction ends.

    On PostgreSQL the anchor's row lock serialises appenders in one round trip: a waiting
    `SELECT ... FOR UPDATE` reads the row as the previous appender committed it. A chain
    without an anchor yet is started under an advisory lock instead. On SQLite the
    transaction already holds the database's write lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return session.get(AuditHead, _HEAD_ID, populate_existing=True)
    head = session.get(AuditHead, _HEAD_ID, populate_existing=True, with_for_update=True)
    if head is None:
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_AUDIT_LOCK)))
        head = session.get(AuditHead, _HEAD_ID, populate_existing=True, with_for_update=True)
    return head


def _chain_head(session: Session, key: bytes) -> AuditHead:
    """The anchor to chain the next entry to, locking once per transaction.

    Once this transaction holds the lock nobody else can append until it ends, so the anchor
    it last moved stays the head.
    """
    transaction = _innermost_transaction(session)
    held = session.info.get(_HEAD_KEY)
    if held and held[0] is transaction:
        return held[1]
    head = _locked_head(session)
    if head is None:
        if session.scalar(sa.select(AuditEntry.id).limit(1)) is not None:
            raise RuntimeError("the audit chain is not sealed yet: run `marketplace db upgrade`")
        head = AuditHead(id=_HEAD_ID, entries=0, legacy_entries=0, hash=GENESIS_HASH, mac="")
        head.mac = _head_mac(key, head)
        session.add(head)
    session.info[_HEAD_KEY] = (transaction, head)
    return head


def _move_head(session: Session, *, key: bytes, entries: int, last_hash: str,
               legacy_entries: int | None = None) -> None:
    head = session.get(AuditHead, _HEAD_ID)
    if head is None:
        head = AuditHead(id=_HEAD_ID, entries=0, legacy_entries=0, hash=GENESIS_HASH, mac="")
        session.add(head)
    _set_head(head, key=key, entries=entries, last_hash=last_hash,
              legacy_entries=legacy_entries)


def _set_head(head: AuditHead, *, key: bytes, entries: int, last_hash: str,
              legacy_entries: int | None = None) -> None:
    if legacy_entries is not None:
        head.legacy_entries = legacy_entries
    head.entries, head.hash = entries, last_hash
    head.mac = _head_mac(key, head)


def record_audit(session: Session, *, actor: Principal | None, action: str, subject_type: str,
                 subject_id: str, details: dict) -> AuditEntry:
    """Append an entry to the audit chain in the caller's transaction.

    The entries and the anchor are written at the next flush, so several entries appended
    together reach the database in one statement.
    """
    key = audit_key(session)
    head = _chain_head(session, key)
    entry = AuditEntry(at=utcnow(), actor=actor_label(actor), action=action,
                       subject_type=subject_type, subject_id=str(subject_id),
                       details=_clean_details(details), prev_hash=head.hash)
    entry.hash = entry_hash(key, **_fields(entry))
    session.add(entry)
    _set_head(head, key=key, entries=head.entries + 1, last_hash=entry.hash)
    return entry


def record_audits(session: Session, acts: Sequence[Mapping[str, Any]]) -> None:
    """Append the entries of one act (each the keyword arguments of `record_audit`) together,
    just before the commit.

    Everything but the links is prepared before the chain's lock is taken, and the entries
    and the anchor are written in one statement, so every other audited write waits only for
    that statement and the commit.
    """
    if not acts:
        return
    key = audit_key(session)
    prepared = [{"at": utcnow(), "actor": actor_label(act["actor"]), "action": act["action"],
                 "subject_type": act["subject_type"], "subject_id": str(act["subject_id"]),
                 "details": _clean_details(act["details"])} for act in acts]
    head = _chain_head(session, key)
    if sa.inspect(head).pending:  # the chain's very first entries: the anchor is inserted too
        for act in acts:
            record_audit(session, **act)
        return
    previous, rows = head.hash, []
    for fields in prepared:
        link = entry_hash(key, prev_hash=previous, **fields)
        rows.append({**fields, "prev_hash": previous, "hash": link})
        previous = link
    entries = head.entries + len(rows)
    entry_table = cast(sa.Table, AuditEntry.__table__)
    head_table = cast(sa.Table, AuditHead.__table__)
    append = sa.insert(entry_table).values(rows)
    move = sa.update(head_table).where(head_table.c.id == _HEAD_ID).values(
        entries=entries, hash=previous, mac=_anchor_mac(
            key, legacy_entries=head.legacy_entries, entries=entries, last_hash=previous))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(move.add_cte(append.cte("appended")))
    else:
        session.execute(append)
        session.execute(move)
    # Read again when next needed: this transaction holds the lock, so it is as written here.
    session.expire(head)


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
    """Walk the chain and its anchor; name the first entry edited, re-hashed or cut off."""
    key = audit_key(session)
    head = session.get(AuditHead, _HEAD_ID, populate_existing=True)
    legacy = head.legacy_entries if head is not None else 0
    previous, checked = GENESIS_HASH, 0
    for entry in audit_entries(session):
        if entry.prev_hash != previous:
            return AuditVerification(False, checked, entry.id,
                                     "the previous entry was deleted or edited", previous)
        fields = _fields(entry)
        expected = _legacy_hash(**fields) if checked < legacy else entry_hash(key, **fields)
        if not hmac.compare_digest(expected, entry.hash):
            return AuditVerification(False, checked, entry.id, "the entry was edited", previous)
        previous, checked = entry.hash, checked + 1
    if head is None:
        if checked == 0:
            return AuditVerification(True, 0, head=previous)
        return AuditVerification(False, checked, None, "the chain's anchor was removed", previous)
    if not hmac.compare_digest(_head_mac(key, head), head.mac):
        return AuditVerification(False, checked, None, "the chain's anchor was edited", previous)
    if head.entries != checked or head.hash != previous:
        return AuditVerification(False, checked, None,
                                 f"entries were cut off: the anchor counts {head.entries} "
                                 f"entries, the chain has {checked}", previous)
    return AuditVerification(True, checked, head=previous)


def seal_legacy_chain(session: Session) -> int:
    """Anchor a chain written before the audit key existed; return how many entries it pins.

    Run by `marketplace db upgrade`. The old chain is verified first, so only an intact chain is
    anchored; its plain SHA-256 links stay as they are and the MAC'd head pins them. A chain
    that has an anchor is left alone.
    """
    key = audit_key(session)
    if session.get(AuditHead, _HEAD_ID) is not None:
        return 0
    previous, count = GENESIS_HASH, 0
    for entry in audit_entries(session):
        if entry.prev_hash != previous or _legacy_hash(**_fields(entry)) != entry.hash:
            raise RuntimeError(f"audit entry {entry.id} does not verify; not anchoring the chain")
        previous, count = entry.hash, count + 1
    if count:
        _move_head(session, key=key, entries=count, last_hash=previous, legacy_entries=count)
    return count


def audit_trail(session: Session, *, subject_type: str, subject_id: str) -> list[AuditEntry]:
    """The audit entries about one subject (an application, a permit, ...), oldest first."""
    return list(session.scalars(sa.select(AuditEntry).where(
        AuditEntry.subject_type == subject_type, AuditEntry.subject_id == subject_id)
        .order_by(AuditEntry.id)))


@dataclass(frozen=True)
class AuditSearch:
    """What to look for in the chain; every part is optional and they all must hold."""

    action: str | None = None
    actor: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _like(text: str) -> str:
    # The search words are literal: % and _ typed by the operator match themselves.
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_audit(session: Session, *, search: AuditSearch, offset: int, limit: int
                 ) -> tuple[list[AuditEntry], int]:
    """One page of the entries matching `search`, newest first, with the number matching.

    Event and actor match anywhere in the text (case as stored); subject type and id exactly;
    `since` from that moment, `until` before that moment.
    """
    query = sa.select(AuditEntry)
    if search.action:
        query = query.where(AuditEntry.action.like(_like(search.action), escape="\\"))
    if search.actor:
        query = query.where(AuditEntry.actor.like(_like(search.actor), escape="\\"))
    if search.subject_type:
        query = query.where(AuditEntry.subject_type == search.subject_type)
    if search.subject_id:
        query = query.where(AuditEntry.subject_id == search.subject_id)
    if search.since is not None:
        query = query.where(AuditEntry.at >= search.since)
    if search.until is not None:
        query = query.where(AuditEntry.at < search.until)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    entries = session.scalars(query.order_by(AuditEntry.id.desc()).offset(offset).limit(limit))
    return list(entries), total
