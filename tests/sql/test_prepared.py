"""Statements run on the driver's cursor behave as through ``Connection.execute``, on every backend."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from aiflow_storage.sql import SqlStore
from aiflow_storage.sql import schema as t
from aiflow_storage.sql.prepared import JsonTextInsert, Prepared, PreparedInsert

T0 = dt.datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=dt.timezone.utc)

_INSERT_EVENT = Prepared(sa.insert(t.events))
_EVENTS_AFTER = Prepared(
    sa.select(t.events).where(t.events.c.offset > sa.bindparam("after")).order_by(t.events.c.offset)
)
_MAX_OFFSET = Prepared(sa.select(sa.func.coalesce(sa.func.max(t.events.c.offset), 0).label("end")))
_INSERT_WORKFLOW = PreparedInsert(t.workflows)
_INSERT_EVENT_TEXT = JsonTextInsert(t.events, "context")
_STORED_CONTEXTS = sa.select(sa.cast(t.events.c.context, sa.Text)).order_by(t.events.c.offset)


@pytest.fixture
def conn(db_url: str) -> Iterator[sa.Connection]:
    store = SqlStore(db_url)
    with store.engine.connect() as connection, connection.begin() as transaction:
        yield connection
        transaction.rollback()
    store.close()


def _event(offset: int, context: object, key: str | None = None) -> dict[str, object]:
    return {
        "offset": offset, "key": "k", "value": "v", "namespace": "default", "sender": "s", "kind": "USER",
        "workflow_execution_id": None, "context": context, "create_time": T0, "idempotency_key": key,
    }


def test_rows_come_back_converted_by_their_column_types(conn: sa.Connection) -> None:
    _INSERT_EVENT.executemany(conn, [_event(1, {"a": [1, 2]}), _event(2, None)])
    rows = _EVENTS_AFTER.execute(conn, {"after": 0})
    assert [r.offset for r in rows] == [1, 2]
    assert rows[0].context == {"a": [1, 2]}
    assert rows[0].create_time == T0 and rows[0].create_time.tzinfo is not None
    # The same rows read through SQLAlchemy's own execution.
    through_sqlalchemy = conn.execute(sa.select(t.events).order_by(t.events.c.offset)).all()
    assert [tuple(r) for r in through_sqlalchemy] == [tuple(r) for r in rows]


def test_parameters_the_statement_holds_itself_are_bound(conn: sa.Connection) -> None:
    assert _MAX_OFFSET.execute(conn)[0].end == 0
    _INSERT_EVENT.execute(conn, _event(7, None))
    assert _MAX_OFFSET.execute(conn)[0].end == 7


def test_insert_returns_the_new_id(conn: sa.Connection) -> None:
    def insert(name: str) -> int:
        return _INSERT_WORKFLOW.insert(conn, {
            "namespace": "default", "name": name, "content": "", "is_enabled": True, "snapshot_id": None,
            "create_time": T0, "update_time": T0,
        })

    first, second = insert("one"), insert("two")
    assert second > first
    names = dict(conn.execute(sa.select(t.workflows.c.id, t.workflows.c.name)).all())
    assert names == {first: "one", second: "two"}


def test_driver_errors_are_raised_as_sqlalchemy_exceptions(conn: sa.Connection) -> None:
    _INSERT_EVENT.execute(conn, _event(1, None, key="once"))
    with pytest.raises(sa.exc.IntegrityError, match=r"once|idempotency|UNIQUE|Duplicate"):
        _INSERT_EVENT.execute(conn, _event(2, None, key="once"))


def test_a_missing_parameter_is_refused(conn: sa.Connection) -> None:
    with pytest.raises(KeyError, match="after"):
        _EVENTS_AFTER.execute(conn, {})


def test_json_given_as_text_is_stored_as_the_json_type_stores_values(conn: sa.Connection) -> None:
    _INSERT_EVENT.executemany(conn, [_event(1, {"a": [1, "é"]}), _event(2, None)])
    _INSERT_EVENT_TEXT.executemany(conn, [_event(3, '{"a": [1, "é"]}'), _event(4, "null")])
    stored = [row[0] for row in conn.execute(_STORED_CONTEXTS)]
    assert [json.loads(text) for text in stored[2:]] == [json.loads(text) for text in stored[:2]]
    assert stored[3] == stored[1] == "null"  # a missing context, as the JSON type writes it
    assert [r.context for r in _EVENTS_AFTER.execute(conn, {"after": 0})] == [{"a": [1, "é"]}, None] * 2


def test_one_time_bound_to_many_rows_and_others_between_are_each_stored_as_given(conn: sa.Connection) -> None:
    later = T0 + dt.timedelta(microseconds=1)
    same_instant_elsewhere = T0.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    times = [T0, T0, later, T0, same_instant_elsewhere, later, later]
    _INSERT_EVENT.executemany(conn, [{**_event(i, None), "create_time": when} for i, when in enumerate(times, 1)])
    _INSERT_EVENT.execute(conn, {**_event(8, None), "create_time": T0})
    rows = _EVENTS_AFTER.execute(conn, {"after": 0})
    assert [r.create_time for r in rows] == [*times, T0]
