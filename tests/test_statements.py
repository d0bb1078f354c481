"""The busiest statements run on PostgreSQL's driver itself: they must read and write exactly
what SQLAlchemy would, fail as SQLAlchemy would, and stay visible to statement watchers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from marketplace import db
from marketplace.identity.models import Organisation, User
from marketplace.notifications.models import Notification
from marketplace.statements import DriverStatement, insert_rows

NOTIFICATIONS = Notification.__table__
_USERS = (sa.select(User.id, User.email, Organisation.name, Organisation.created_at)
          .join(Organisation, Organisation.id == User.org_id)
          .where(User.org_id.in_(sa.bindparam("org_ids", expanding=True)),
                 User.role.not_in(sa.bindparam("roles", expanding=True)))
          .order_by(User.id))


@pytest.fixture
def staff(session, make_org, make_user) -> list[User]:
    first, second = make_org(kind="regional"), make_org(kind="company")
    return [make_user(first, role="holder_admin"), make_user(first, role="reviewer"),
            make_user(second, role="company_member")]


def test_a_driver_statement_reads_what_sqlalchemy_reads(session, staff) -> None:
    """IN and NOT IN lists of any length (empty ones too), timestamps in UTC, named columns."""
    driver = DriverStatement(_USERS)
    orgs = sorted({user.org_id for user in staff})
    for params in ({"org_ids": orgs, "roles": ["reviewer"]},
                   {"org_ids": orgs[:1], "roles": []},
                   {"org_ids": [], "roles": ["holder_admin"]}):
        expected = [tuple(row) for row in session.execute(_USERS, params)]
        got = driver.rows(session.connection(), params)
        assert [tuple(row) for row in got] == expected
    rows = driver.rows(session.connection(), {"org_ids": orgs, "roles": []})
    assert [row.email for row in rows] == [user.email for user in staff]
    assert all(row.created_at.tzinfo == UTC for row in rows)


def test_rows_inserted_on_the_driver_come_back_in_order_with_their_defaults(
        session, staff) -> None:
    user = staff[0]
    rows = [{"user_id": user.id, "kind": "job_finished", "link": f"/jobs/{number}",
             "params": {"job": number, "names": ["a", "b"]}} for number in range(3)]
    ids = insert_rows(session.connection(), NOTIFICATIONS, rows, returning=NOTIFICATIONS.c.id)
    assert len(ids) == 3 and len(set(ids)) == 3
    stored = {notification.id: notification for notification in session.scalars(
        sa.select(Notification).where(Notification.id.in_(ids)))}
    for new_id, row in zip(ids, rows, strict=True):
        notification = stored[new_id]
        assert (notification.link, notification.params) == (row["link"], row["params"])
        # Python-side defaults applied, as SQLAlchemy's execution would.
        assert notification.in_inbox is True and notification.read_at is None
        assert datetime.now(UTC) - notification.created_at < timedelta(minutes=1)
    assert insert_rows(session.connection(), NOTIFICATIONS, rows[:1]) == []
    assert insert_rows(session.connection(), NOTIFICATIONS, []) == []
    assert session.scalar(sa.select(sa.func.count()).select_from(NOTIFICATIONS)
                          .where(NOTIFICATIONS.c.user_id == user.id)) == 4


def test_a_refused_row_fails_as_sqlalchemy_would_and_stores_nothing(session, staff) -> None:
    before = session.scalar(sa.select(sa.func.count()).select_from(NOTIFICATIONS))
    good = {"user_id": staff[0].id, "kind": "job_finished", "link": "/jobs/1"}
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        insert_rows(session.connection(), NOTIFICATIONS,
                    [good, {**good, "user_id": 999_999}], returning=NOTIFICATIONS.c.id)
    with pytest.raises(sa.exc.StatementError, match="naive"), session.begin_nested():
        insert_rows(session.connection(), NOTIFICATIONS,
                    [{**good, "created_at": datetime(2026, 1, 1)}])
    assert session.scalar(sa.select(sa.func.count()).select_from(NOTIFICATIONS)) == before


def test_statement_watchers_see_driver_statements(session, staff) -> None:
    seen: list[str] = []

    def watch(_connection, _cursor, statement, *_args) -> None:
        seen.append(statement)

    bind = session.connection()
    sa.event.listen(bind.engine, "before_cursor_execute", watch)
    try:
        DriverStatement(_USERS).rows(bind, {"org_ids": [staff[0].org_id], "roles": []})
        insert_rows(bind, NOTIFICATIONS, [{"user_id": staff[0].id, "kind": "job_finished",
                                           "link": "/jobs/1"}])
    finally:
        sa.event.remove(bind.engine, "before_cursor_execute", watch)
    assert [statement.split()[0] for statement in seen] == ["SELECT", "INSERT"]


def test_a_connection_cut_off_under_a_driver_statement_is_replaced(database) -> None:
    """A dead connection raises SQLAlchemy's error marked invalidated; the pool replaces it."""
    if database.backend != "postgresql":
        pytest.skip("an SQLite connection cannot be cut off")
    engine = db.create_engine_for(database.url)
    statement = DriverStatement(sa.select(sa.func.pg_backend_pid()))
    try:
        with engine.connect() as connection:
            (dead,) = statement.rows(connection)[0]
            with database.engine.connect() as other:
                other.execute(sa.select(sa.func.pg_terminate_backend(dead)))
            with pytest.raises(sa.exc.DBAPIError) as raised:
                statement.rows(connection)
            assert raised.value.connection_invalidated
        with engine.connect() as connection:
            assert statement.rows(connection)[0][0] != dead
    finally:
        engine.dispose()
