"""The migrated schema matches the models: a model change without its migration fails here.

Revisions that move rows are run both ways on rows of the shape they find."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from marketplace import schema
from marketplace.db import UTCDateTime, create_engine_for
from marketplace.db_drift import schema_differences
from tests.conftest import (
    BACKENDS,
    POSTGRES_URL,
    TEST_AUDIT_KEY,
    empty_postgres,
    fresh_postgres,
)

AT = datetime(2025, 3, 1, 12, tzinfo=UTC)
KEYS = [f"{n:064x}" for n in range(1, 5)]


def test_models_and_migrations_agree(database) -> None:
    with database.engine.connect() as connection:
        differences = schema_differences(connection)
    assert differences == [], "\n".join(map(str, differences))


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or the test PostgreSQL database, migrated to the head
    again afterwards for the tests that share it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    assert POSTGRES_URL
    empty_postgres(POSTGRES_URL)
    try:
        yield POSTGRES_URL
    finally:
        fresh_postgres(POSTGRES_URL)


def _per_citizen_rows() -> list[dict]:
    """Transparency rows as 0018 kept them, one per citizen: an extract of two datasets and two
    workspace jobs of one permit (the second analysed one citizen more)."""
    def row(extract_id: int | None, job_id: int | None, dataset_id: int, key: str,
            at: datetime) -> dict:
        return {"extract_id": extract_id, "workspace_job_id": job_id, "permit_id": 3,
                "dataset_id": dataset_id, "holder_org_id": 1, "company_org_id": 2,
                "purpose": "research", "subject_key": key, "at": at}
    later = AT + timedelta(days=1)
    return ([row(7, None, 5, key, AT) for key in KEYS[:3]] + [row(7, None, 6, KEYS[0], AT)]
            + [row(None, 11, 5, key, later) for key in KEYS[:2]]
            + [row(None, 12, 5, KEYS[3], later + timedelta(hours=1))])


_COLUMNS = ("extract_id", "workspace_job_id", "permit_id", "dataset_id", "holder_org_id",
            "company_org_id", "purpose", "subject_key")
OLD_DATA_USE = sa.table("data_use", *map(sa.column, _COLUMNS), sa.column("at", UTCDateTime()))


def test_transparency_rows_become_uses_with_their_citizens_and_back(empty_url: str) -> None:
    schema.upgrade(empty_url, revision="0018")
    engine = create_engine_for(empty_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(OLD_DATA_USE), _per_citizen_rows())
        schema.upgrade(empty_url)
        with engine.connect() as connection:
            uses = connection.execute(sa.text(
                "SELECT id, extract_id, workspace_job_id, dataset_id, persons FROM data_use "
                "ORDER BY id")).all()
            subjects = connection.execute(sa.text(
                "SELECT use_id, subject_key FROM data_use_subject")).all()
            times = connection.scalars(
                sa.select(sa.column("at", UTCDateTime())).select_from(sa.table("data_use"))
                .order_by(sa.column("id"))).all()
        assert [u[1:] for u in uses] == [(7, None, 5, 3), (7, None, 6, 1), (None, 11, 5, 2),
                                        (None, 12, 5, 1)]
        use_ids = [u[0] for u in uses]
        assert sorted(subjects) == sorted(
            [(use_ids[0], key) for key in KEYS[:3]] + [(use_ids[1], KEYS[0])]
            + [(use_ids[2], key) for key in KEYS[:2]] + [(use_ids[3], KEYS[3])])
        assert times == [AT, AT, AT + timedelta(days=1), AT + timedelta(days=1, hours=1)]

        command.downgrade(schema.alembic_config(empty_url), "0018")
        with engine.connect() as connection:
            rows = connection.execute(sa.select(OLD_DATA_USE)).mappings().all()
        assert sorted(map(dict, rows), key=_order) == sorted(_per_citizen_rows(), key=_order)
    finally:
        engine.dispose()


def _order(row: dict) -> tuple:
    return tuple(str(row[name]) for name in (*_COLUMNS, "at"))


_ENTRY_COLUMNS = ("at", "actor", "action", "subject_type", "subject_id", "details", "prev_hash",
                  "hash")


def _chain_as_0019_wrote_it(key: bytes) -> tuple[list[dict], dict]:
    """Three linked entries and their anchor, as they were stored before entries had places."""
    from marketplace import audit

    rows, previous = [], audit.GENESIS_HASH
    for n in range(3):
        content = {"at": AT + timedelta(minutes=n), "actor": "system", "action": "test.event",
                   "subject_type": "test", "subject_id": str(n), "details": {"n": n}}
        link = audit.entry_hash(key, prev_hash=previous, **content)
        rows.append({**content, "prev_hash": previous, "hash": link})
        previous = link
    head = {"id": 1, "entries": 3, "legacy_entries": 0, "hash": previous,
            "mac": audit._anchor_mac(key, legacy_entries=0, entries=3, last_hash=previous)}
    return rows, head


def test_audit_entries_take_their_places_in_the_chain_and_stay_guarded(empty_url: str) -> None:
    from sqlalchemy.orm import Session

    from marketplace import audit
    from marketplace.db import JSONValue

    key = TEST_AUDIT_KEY
    schema.upgrade(empty_url, revision="0019")
    engine = create_engine_for(empty_url)
    entries = sa.table("audit_entry", *map(sa.column, _ENTRY_COLUMNS[1:5]),
                       sa.column("at", UTCDateTime()), sa.column("details", JSONValue),
                       sa.column("prev_hash"), sa.column("hash"))
    heads = sa.table("audit_head", *map(sa.column, ("id", "entries", "legacy_entries", "hash",
                                                    "mac")))
    rows, head = _chain_as_0019_wrote_it(key)
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(entries), rows)
            connection.execute(sa.insert(heads), [head])
        schema.upgrade(empty_url)
        with Session(bind=engine, info={audit.AUDIT_KEY: key}) as session:
            result = audit.verify_audit_chain(session)
            places = session.scalars(sa.select(audit.AuditEntry.seq)
                                     .order_by(audit.AuditEntry.id)).all()
            assert (result.ok, result.checked, places) == (True, 3, [1, 2, 3])
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                session.execute(sa.update(audit.AuditEntry).values(actor="someone else"))
            session.rollback()
            audit.record_audit(session, actor=None, action="test.after", subject_type="test",
                               subject_id="9", details={})
            session.commit()
            audit.seal_committed(engine, key, wait=True)
        with Session(bind=engine, info={audit.AUDIT_KEY: key}) as session:
            assert audit.verify_audit_chain(session).checked == 4
        command.downgrade(schema.alembic_config(empty_url), "0019")
        with engine.connect() as connection:
            kept = connection.execute(sa.select(entries).order_by(sa.column("at"))).all()
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                connection.execute(sa.update(entries).values(actor="someone else"))
        assert [row.hash for row in kept][:3] == [row["hash"] for row in rows]
        assert len(kept) == 4 and kept[3].prev_hash == rows[2]["hash"]
    finally:
        engine.dispose()
