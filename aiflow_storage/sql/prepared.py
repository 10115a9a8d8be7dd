"""Statements of the scheduler's hot path, run on the driver's cursor.

SQLAlchemy's execution machinery (execution context, events, parameter and
result handling) costs about ten times what SQLite itself spends on a small
statement. A :class:`Prepared` statement is a Core statement compiled once
per dialect by SQLAlchemy itself, with the bind processors of its parameter
types; running it is one call on the DBAPI cursor of the transaction's own
connection, so it takes part in the transaction like any other statement.
Driver errors are raised as SQLAlchemy's exception classes, as from
``Connection.execute``.

Rows come back as named tuples whose values the column types converted,
as SQLAlchemy's own result rows would hold them.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]


class _Compiled:
    """One statement compiled for one dialect."""

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler), f"not a SQL statement: {statement!r}"
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        names = list(compiled.positiontup or ()) if self.positional else list(compiled.binds)
        self.names = names
        binds = [compiled.binds[name] for name in names]
        self.processors: list[Processor | None] = [
            _time_kept(bind.type, dialect) for bind in binds
        ]
        #: Values of the parameters the statement holds itself (literals such as ``coalesce(x, 0)``).
        self.fixed = {name: bind.value for name, bind in zip(names, binds, strict=True) if not bind.required}
        columns = list(statement.selected_columns) if isinstance(statement, sa.Select) else []
        self.row_type = namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]
        self.results: list[Processor | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]

    def row(self, values: Sequence[Any]) -> Any:
        """A result row with its values converted by the column types, fields named by column."""
        return self.row_type(
            *[value if process is None else process(value) for value, process in zip(values, self.results, strict=True)]
        )

    def parameters(self, values: Mapping[str, Any]) -> Any:
        """The driver's parameters for ``values`` (keyed by bind parameter name): a tuple or a dict."""
        if self.fixed:
            values = {**self.fixed, **values}
        converted = [
            values[name] if process is None else process(values[name])
            for name, process in zip(self.names, self.processors, strict=True)
        ]
        return tuple(converted) if self.positional else dict(zip(self.names, converted, strict=True))


def _time_kept(type_: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> Processor | None:
    """The bind processor of ``type_``; for a time type, one that keeps its last value and result.

    A scheduler step binds its one ``now`` to many rows of several
    statements (events, explanations, task executions): each converts it
    once. Times are immutable, so the same object always converts the same
    way; the columns of one time type share the kept result.
    """
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    if process is None or not _is_time(type_):
        return process
    key = (repr(type_), dialect.name, dialect.driver)
    kept = _KEPT.get(key)
    if kept is None:
        kept = _KEPT.setdefault(key, _keeping_last(process))
    return kept


def _keeping_last(process: Processor) -> Processor:
    last: tuple[Any, Any] = (None, None)

    def kept(value: Any) -> Any:
        nonlocal last
        seen = last  # one read: another thread may replace it, never half of it
        if value is seen[0] and value is not None:
            return seen[1]
        result = process(value)
        last = (value, result)
        return result

    return kept


#: The time types' bind processors that keep their last result, by type and dialect.
_KEPT: dict[tuple[str, str, str], Processor] = {}


def _is_time(type_: sa.types.TypeEngine[Any]) -> bool:
    """True for date-time types, also behind a decorator (such as the schema's ``UtcDateTime``)."""
    return isinstance(type_, sa.DateTime) or isinstance(getattr(type_, "impl", None), sa.DateTime)


class Prepared:
    """A Core statement run on the DBAPI cursor; compiled on first use with each dialect."""

    def __init__(self, statement: sa.ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _statement_for(self, dialect: sa.Dialect) -> sa.ClauseElement:
        return self.statement

    def _for(self, conn: sa.Connection) -> _Compiled:
        dialect = conn.dialect
        key = f"{dialect.name}+{dialect.driver}"
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled(self._statement_for(dialect), dialect)
        return compiled

    def execute(self, conn: sa.Connection, values: Mapping[str, Any] | None = None) -> list[Any]:
        """Run the statement once; returns the result rows (empty for writes).

        The rows of a SELECT are named tuples of its columns' values,
        converted by their types as SQLAlchemy would.
        """
        compiled = self._for(conn)
        with _cursor(conn, compiled.sql, compiled.parameters(values or {})) as cursor:
            rows = cursor.fetchall() if cursor.description else []
        return [compiled.row(values) for values in rows]

    def executemany(self, conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per row of parameters, in one driver call."""
        compiled = self._for(conn)
        with _cursor(conn, compiled.sql, [compiled.parameters(values) for values in rows], many=True):
            pass


class PreparedInsert(Prepared):
    """An INSERT of one row into a table with an integer ``id`` primary key that returns the new id.

    The id comes from ``RETURNING`` where the dialect has it, else from the
    cursor's ``lastrowid``.
    """

    def __init__(self, table: sa.Table) -> None:
        columns = [column.name for column in table.columns if column.name != "id"]
        insert = sa.insert(table).values({name: sa.bindparam(name) for name in columns})
        super().__init__(insert)
        self._returning = insert.returning(table.c.id)

    def _statement_for(self, dialect: sa.Dialect) -> sa.ClauseElement:
        return self._returning if dialect.insert_returning else self.statement

    def insert(self, conn: sa.Connection, values: Mapping[str, Any]) -> int:
        """Insert one row (every column but ``id`` must have a value) and return its id."""
        compiled = self._for(conn)
        with _cursor(conn, compiled.sql, compiled.parameters(values)) as cursor:
            new_id = cursor.fetchall()[0][0] if conn.dialect.insert_returning else cursor.lastrowid
        return int(new_id)


class JsonTextInsert(Prepared):
    """An INSERT of rows into ``table`` binding its JSON column ``column`` as JSON text made by the caller.

    The callers make that text when they check the value
    (:func:`~aiflow_core.storable.check_json`), so it is serialised once
    and checked the same way on every database; PostgreSQL is told to read
    the text as JSON. An ``id`` column is left to the database.
    """

    def __init__(self, table: sa.Table, column: str) -> None:
        self._table = table
        self._column = column
        super().__init__(self._insert(None))

    def _insert(self, dialect: sa.Dialect | None) -> sa.Insert:
        text: sa.ColumnElement[Any] = sa.bindparam(self._column, type_=sa.Text())
        if dialect is not None and dialect.name == "postgresql":
            text = sa.cast(text, self._table.c[self._column].type)
        values: dict[str, Any] = {
            c.name: sa.bindparam(c.name, type_=c.type)
            for c in self._table.columns if c.name not in ("id", self._column)
        }
        return sa.insert(self._table).values({**values, self._column: text})

    def _statement_for(self, dialect: sa.Dialect) -> sa.ClauseElement:
        return self._insert(dialect)


@contextmanager
def _cursor(conn: sa.Connection, sql: str, parameters: Any, many: bool = False) -> Iterator[Any]:
    """A driver cursor that has run ``sql``; driver errors come out as SQLAlchemy's exceptions."""
    cursor = conn.connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        yield cursor
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(sql, parameters, exc, conn) from exc
    finally:
        cursor.close()


def _wrapped(sql: str, parameters: Any, error: Exception, conn: sa.Connection) -> sa.exc.StatementError:
    """The SQLAlchemy exception ``Connection.execute`` would have raised for a driver error."""
    return sa.exc.DBAPIError.instance(
        sql, parameters, error, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
    )
