"""The append-only audit chain: every decision, permit, release and gate is one keyed link.

Each entry carries two MACs (HMAC-SHA256 under a key derived from the master key): its own, over
its content, written with it; and its link, over the content and the previous entry's link, so
an edited or deleted entry breaks every later link and someone with only database access cannot
recompute the chain after an edit. The head (entry count and last link) is kept MAC'd in
`audit_head`, so cutting off the newest entries is caught too.

Entries are written in the same transaction as the act they record. On SQLite that transaction
links them at once: it holds the database's write lock anyway. On PostgreSQL an entry is
committed waiting (its own MAC, no place in the chain yet) and sealed into the chain just after
the commit, in batches, by a thread of the committing process under an advisory lock: linking
in the writers' transactions made every audited write in the service wait for the one before it
to commit. Every domain writes here; this module depends on no domain. Sessions carry the key
in `session.info[AUDIT_KEY]` (set by create_app).
"""
from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.util import identity_key

from marketplace.cpr import CPR_IN_TEXT
from marketplace.db import Base, JSONValue, UTCDateTime, autocommitting, intpk, utcnow
from marketplace.identity.principal import Principal
from marketplace.statements import insert_rows

GENESIS_HASH = "0" * 64
AUDIT_KEY = "audit_key"
_AUDIT_LOCK = 0x41554449  # "AUDI": one sealer at a time on PostgreSQL
_HEAD_KEY = "audit.head"
_WAITING_KEY = "audit.waiting"
_HEAD_ID = 1
SEAL_BATCH = 1000

log = logging.getLogger(__name__)


class AuditEntry(Base):
    """One link of the append-only audit chain.

    `mac` covers the entry's content and is written with it. `seq`, `prev_hash` and `hash` (the
    link) are filled in once, when the entry is sealed into the chain; the unique prev_hash and
    seq make a fork impossible.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (
        sa.Index("ix_audit_entry_subject_type_subject_id", "subject_type", "subject_id"),
        # The sealer's question, "which entries wait?", must not read the whole chain.
        sa.Index("ix_audit_entry_waiting", "id", postgresql_where=sa.text("seq IS NULL"),
                 sqlite_where=sa.text("seq IS NULL")),
    )

    id: Mapped[intpk]
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(60))
    subject_type: Mapped[str] = mapped_column(sa.String(40))
    subject_id: Mapped[str] = mapped_column(sa.String(80))
    details: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    # Entries from before entry MACs existed have none; their links vouch for them.
    mac: Mapped[str | None] = mapped_column(sa.String(64))
    seq: Mapped[int | None] = mapped_column(unique=True)
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)


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


_ENTRIES = cast(sa.Table, AuditEntry.__table__)
_HEADS = cast(sa.Table, AuditHead.__table__)
# Parameters apart from the statements: one statement object each, its compiled form reused.
_MOVE_ANCHOR = sa.update(_HEADS).where(_HEADS.c.id == _HEAD_ID)


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


def _content_body(*, at: datetime, actor: str, action: str, subject_type: str,
                  subject_id: str, details: dict) -> dict[str, Any]:
    return {"at": at.isoformat(timespec="microseconds"), "actor": actor, "action": action,
            "subject_type": subject_type, "subject_id": subject_id, "details": details}


def _entry_body(*, prev_hash: str, **content: Any) -> bytes:
    return _canonical({"prev_hash": prev_hash, **_content_body(**content)}).encode()


def entry_hash(key: bytes, **fields: Any) -> str:
    """The link of one entry (its fields and the previous entry's link) under the audit key."""
    return hmac.new(key, _entry_body(**fields), hashlib.sha256).hexdigest()


def content_mac(key: bytes, **content: Any) -> str:
    """The entry's own MAC: its content alone, so it holds before the entry has a place."""
    message = b"audit-entry:" + _canonical(_content_body(**content)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _legacy_hash(**fields: Any) -> str:
    # Chains written before the key was introduced used plain SHA-256; see seal_legacy_chain.
    return hashlib.sha256(_entry_body(**fields)).hexdigest()


_CONTENT = ("at", "actor", "action", "subject_type", "subject_id", "details")


def _content(entry: AuditEntry | sa.Row[Any]) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _CONTENT}


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {"prev_hash": entry.prev_hash, **_content(entry)}


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


def _seals_at_once(session: Session) -> bool:
    # SQLite's writer holds the whole database until it commits: linking there costs nothing.
    return session.get_bind().dialect.name != "postgresql"


def _innermost_transaction(session: Session) -> object:
    # A savepoint that rolls back takes its entries with it: remember the head per savepoint.
    return session.get_nested_transaction() or session.get_transaction()


def _new_head(key: bytes) -> AuditHead:
    head = AuditHead(id=_HEAD_ID, entries=0, legacy_entries=0, hash=GENESIS_HASH, mac="")
    head.mac = _head_mac(key, head)
    return head


def _chain_head(session: Session, key: bytes) -> AuditHead:
    """The anchor to link the next entry to (SQLite), read once per transaction.

    The transaction holds the database's write lock, so the anchor it last moved stays the head.
    """
    transaction = _innermost_transaction(session)
    held = session.info.get(_HEAD_KEY)
    if held and held[0] is transaction:
        return held[1]
    head = session.get(AuditHead, _HEAD_ID, populate_existing=True)
    if head is None:
        if session.scalar(sa.select(AuditEntry.id).limit(1)) is not None:
            raise RuntimeError("the audit chain is not sealed yet: run `marketplace db upgrade`")
        head = _new_head(key)
        session.add(head)
    session.info[_HEAD_KEY] = (transaction, head)
    return head


def _set_head(head: AuditHead, *, key: bytes, entries: int, last_hash: str,
              legacy_entries: int | None = None) -> None:
    if legacy_entries is not None:
        head.legacy_entries = legacy_entries
    head.entries, head.hash = entries, last_hash
    head.mac = _head_mac(key, head)


def _move_head(session: Session, *, key: bytes, entries: int, last_hash: str,
               legacy_entries: int | None = None) -> None:
    head = session.get(AuditHead, _HEAD_ID)
    if head is None:
        head = _new_head(key)
        session.add(head)
    _set_head(head, key=key, entries=entries, last_hash=last_hash,
              legacy_entries=legacy_entries)


def _prepare(key: bytes, *, actor: Principal | None, action: str, subject_type: str,
             subject_id: str, details: dict) -> dict[str, Any]:
    """An entry's content and its own MAC, made before any lock is taken."""
    content = {"at": utcnow(), "actor": actor_label(actor), "action": action,
               "subject_type": subject_type, "subject_id": str(subject_id),
               "details": _clean_details(details)}
    return {**content, "mac": content_mac(key, **content)}


def _note_waiting(session: Session) -> None:
    """Have the chain sealed once this session's transaction commits (see `_seal_after_commit`)."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, sa.Connection) else bind
    session.info[_WAITING_KEY] = (engine, audit_key(session))


def record_audit(session: Session, *, actor: Principal | None, action: str, subject_type: str,
                 subject_id: str, details: dict) -> AuditEntry:
    """Append an entry to the audit chain in the caller's transaction.

    The entry is written at the next flush. On SQLite it is linked at once; on PostgreSQL it
    waits, under its own MAC, to be sealed just after the commit.
    """
    key = audit_key(session)
    entry = AuditEntry(**_prepare(key, actor=actor, action=action, subject_type=subject_type,
                                  subject_id=subject_id, details=details))
    if _seals_at_once(session):
        head = _chain_head(session, key)
        entry.seq, entry.prev_hash = head.entries + 1, head.hash
        entry.hash = entry_hash(key, **_fields(entry))
        _set_head(head, key=key, entries=head.entries + 1, last_hash=entry.hash)
    else:
        _note_waiting(session)
    session.add(entry)
    return entry


def record_audits(session: Session, acts: Sequence[Mapping[str, Any]]) -> None:
    """Append the entries of one act (each the keyword arguments of `record_audit`) together,
    in one statement."""
    if not acts:
        return
    key = audit_key(session)
    rows = [_prepare(key, **act) for act in acts]
    if not _seals_at_once(session):
        insert_rows(session.connection(), _ENTRIES, rows)
        _note_waiting(session)
        return
    head = _chain_head(session, key)
    if sa.inspect(head).pending:  # the chain's very first entries: the anchor is inserted too
        for act in acts:
            record_audit(session, **act)
        return
    previous, entries = head.hash, head.entries
    for row in rows:
        entries += 1
        link = entry_hash(key, prev_hash=previous, **{k: v for k, v in row.items() if k != "mac"})
        row.update(seq=entries, prev_hash=previous, hash=link)
        previous = link
    insert_rows(session.connection(), _ENTRIES, rows)
    session.execute(_MOVE_ANCHOR.values(
        entries=entries, hash=previous, mac=_anchor_mac(
            key, legacy_entries=head.legacy_entries, entries=entries, last_hash=previous)))
    # Read again when next needed: this transaction holds the lock, so it is as written here.
    session.expire(head)


# --- sealing waiting entries into the chain (PostgreSQL) -----------------------------------------

@dataclass(frozen=True)
class Sealing:
    """What one sealing transaction did."""

    sealed: int
    busy: bool = False  # another sealer held the chain; it looks again once it lets go
    blocked_at: int | None = None  # an entry whose own MAC fails: sealing stops before it


# Sealing's statements, built once: each runs after every few commits, and making a statement
# costs about as much as running it.
_WAITING = (sa.select(_ENTRIES.c.id, _ENTRIES.c.mac, *(_ENTRIES.c[name] for name in _CONTENT))
            .where(_ENTRIES.c.seq.is_(None)).order_by(_ENTRIES.c.id)
            .limit(sa.bindparam("limit")))
_ANY_WAITING = sa.select(_ENTRIES.c.id).where(_ENTRIES.c.seq.is_(None)).limit(1)
_ANCHOR = (sa.select(_HEADS.c.entries, _HEADS.c.hash, _HEADS.c.legacy_entries)
           .where(_HEADS.c.id == _HEAD_ID))
# A whole batch is linked by one statement, from arrays of its values (only PostgreSQL's entries
# wait to be linked): an UPDATE per entry, even pipelined, cost both sides more than the rest
# of the sealing.
_BATCH = (sa.func.unnest(*(sa.bindparam(name, type_=ARRAY(column_type)) for name, column_type
                           in (("ids", sa.Integer()), ("seqs", sa.Integer()),
                               ("prevs", sa.String()), ("hashes", sa.String()))))
          .table_valued("id", "seq", "prev", "hash").render_derived(name="link"))
_LINK = (sa.update(_ENTRIES).where(_ENTRIES.c.id == _BATCH.c.id)
         .values(seq=_BATCH.c.seq, prev_hash=_BATCH.c.prev, hash=_BATCH.c.hash))
_LOCK = sa.select(sa.func.pg_advisory_xact_lock(_AUDIT_LOCK))
_TRY_LOCK = sa.select(sa.func.pg_try_advisory_xact_lock(_AUDIT_LOCK))


def _waiting(session: Session, limit: int) -> list[sa.Row[Any]]:
    """The oldest waiting entries' ids, content and own MACs (rows, not objects: sealing reads
    many and changes three columns)."""
    return list(session.execute(_WAITING, {"limit": limit}))


def _anchor(session: Session) -> tuple[int, str, int] | None:
    """The chain's entry count, last link and legacy entries; None for a chain not begun."""
    head = session.execute(_ANCHOR).first()
    if head is not None:
        return head.entries, head.hash, head.legacy_entries
    if session.scalar(sa.select(_ENTRIES.c.id).where(_ENTRIES.c.seq.is_not(None))
                      .limit(1)) is not None:
        raise RuntimeError("the audit chain is not sealed yet: run `marketplace db upgrade`")
    return None


def _expire_links(session: Session, entry_ids: list[int]) -> None:
    # The links were written around the ORM: objects of these entries this session holds
    # read them afresh.
    for entry_id in entry_ids:
        held = session.identity_map.get(identity_key(AuditEntry, entry_id))
        if held is not None:
            session.expire(held, ["seq", "prev_hash", "hash"])


def seal_waiting(session: Session, *, wait: bool = True, limit: int = SEAL_BATCH) -> Sealing:
    """Link the entries waiting to be sealed that this transaction sees, oldest first.

    Takes the chain's advisory lock until the transaction ends (with `wait=False`, gives up at
    once when another sealer has it). An entry whose own MAC does not hold, edited while it
    waited, is never linked: sealing stops before it, and verification names it.
    """
    key = audit_key(session)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres and session.scalar(_LOCK if wait else _TRY_LOCK) is False:
        return Sealing(0, busy=True)
    waiting = _waiting(session, limit)
    held = next((entry for entry in waiting if not _content_holds(key, entry)), None)
    if held is not None:
        log.error("audit entry %s was edited while it waited to be sealed; sealing stops before "
                  "it", held.id)
        waiting = waiting[:waiting.index(held)]
    if not waiting:
        return Sealing(0, blocked_at=held.id if held else None)
    anchor = _anchor(session)
    entries, previous, legacy = anchor or (0, GENESIS_HASH, 0)
    seqs, prevs, hashes = [], [], []
    for entry in waiting:
        entries += 1
        link = entry_hash(key, prev_hash=previous, **_content(entry))
        seqs.append(entries)
        prevs.append(previous)
        hashes.append(link)
        previous = link
    ids = [entry.id for entry in waiting]
    session.execute(_LINK, {"ids": ids, "seqs": seqs, "prevs": prevs, "hashes": hashes})
    _expire_links(session, ids)
    anchored = {"entries": entries, "hash": previous, "legacy_entries": legacy,
                "mac": _anchor_mac(key, legacy_entries=legacy, entries=entries,
                                   last_hash=previous)}
    if anchor is None:
        session.execute(sa.insert(_HEADS).values(id=_HEAD_ID, **anchored))
    else:
        session.execute(_MOVE_ANCHOR.values(**anchored))
    return Sealing(len(waiting), blocked_at=held.id if held else None)


def _content_holds(key: bytes, entry: AuditEntry | sa.Row[Any]) -> bool:
    return entry.mac is not None and hmac.compare_digest(content_mac(key, **_content(entry)),
                                                         entry.mac)


def has_waiting(engine: sa.Engine) -> bool:
    """Whether any committed entry waits to be sealed."""
    # No transaction: one that rolled back would cost the connection its prepared statements.
    with autocommitting(engine).connect() as connection:
        return connection.scalar(_ANY_WAITING) is not None


def seal_committed(engine: sa.Engine, key: bytes, *, wait: bool = False) -> int:
    """Seal every committed waiting entry, a batch per transaction; return how many.

    Each batch is preceded by a look outside the lock, so an idle caller costs one query and a
    sealer sees what was committed while it held the lock. When another sealer holds the chain
    this returns: that sealer looks again after it lets go, and so sees every entry committed
    before this call. On SQLite no entry ever waits: nothing to do.
    """
    if engine.dialect.name != "postgresql":
        return 0
    total = 0
    while has_waiting(engine):
        with Session(bind=engine, info={AUDIT_KEY: key}) as session:
            outcome = seal_waiting(session, wait=wait)
            session.commit()
        total += outcome.sealed
        if outcome.busy or outcome.blocked_at is not None:
            break
    return total


class _Sealer:
    """A thread of this process that seals the chain after this process's commits.

    Woken after each commit that wrote entries, it lets `GATHER_SECONDS` pass first so that one
    sealing transaction links the entries of many commits: a transaction per commit cost about
    as much as the request that made the entry. A sealing costs about 2.5 ms of CPU plus 0.07 ms
    per entry (bench/audit_sealing.py), so a quarter of a second between them keeps it under a
    tenth of the service's CPU at any load, while the chain's anchor lags the commits by no
    more than that. Entries that a process killed between its commit and its sealing left
    waiting are sealed by the next sealing anywhere, and by the job worker when it is idle
    (`seal_committed`).
    """

    GATHER_SECONDS = 0.25

    def __init__(self, engine: sa.Engine, key: bytes) -> None:
        self.engine, self.key = engine, key
        self._wake, self._woken, self._stopping = threading.Event(), False, False
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._woken = True
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Seal what this process committed, then end (at the process's exit)."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if not self._stopping:
                time.sleep(self.GATHER_SECONDS)
            self._wake.clear()
            if self._woken:
                self._woken = False
                try:
                    seal_committed(self.engine, self.key)
                except Exception:  # the entries stay waiting for the next sealing
                    log.exception("sealing the audit chain failed; the next sealing retries")
            if self._stopping:
                return


_sealers: dict[tuple[int, int], _Sealer] = {}
_sealers_lock = threading.Lock()


def _sealer(engine: sa.Engine, key: bytes) -> _Sealer:
    # Keyed by process too: a forked server worker starts its own thread.
    ident = (os.getpid(), id(engine))
    with _sealers_lock:
        sealer = _sealers.get(ident)
        if sealer is None:
            sealer = _sealers[ident] = _Sealer(engine, key)
    return sealer


@atexit.register
def _seal_before_exit() -> None:
    for (pid, _), sealer in list(_sealers.items()):
        if pid == os.getpid():
            sealer.stop()


@sa.event.listens_for(Session, "after_commit")
def _seal_after_commit(session: Session) -> None:
    # A released savepoint also reports a commit; only the outermost one makes entries visible.
    if session.in_nested_transaction():
        return
    waiting = session.info.pop(_WAITING_KEY, None)
    if waiting is not None:
        _sealer(*waiting).wake()


# --- verification -------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str | None = None
    head: str | None = None
    waiting: int = 0  # entries committed but not yet sealed; their own MACs were checked


def audit_entries(session: Session) -> Iterator[AuditEntry]:
    """Every entry, sealed or waiting, in the order written, read in batches."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    yield from session.scalars(query)


def _chain(session: Session) -> Iterator[AuditEntry]:
    query = (sa.select(AuditEntry).where(AuditEntry.seq.is_not(None)).order_by(AuditEntry.seq)
             .execution_options(yield_per=1000))
    yield from session.scalars(query)


def _broken_link(key: bytes, entry: AuditEntry, *, previous: str, position: int,
                 legacy: int) -> str | None:
    """Why this entry does not hold at this place in the chain; None when it does."""
    if entry.prev_hash != previous or entry.seq != position + 1:
        return "the previous entry was deleted or edited"
    fields = _fields(entry)
    expected = _legacy_hash(**fields) if position < legacy else entry_hash(key, **fields)
    if not hmac.compare_digest(expected, entry.hash or ""):
        return "the entry was edited"
    if entry.mac is not None and not hmac.compare_digest(
            content_mac(key, **_content(entry)), entry.mac):
        return "the entry was edited"
    return None


def verify_audit_chain(session: Session) -> AuditVerification:
    """Walk the chain and its anchor, then the waiting entries; name the first entry edited,
    re-hashed or cut off."""
    key = audit_key(session)
    head = session.get(AuditHead, _HEAD_ID, populate_existing=True)
    legacy = head.legacy_entries if head is not None else 0
    previous, checked = GENESIS_HASH, 0
    for entry in _chain(session):
        reason = _broken_link(key, entry, previous=previous, position=checked, legacy=legacy)
        if reason:
            return AuditVerification(False, checked, entry.id, reason, previous)
        previous, checked = cast(str, entry.hash), checked + 1
    if head is None:
        if checked:
            return AuditVerification(False, checked, None, "the chain's anchor was removed",
                                     previous)
    elif not hmac.compare_digest(_head_mac(key, head), head.mac):
        return AuditVerification(False, checked, None, "the chain's anchor was edited", previous)
    elif head.entries != checked or head.hash != previous:
        return AuditVerification(False, checked, None,
                                 f"entries were cut off: the anchor counts {head.entries} "
                                 f"entries, the chain has {checked}", previous)
    waiting = 0
    for row in _waiting(session, limit=2**31 - 1):
        if not _content_holds(key, row):
            return AuditVerification(False, checked + waiting, row.id,
                                     "the entry was edited while it waited to be sealed",
                                     previous)
        waiting += 1
    return AuditVerification(True, checked + waiting, head=previous, waiting=waiting)


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
    for entry in _chain(session):
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
