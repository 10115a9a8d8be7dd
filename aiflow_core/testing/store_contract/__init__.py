"""A conformance suite every store must pass: the contract of :mod:`aiflow_core.ports`.

Subclass :class:`StoreContract` in a test module and provide a ``store``
fixture returning a fresh, upgraded store (it holds only the ``default``
namespace)::

    import pytest
    from aiflow_core.testing.memory import MemoryStore
    from aiflow_core.testing.store_contract import StoreContract

    class TestMemoryStore(StoreContract):
        @pytest.fixture
        def store(self):
            store = MemoryStore()
            store.upgrade()
            yield store
            store.close()

pytest then runs every ``test_*`` method against it: every operation of
:class:`~aiflow_core.ports.StoreTx`, paging and ordering, times returned as
aware UTC, leases whose epoch fences a deposed holder, idempotent appends with consecutive offsets, the typed errors of
misuse, and transactions that commit together or leave nothing behind. This
module needs pytest; it is not imported by ``aiflow_core.testing``.
"""

from __future__ import annotations

import pytest

from aiflow_core.ports import Store
from aiflow_core.testing.store_contract.catalog import CatalogContract
from aiflow_core.testing.store_contract.leases import LeaseContract
from aiflow_core.testing.store_contract.log import LogContract
from aiflow_core.testing.store_contract.misuse import MisuseContract
from aiflow_core.testing.store_contract.plans import PlanContract

__all__ = ["StoreContract"]


class StoreContract(CatalogContract, LeaseContract, LogContract, MisuseContract, PlanContract):
    """Tests of the store contract; subclasses provide the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> Store:
        """A fresh, upgraded store of the backend under test."""
        raise NotImplementedError("subclasses of StoreContract provide the 'store' fixture")
