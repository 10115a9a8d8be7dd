"""Database failures reach callers as the StoreError family, naming the masked URL, never the password."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from aiflow_core import Client, Engine
from aiflow_core.errors import StoreError, StoreUnavailableError
from aiflow_storage.sql import SqlStore, schema


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local TCP port nothing listens on (bound, then released without listening)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield port


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
@pytest.mark.parametrize("opener", [Client, Engine], ids=["client", "engine"])
def test_an_unreachable_database_raises_a_typed_error_naming_the_masked_url(
    scheme: str, opener: type[Client], closed_port: int
) -> None:
    url = f"{scheme}://someone:s3cret-pw@127.0.0.1:{closed_port}/test"
    with pytest.raises(StoreUnavailableError) as raised:
        opener(db_url=url)
    message = str(raised.value)
    assert f"{scheme}://someone:***@127.0.0.1:{closed_port}/test" in message
    assert "s3cret-pw" not in message
    assert isinstance(raised.value, ConnectionError) and isinstance(raised.value, StoreError)
    assert isinstance(raised.value.__cause__, sa.exc.OperationalError)  # the driver's error is kept as the cause


def test_a_statement_the_database_refuses_is_a_typed_error(db_url: str) -> None:
    """A statement the database refuses (here: on a table dropped behind the store's back) is a StoreError."""
    store = SqlStore(db_url)
    store.upgrade()
    try:
        with store.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE aiflow_lease"))
        with pytest.raises(StoreError) as raised, store.transaction() as tx:
            tx.get_lease("scheduler")
        assert not isinstance(raised.value, sa.exc.SQLAlchemyError)
        assert isinstance(raised.value.__cause__, sa.exc.SQLAlchemyError)
    finally:
        schema.leases.create(store.engine, checkfirst=True)  # the session's database stays whole for later tests
        store.close()
