"""Database foundation: the declarative base, shared column types and session handling.

Only the edge (a view, a CLI command, the job runner) commits: views get the request's session
from `get_session()` and commit it; CLI and jobs use `session_scope(app)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import sqlalchemy as sa
from flask import Flask, current_app, g, request
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapper,
    Session,
    make_transient_to_detached,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.orm.util import identity_key

from marketplace.statements import DriverStatement, insert_rows, python_default

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

T = TypeVar("T")

# Seconds a pooled connection may sit idle before it is pinged on checkout.
IDLE_PING_SECONDS = 5.0


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC.

    SQLite drops the offset, so values are normalised to UTC on the way in and tagged on the way
    out; naive datetimes are refused because they are ambiguous.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONValue = sa.JSON().with_variant(JSONB(), "postgresql")

intpk = Annotated[int, mapped_column(primary_key=True)]
created_at = Annotated[datetime, mapped_column(UTCDateTime, default=utcnow)]
str_slug = Annotated[str, mapped_column(sa.String(80))]
json_value = Annotated[Any, mapped_column(JSONValue)]


def create_engine_for(url: str) -> sa.Engine:
    """Create the engine for `url`, with SQLite set up for concurrent readers and foreign keys."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # The sqlite3 driver's own transaction handling breaks SAVEPOINTs; take it over.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(connection: sa.Connection) -> None:
            # A deferred transaction that reads and then writes fails at once ("database is
            # locked") when another writer committed in between; taking the write lock up front
            # makes writers queue for it instead (up to the 30 s busy timeout).
            connection.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")

        return engine
    engine = sa.create_engine(url)

    # A pooled connection may have died while it sat idle (a database restart, a firewall's
    # idle cut-off): ping it before use, but only after a pause. Pinging on every checkout
    # would add a round trip to every request under load, when connections are never idle.
    @sa.event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping_after_a_pause(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and checks out another.
            raise sa.exc.DisconnectionError(str(error)) from error

    return engine


# PostgreSQL gives a transaction an id when it first writes (a row, a lock on a row): until
# then, ending it with COMMIT or ROLLBACK is all the same to the data.
_WROTE_NOTHING = sa.select(sa.func.pg_current_xact_id_if_assigned().is_(None))


def only_read(session: Session) -> bool:
    """Whether the session is in a PostgreSQL transaction that has written nothing, with nothing
    waiting to be written (asked of the server: it knows)."""
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return False
    connection = session.connection()
    if connection.dialect.name != "postgresql" or _autocommits(connection):
        return False  # nothing to lose, or no transaction to end (`reading_session`)
    return bool(connection.scalar(_WROTE_NOTHING))


def _autocommits(connection: sa.Connection) -> bool:
    return bool(getattr(connection.connection.driver_connection, "autocommit", False))


def end_session(session: Session, *, failed: bool) -> None:
    """Close a request's session, ending a transaction that only read with COMMIT.

    ROLLBACK would do the same to the data, but on PostgreSQL psycopg forgets every statement
    it prepared on the connection whenever a transaction rolls back (see `autocommitting`).
    Anything written and not committed is still rolled back: the view did not mean to keep it.
    Only a request that leaves its transaction open pays the question (a request that
    committed has none left).
    """
    if not failed:
        # A transaction already broken cannot be asked, and should COMMIT fail, closing rolls
        # back what is left: a read has nothing to lose.
        with suppress(sa.exc.SQLAlchemyError):
            if only_read(session):
                session.commit()
    session.close()


def init_app(app: Flask) -> None:
    """Bind an engine and session factory to the app and close the request session on teardown."""
    if "marketplace.sessionmaker" not in app.extensions:
        engine = create_engine_for(app.config["DATABASE_URL"])
        app.extensions["marketplace.engine"] = engine
        app.extensions["marketplace.sessionmaker"] = sessionmaker(bind=engine,
                                                                  expire_on_commit=False)

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            end_session(session, failed=exc is not None)


# Whether transactions begun in this context will write. Jobs and commands write; a request
# writes unless its method is safe. Only SQLite reads it (PostgreSQL locks rows, not the file).
_write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session() -> Session:
    """Return the session of the current request, opening it on first use."""
    if "db_session" not in g:
        _write_intent.set(request.method not in SAFE_METHODS)
        g.db_session = current_app.extensions["marketplace.sessionmaker"]()
    return g.db_session


def reading_session() -> Session:
    """The request's session for a view that only reads.

    On PostgreSQL, when the request has not touched the database yet, each statement runs on
    its own: READ COMMITTED gives every statement its own snapshot anyway, and the BEGIN and
    ROLLBACK round trips are saved. Never write through it: nothing would be atomic.
    """
    session = get_session()
    bind = session.get_bind()
    # A session bound to a connection (tests, jobs) keeps the transaction it was given.
    if (isinstance(bind, sa.Engine) and bind.dialect.name == "postgresql"
            and not session.in_transaction()):
        # Bound, not connected: a request answered from a process's own copies (the catalog
        # search, the register) never takes a connection from the pool at all.
        session.bind = autocommitting(bind)
    return session


_autocommit_engines: dict[sa.Engine, sa.Engine] = {}


def autocommitting(engine: sa.Engine) -> sa.Engine:
    """The engine's autocommitting twin (same pool), made once: for reads that need no
    transaction of their own.

    On PostgreSQL it also keeps the connection's prepared statements: psycopg prepares a
    statement once it has run five times on a connection, and forgets every one it prepared
    there whenever a transaction ends in ROLLBACK. A read that opened a transaction and let it
    roll back, a few times a second on a busy server, kept the busiest statements from ever
    being prepared, so PostgreSQL planned each of them afresh.
    """
    twin = _autocommit_engines.get(engine)
    if twin is None:
        twin = _autocommit_engines[engine] = engine.execution_options(
            isolation_level="AUTOCOMMIT")
    return twin


_UNCOMMITTED_FILES = "marketplace.uncommitted_files"


def remove_unless_committed(session: Session, path: Path) -> None:
    """Delete the file at `path` when the session's transaction ends without a commit.

    A file written for rows that are never stored (a failed flush, a failed commit, an error
    after the write) would otherwise stay behind as an orphan.
    """
    session.info.setdefault(_UNCOMMITTED_FILES, []).append(path)


@sa.event.listens_for(Session, "after_commit")
def _keep_committed_files(session: Session) -> None:
    # A released savepoint also reports a commit; only the outermost one stores the rows.
    if not session.in_nested_transaction():
        session.info.pop(_UNCOMMITTED_FILES, None)


@sa.event.listens_for(Session, "after_transaction_end")
def _remove_uncommitted_files(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        for path in session.info.pop(_UNCOMMITTED_FILES, []):
            path.unlink(missing_ok=True)


# --- writing new rows without the unit of work -----------------------------------------------

RowsInserted = Callable[[Session, Sequence[Any]], None]
_insert_listeners: list[RowsInserted] = []


def on_rows_inserted(listener: RowsInserted) -> None:
    """Call `listener(session, objects)` whenever `insert_new` writes objects: what watches the
    flushes for new rows (logs, in-process copies) learns of these too."""
    if listener not in _insert_listeners:
        _insert_listeners.append(listener)


def insert_new(session: Session, objects: Sequence[Any]) -> None:
    """Write new objects of one mapped class with one INSERT, give them their ids and make them
    detached copies of their rows: `session.add` of the object graph then makes them
    persistent without writing anything.

    For a hot path where the unit of work costs more than the inserts. Every column the caller
    left unset takes its default here, so no attribute is left to load later; the caller sets
    foreign keys (a parent's id is known once the parent is written) and relationships are
    not followed. Only tables with a single-column key the database generates qualify.
    """
    if not objects:
        return
    mapper = sa.inspect(type(objects[0]))
    table = cast(sa.Table, mapper.local_table)
    (key,) = mapper.primary_key
    rows = [_row(mapper, item) for item in objects]
    ids = insert_rows(session.connection(), table, rows, returning=key)
    key_attribute = mapper.get_property_by_column(key).key
    for item, new_id in zip(objects, ids, strict=True):
        setattr(item, key_attribute, new_id)
        make_transient_to_detached(item)
    for listener in _insert_listeners:
        listener(session, objects)


def column_rows(session: Session, statement: DriverStatement,
                params: dict[str, Any] | None = None) -> Sequence[Any]:
    """Run a statement that selects columns, not objects, in the session's transaction.

    As `session.execute` would, after writing what is pending, but on the driver (see
    `marketplace.statements`): for columns the ORM's layer, and on a hot path SQLAlchemy's
    execution, add nothing but their cost.
    """
    session.flush()
    return statement.rows(session.connection(), params)


def adopt(session: Session, cls: type[T], values: Mapping[str, Any]) -> T:
    """The object of a row read on the driver (`column_rows`), in the session as if the ORM had
    loaded it: the one the session holds already, else a new one made persistent without a
    statement. `values` gives columns of the class's table by name, the key among them (other
    names are ignored); a column left out loads on first use, as with `load_only`.
    """
    mapper = sa.inspect(cls)
    key = identity_key(cls, tuple(values[column.key] for column in mapper.primary_key))
    held = session.identity_map.get(key)
    if held is not None:
        return held
    adopted = cls(**{attribute: values[column.key]
                     for attribute, column in _column_attributes(mapper)
                     if column.key in values})
    make_transient_to_detached(adopted)  # what was not given is expired: it loads when read
    session.add(adopted)
    return adopted


_attributes: dict[Mapper[Any], list[tuple[str, sa.Column[Any]]]] = {}


def _column_attributes(mapper: Mapper[Any]) -> list[tuple[str, sa.Column[Any]]]:
    """Each mapped column with the name of its attribute, worked out once per class (the
    busiest write and every API request's token check use it)."""
    found = _attributes.get(mapper)
    if found is None:
        found = _attributes[mapper] = [(attribute.key, cast(sa.Column[Any], attribute.columns[0]))
                                       for attribute in mapper.column_attrs]
    return found


def _row(mapper: Mapper[Any], item: Any) -> dict[str, Any]:
    given = item.__dict__
    row = {}
    for key, column in _column_attributes(mapper):
        if column.primary_key:
            continue  # the database generates it
        if key not in given:
            setattr(item, key, python_default(column))
        row[column.key] = given[key]
    return row


@contextmanager
def session_scope(app: Flask) -> Iterator[Session]:
    """Yield a session that commits when the block succeeds and rolls back when it raises."""
    session: Session = app.extensions["marketplace.sessionmaker"]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
