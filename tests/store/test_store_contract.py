"""The shipped store conformance suite, run unchanged over Memory, SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aiflow_core.ports import Store
from aiflow_core.stores import open_store
from aiflow_core.testing.store_contract import StoreContract


class TestContract(StoreContract):
    @pytest.fixture
    def store(self, store_url: str) -> Iterator[Store]:
        store = open_store(store_url)
        store.upgrade()
        yield store
        store.close()
