"""The busiest statements, run on PostgreSQL's driver itself.

SQLAlchemy turns a statement into SQL once and caches it, but every execution still builds an
execution context, a result object and its metadata: run on the driver, a small statement
costs a quarter to a third less CPU in our process (`bench/driver_statements.py`). An access
application runs a dozen such statements; under load, SQLAlchemy's own code was over a third
of the time a server process held the interpreter, and is under a quarter with the
application's statements run here. A `DriverStatement` is a Core statement compiled by
SQLAlchemy once and then handed to psycopg as plain SQL, with the values passed through the
column types' own processors both ways: it reads and writes exactly what SQLAlchemy would.

- IN lists (expanding bind parameters) become `= ANY(array)` / `<> ALL(array)`: one SQL text
  whatever the list's length, so PostgreSQL can keep it prepared.
- Errors come out as SQLAlchemy's (`sa.exc.IntegrityError`...), and a broken connection is
  invalidated as SQLAlchemy would.
- Listeners of `before_cursor_execute` / `after_cursor_execute` still see each statement.
- On any other database (SQLite, the embedded default) the statement runs through SQLAlchemy
  as usual: it is not the busy production path, and its driver needs SQLAlchemy's conversions.
"""

from __future__ import annotations

import re
import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any]

# How SQLAlchemy marks an expanding parameter in compiled SQL; the list is bound per execution.
_EXPANDING = re.compile(r"(NOT )?IN \(__\[POSTCOMPILE_(\w+)\]\)")


@dataclass
class _Compiled:
    """A statement turned into psycopg's SQL, with what its values need on the way."""

    sql: str
    defaults: dict[str, Any]  # values bound in the statement itself
    # Only the parameters whose values need work: a processor of their type, or a list made
    # of an IN list's values (each through the processor, if any).
    converted: list[tuple[str, Processor | None, bool]]
    columns: list[sa.ColumnElement[Any]]  # what it returns, in order
    row: type | None = None  # made at the first answer, with the result processors
    results: list[Processor | None] | None = None


class DriverStatement:
    """A Core statement (SELECT, or INSERT ... RETURNING) that runs on psycopg directly when the
    connection is PostgreSQL's. Build it once, at import, like the statement it wraps."""

    def __init__(self, statement: sa.Select[Any] | sa.Insert) -> None:
        self.statement = statement
        self._compiled: _Compiled | None = None
        self._lock = threading.Lock()

    def rows(self, connection: sa.Connection, params: Mapping[str, Any] | None = None
             ) -> Sequence[Any]:
        """Run in the connection's transaction; return every row (named tuples, or SQLAlchemy
        rows elsewhere than PostgreSQL)."""
        if connection.dialect.name != "postgresql":
            return connection.execute(self.statement, dict(params or {})).all()
        compiled = self._compiled or self._compile(connection.dialect)
        bound = dict(compiled.defaults)
        bound.update(params or {})
        try:
            for name, process, expanding in compiled.converted:
                if name in bound:
                    bound[name] = _bind(bound[name], process, expanding)
        except Exception as error:  # a value its type refuses (a naive timestamp), as SQLAlchemy
            raise sa.exc.StatementError(str(error), compiled.sql, params, error) from error
        return _run(connection, compiled, bound)

    def _compile(self, dialect: Dialect) -> _Compiled:
        with self._lock:
            if self._compiled is None:
                self._compiled = _compile(self.statement, dialect)
            return self._compiled


def _compile(statement: sa.Select[Any] | sa.Insert, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    expanding = frozenset(name for name in compiled.params
                          if compiled.binds[name].expanding)

    def as_array(match: re.Match[str]) -> str:
        negated, name = match.groups()
        # Typed, so that an empty list compares too.
        array = f"%({name})s::{compiled.binds[name].type.compile(dialect)}[]"
        return f"<> ALL({array})" if negated else f"= ANY({array})"

    sql = _EXPANDING.sub(as_array, compiled.string)
    if "POSTCOMPILE" in sql:
        raise ValueError(f"a parameter is rendered per execution: {sql}")
    converted: list[tuple[str, Processor | None, bool]] = []
    for name in compiled.params:
        process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None or name in expanding:
            converted.append((name, process, name in expanding))
    defaults = {name: value for name, value in compiled.params.items() if value is not None}
    columns = list(statement.selected_columns if isinstance(statement, sa.Select)
                   else statement.exported_columns)
    return _Compiled(sql, defaults, converted, columns)


def _bind(value: Any, processor: Processor | None, expanding: bool) -> Any:
    if not expanding:
        return processor(value) if processor is not None else value
    return [processor(item) for item in value] if processor is not None else list(value)


def _run(connection: sa.Connection, compiled: _Compiled, params: dict[str, Any]
         ) -> list[Any]:
    dialect = connection.dialect
    driver = cast(Any, connection.connection.driver_connection)
    dispatch = connection.dispatch
    with driver.cursor() as cursor:
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, compiled.sql, params, None, False)
        try:
            cursor.execute(compiled.sql, params)
            fetched = cursor.fetchall() if cursor.description is not None else []
        except dialect.loaded_dbapi.Error as error:
            raise _translated(connection, compiled.sql, params, error, cursor) from error
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, compiled.sql, params, None, False)
        if not fetched:
            return []
        if compiled.row is None:
            _learn_results(compiled, dialect, cursor.description)
    row = cast(type, compiled.row)
    processors = cast(list[Processor | None], compiled.results)
    if not any(processors):
        return [row._make(values) for values in fetched]  # type: ignore[attr-defined]
    return [row._make(value if process is None else process(value)  # type: ignore[attr-defined]
                      for process, value in zip(processors, values, strict=True))
            for values in fetched]


def _learn_results(compiled: _Compiled, dialect: Dialect, description: Sequence[Any]) -> None:
    """The result processors, from the column types and the types the server answered with."""
    compiled.results = [
        column.type.dialect_impl(dialect).result_processor(dialect, described.type_code)
        for column, described in zip(compiled.columns, description, strict=True)]
    names = [column.key or f"column_{index}" for index, column in enumerate(compiled.columns)]
    compiled.row = namedtuple("Row", names, rename=True)  # type: ignore[misc]


def _translated(connection: sa.Connection, sql: str, params: dict[str, Any],
                error: Exception, cursor: Any) -> sa.exc.DBAPIError:
    """The driver's error as SQLAlchemy would raise it, the connection invalidated when the
    error says it is gone (the pool then replaces it)."""
    dialect = connection.dialect
    gone = dialect.is_disconnect(cast(Any, error), connection.connection.dbapi_connection,
                                 cursor)
    if gone:
        connection.invalidate(error)
    return cast(sa.exc.DBAPIError, sa.exc.DBAPIError.instance(
        sql, params, error, dialect.loaded_dbapi.Error, connection_invalidated=gone,
        dialect=dialect))


# --- new rows ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _RowsInsert:
    """An INSERT of a number of rows naming the same columns, with each row's parameter names."""

    statement: DriverStatement
    defaulted: list[sa.Column[Any]]  # columns the rows leave out that take a Python default
    names: list[list[str]]  # per row: the parameter of each given column, then each defaulted


_inserts: dict[tuple[sa.Table, tuple[str, ...], int, str | None], _RowsInsert] = {}
_portable_inserts: dict[tuple[sa.Table, str | None], sa.Insert] = {}


def insert_rows(connection: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]],
                *, returning: sa.Column[Any] | None = None) -> list[Any]:
    """Insert rows (each naming the same columns) with one statement; return the values of the
    `returning` column (a key the database generates), in the rows' order.

    A column a row leaves out takes its Python-side default, as SQLAlchemy would give it;
    one with a server-side default takes that.
    """
    if not rows:
        return []
    if connection.dialect.name != "postgresql":
        return _portable_insert(connection, table, rows, returning)
    keys = tuple(rows[0])
    insert = _rows_insert(table, keys, len(rows), returning)
    params: dict[str, Any] = {}
    for row, names in zip(rows, insert.names, strict=True):
        values = [row[key] for key in keys] + [python_default(c) for c in insert.defaulted]
        params.update(zip(names, values, strict=True))
    answered = insert.statement.rows(connection, params)
    # PostgreSQL inserts a VALUES list in its order, drawing each generated key from the
    # sequence as it goes: sorted, the keys line up with the rows whatever order RETURNING
    # lists them in.
    return sorted(value for (value,) in answered) if returning is not None else []


def _rows_insert(table: sa.Table, keys: tuple[str, ...], count: int,
                 returning: sa.Column[Any] | None) -> _RowsInsert:
    cache_key = (table, keys, count, returning.key if returning is not None else None)
    found = _inserts.get(cache_key)
    if found is not None:
        return found
    defaulted = [column for column in table.c
                 if column.key not in keys and column.default is not None]
    columns = [table.c[key] for key in keys] + defaulted
    names = [[f"{column.key}__{index}" for column in columns] for index in range(count)]
    statement = sa.insert(table).values([
        {column: sa.bindparam(name, type_=column.type)
         for column, name in zip(columns, row_names, strict=True)} for row_names in names])
    made = _inserts[cache_key] = _RowsInsert(DriverStatement(
        statement.returning(returning) if returning is not None else statement),
        defaulted, names)
    return made


def _portable_insert(connection: sa.Connection, table: sa.Table,
                     rows: Sequence[Mapping[str, Any]], returning: sa.Column[Any] | None
                     ) -> list[Any]:
    cache_key = (table, returning.key if returning is not None else None)
    statement = _portable_inserts.get(cache_key)
    if statement is None:
        statement = sa.insert(table)
        if returning is not None:
            statement = statement.returning(returning, sort_by_parameter_order=True)
        _portable_inserts[cache_key] = statement
    result = connection.execute(statement, [dict(row) for row in rows])
    return list(result.scalars().all()) if returning is not None else []


def python_default(column: sa.Column[Any]) -> Any:
    """A column's Python-side default value, as SQLAlchemy would compute it for an INSERT (None
    when it has none); ValueError for one only the database or the unit of work applies."""
    default = column.default
    if default is None:
        if column.server_default is not None:
            raise ValueError(f"{column} has a default only the database knows")
        return None
    if isinstance(default, sa.ColumnDefault) and default.is_scalar:
        return default.arg
    if isinstance(default, sa.ColumnDefault) and default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps the callable to take a context
    raise ValueError(f"{column} has a default only the unit of work applies")
