"""The audit chain resists someone with database access: edits, re-hashing and truncation."""
from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from marketplace import audit
from marketplace.audit import AuditEntry, AuditHead
from marketplace.db import utcnow
from tests.conftest import TEST_AUDIT_KEY


def _append(session, count: int) -> list[AuditEntry]:
    """Entries written and sealed (PostgreSQL seals them after the commit; here at once)."""
    entries = [audit.record_audit(session, actor=None, action="test.event", subject_type="test",
                                  subject_id=str(n), details={"n": n}) for n in range(count)]
    session.flush()
    audit.seal_waiting(session)
    return entries


def _unguard(session) -> None:
    """What an intruder with the database owner's rights does before editing the chain."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("DROP TRIGGER audit_entry_append_only ON audit_entry"))
    else:
        session.execute(sa.text("DROP TRIGGER audit_entry_no_update"))
        session.execute(sa.text("DROP TRIGGER audit_entry_no_delete"))


def _sha256_link(entry: AuditEntry, prev_hash: str) -> str:
    body = {"prev_hash": prev_hash, "at": entry.at.isoformat(timespec="microseconds"),
            "actor": entry.actor, "action": entry.action, "subject_type": entry.subject_type,
            "subject_id": entry.subject_id, "details": entry.details}
    import json
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _rehash_from(session, entries: list[AuditEntry], start: int, link) -> None:
    """Recompute every link from `start` on, as a forger without the key would have to."""
    previous = entries[start - 1].hash if start else audit.GENESIS_HASH
    for entry in entries[start:]:
        new_hash = link(entry, previous)
        session.execute(sa.update(AuditEntry).where(AuditEntry.id == entry.id)
                        .values(prev_hash=previous, hash=new_hash))
        previous = new_hash
    session.expire_all()


def test_an_intact_chain_verifies_with_its_anchor(session) -> None:
    _append(session, 4)
    result = audit.verify_audit_chain(session)
    assert (result.ok, result.checked) == (True, 4)
    head = session.get(AuditHead, 1)
    assert (head.entries, head.legacy_entries) == (4, 0)


def test_an_edit_rehashed_with_plain_sha256_is_caught(session) -> None:
    entries = _append(session, 4)
    _unguard(session)
    session.execute(sa.update(AuditEntry).where(AuditEntry.id == entries[1].id)
                    .values(details={"n": "forged"}))
    session.expire_all()
    _rehash_from(session, list(session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))),
                 1, _sha256_link)
    result = audit.verify_audit_chain(session)
    assert (result.ok, result.first_broken_id) == (False, entries[1].id)


def test_cutting_off_the_newest_entries_is_caught(session) -> None:
    entries = _append(session, 3)
    _unguard(session)
    session.execute(sa.delete(AuditEntry).where(AuditEntry.id == entries[-1].id))
    session.expire_all()
    result = audit.verify_audit_chain(session)
    assert not result.ok and "cut off" in result.reason


def test_a_rewritten_anchor_without_the_key_is_caught(session) -> None:
    entries = _append(session, 3)
    _unguard(session)
    session.execute(sa.delete(AuditEntry).where(AuditEntry.id == entries[-1].id))
    session.execute(sa.update(AuditHead).values(entries=2, hash=entries[1].hash))
    session.expire_all()
    result = audit.verify_audit_chain(session)
    assert not result.ok and "anchor was edited" in result.reason


def test_a_removed_anchor_is_caught(session) -> None:
    _append(session, 2)
    session.execute(sa.delete(AuditHead))
    session.expire_all()
    result = audit.verify_audit_chain(session)
    assert not result.ok and "anchor was removed" in result.reason


def test_a_session_without_the_key_cannot_append(app, connection) -> None:
    from sqlalchemy.orm import Session

    keyless = Session(bind=connection, join_transaction_mode="create_savepoint")
    with pytest.raises(RuntimeError, match="audit key"):
        audit.record_audit(keyless, actor=None, action="test.event", subject_type="test",
                           subject_id="1", details={})
    keyless.close()


def test_a_chain_from_before_the_key_is_anchored_once_and_stays_pinned(session) -> None:
    previous = audit.GENESIS_HASH
    legacy = []
    for n in range(3):  # entries as the platform wrote them before the chain had a key
        entry = AuditEntry(at=utcnow(), actor="system", action="old.event",
                           subject_type="test", subject_id=str(n), details={"n": n},
                           seq=n + 1, prev_hash=previous, hash="")
        entry.hash = _sha256_link(entry, previous)
        session.add(entry)
        session.flush()
        legacy.append(entry)
        previous = entry.hash
    with pytest.raises(RuntimeError, match="not sealed"), session.begin_nested():
        audit.record_audit(session, actor=None, action="new.event", subject_type="test",
                           subject_id="x", details={})
        audit.seal_waiting(session)  # where PostgreSQL links it
    assert audit.seal_legacy_chain(session) == 3
    assert audit.seal_legacy_chain(session) == 0  # anchored once
    _append(session, 2)
    assert audit.verify_audit_chain(session).ok
    # Re-hashing the old part with SHA-256 no longer passes: the first keyed entry pins it.
    _unguard(session)
    session.execute(sa.update(AuditEntry).where(AuditEntry.id == legacy[0].id)
                    .values(details={"n": "forged"}))
    session.expire_all()
    chain = list(session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
    _rehash_from(session, chain[:3], 0, _sha256_link)
    assert not audit.verify_audit_chain(session).ok


def test_concurrent_appenders_form_one_unbroken_chain(database) -> None:
    """Appenders on many connections queue for the anchor: no fork, no lost entry, no error."""
    if database.backend != "postgresql":
        pytest.skip("SQLite has one writer at a time by itself")
    import threading

    from sqlalchemy.orm import sessionmaker

    make = sessionmaker(bind=database.engine, info={audit.AUDIT_KEY: TEST_AUDIT_KEY})
    failures: list[BaseException] = []

    def appender(number: int) -> None:
        try:
            for act in range(5):
                acts = [{"actor": None, "action": "test.race", "subject_type": "test",
                         "subject_id": f"{number}.{act}", "details": {"step": step}}
                        for step in range(2)]
                with make() as session:
                    if number % 2:  # half append an act's entries together
                        audit.record_audits(session, acts)
                    else:
                        for fields in acts:
                            audit.record_audit(session, **fields)
                    session.commit()
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Each commit woke this process's sealer; wait for whatever it has not sealed yet.
        audit.seal_committed(database.engine, TEST_AUDIT_KEY, wait=True)
        with make() as session:
            result = audit.verify_audit_chain(session)
    finally:
        with database.engine.begin() as connection:
            connection.execute(sa.text("TRUNCATE audit_entry, audit_head"))
    assert failures == []
    assert (result.ok, result.checked, result.waiting) == (True, 8 * 5 * 2, 0)


def test_entries_appended_together_chain_like_single_ones(session) -> None:
    _append(session, 2)
    audit.record_audits(session, [
        {"actor": None, "action": "test.together", "subject_type": "test", "subject_id": n,
         "details": {"n": n, "note": "ring 0101011234"}} for n in range(3)])
    audit.record_audit(session, actor=None, action="test.after", subject_type="test",
                       subject_id="9", details={})
    session.flush()
    result = audit.verify_audit_chain(session)
    assert (result.ok, result.checked) == (True, 6)
    notes = [e.details.get("note") for e in session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "test.together"))]
    assert notes == ["ring [cpr]"] * 3  # CPR-like numbers never reach the chain


def test_entries_appended_together_start_a_chain_too(session) -> None:
    audit.record_audits(session, [{"actor": None, "action": "test.first", "subject_type": "test",
                                   "subject_id": "1", "details": {}}])
    session.flush()
    assert audit.verify_audit_chain(session).ok


def _waiting_entry(session) -> AuditEntry:
    entry = audit.record_audit(session, actor=None, action="test.waiting", subject_type="test",
                               subject_id="w", details={"n": 1})
    session.flush()
    return entry


def test_an_entry_edited_while_it_waits_is_never_sealed(session, database) -> None:
    """An intruder who edits an entry before it is linked gets it refused, not laundered."""
    if database.backend != "postgresql":
        pytest.skip("SQLite links each entry in the transaction that writes it")
    _append(session, 2)
    edited = _waiting_entry(session)
    later = _waiting_entry(session)
    _unguard(session)
    session.execute(sa.update(AuditEntry).where(AuditEntry.id == edited.id)
                    .values(details={"n": "forged"}, mac=None))
    session.expire_all()
    outcome = audit.seal_waiting(session)
    assert (outcome.sealed, outcome.blocked_at) == (0, edited.id)
    assert session.get(AuditEntry, later.id).seq is None  # nothing is linked after it either
    result = audit.verify_audit_chain(session)
    assert (result.ok, result.first_broken_id) == (False, edited.id)
    assert "waited" in result.reason


def test_the_database_lets_sealing_fill_in_links_and_nothing_else(session, database) -> None:
    if database.backend != "postgresql":
        pytest.skip("SQLite entries are written linked and never updated")
    entry = _waiting_entry(session)
    for change in ({"details": {"n": "forged"}}, {"seq": 99, "prev_hash": "a" * 64,
                                                  "hash": "b" * 64, "actor": "someone else"}):
        savepoint = session.begin_nested()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            session.execute(sa.update(AuditEntry).where(AuditEntry.id == entry.id)
                            .values(**change))
        savepoint.rollback()
    assert audit.seal_waiting(session).sealed == 1
    savepoint = session.begin_nested()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):  # sealed once, for good
        session.execute(sa.update(AuditEntry).where(AuditEntry.id == entry.id)
                        .values(seq=None, prev_hash=None, hash=None))
    savepoint.rollback()


def test_committed_entries_are_sealed_by_the_committing_process_soon_after(database) -> None:
    """No writer links in its own transaction on PostgreSQL: a thread seals after the commit."""
    if database.backend != "postgresql":
        pytest.skip("SQLite links each entry in the transaction that writes it")
    import time

    from sqlalchemy.orm import sessionmaker

    make = sessionmaker(bind=database.engine, info={audit.AUDIT_KEY: TEST_AUDIT_KEY})
    with database.engine.begin() as connection:  # a chain of this key alone
        connection.execute(sa.text("TRUNCATE audit_entry, audit_head"))
    try:
        for n in range(3):
            with make() as session:
                audit.record_audits(session, [{"actor": None, "action": "test.soon",
                                               "subject_type": "test", "subject_id": str(n),
                                               "details": {}}])
                session.commit()
        deadline = time.monotonic() + 5
        while audit.has_waiting(database.engine) and time.monotonic() < deadline:
            time.sleep(0.02)
        with make() as session:
            result = audit.verify_audit_chain(session)
            places = list(session.scalars(sa.select(AuditEntry.seq).order_by(AuditEntry.seq)))
    finally:
        audit.seal_committed(database.engine, TEST_AUDIT_KEY, wait=True)  # nothing left running
        with database.engine.begin() as connection:
            connection.execute(sa.text("TRUNCATE audit_entry, audit_head"))
    assert (result.ok, result.checked, result.waiting) == (True, 3, 0), result
    assert places == [1, 2, 3]
