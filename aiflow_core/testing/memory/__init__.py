"""An in-memory implementation of the storage port (``Engine(db_url="memory://")``).

It passes the same contract suite as the SQL store
(:class:`aiflow_core.testing.store_contract.StoreContract`) and imports only
the port and the model.
"""

from aiflow_core.testing.memory.store import MEMORY_URL, MemoryStore, MemoryTx

__all__ = ["MEMORY_URL", "MemoryStore", "MemoryTx"]
