"""Client: every operation of the original ``ops`` API against one database.

A client runs no scheduler; operations that need the scheduler (starting an
execution, sending an event) append to the event log and an engine sharing the
database acts on them. :class:`~aiflow_core.engine.Engine` is a client that
also runs the loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiflow_core.api.events import EventOps
from aiflow_core.api.executions import ExecutionOps
from aiflow_core.api.explain import ExplainOps
from aiflow_core.api.observe import ObserveOps
from aiflow_core.api.plans import PlanOps
from aiflow_core.api.workflows import WorkflowOps
from aiflow_core.config import AIFlowConfig, check_argument, load_config
from aiflow_core.model.clock import Clock, SystemClock
from aiflow_core.ports import Store
from aiflow_core.stores import open_store


class Client(WorkflowOps, ExecutionOps, PlanOps, EventOps, ObserveOps, ExplainOps):
    """Operations on namespaces, workflows, snapshots, executions, schedules, triggers, events, logs and
    explanations of the scheduler's decisions.

    ``db_url`` defaults to the configured ``metadata_backend_uri`` (a SQLite
    file under ``$AIFLOW_HOME``); ``"memory://"`` keeps everything in this
    process (see :mod:`aiflow_core.stores`). ``blob`` takes a blob manager, a
    ``{blob_manager_class, blob_manager_config}`` dict or an fsspec URL and
    defaults to the configured one. ``store`` injects a ready store instead of
    a URL. The schema is created or upgraded on first use unless ``upgrade``
    is False.
    """

    def __init__(
        self,
        db_url: str | None = None,
        blob: Any = None,
        *,
        clock: Clock | None = None,
        config: AIFlowConfig | None = None,
        store: Store | None = None,
        upgrade: bool = True,
    ) -> None:
        check_argument("db_url", db_url, str, "a database URL such as 'sqlite:///aiflow.db'")
        check_argument("clock", clock, Clock, "a Clock, such as aiflow_core.testing.FakeClock")
        check_argument("config", config, AIFlowConfig, "an AIFlowConfig, e.g. aiflow_core.config.load_config()")
        check_argument("store", store, Store, "a Store, e.g. aiflow_core.testing.memory.MemoryStore()")
        check_argument("upgrade", upgrade, bool, "True or False")
        self.config = config if config is not None else load_config()
        self.home: Path = self.config.home
        self.db_url = db_url or (store.url if store is not None else self.config.metadata_backend_uri)
        self.blob_spec = blob if blob is not None else self.config.blob_manager
        self.clock = clock if clock is not None else SystemClock()
        self.timezone = self.config.timezone
        from aiflow_core import serialization
        from aiflow_core.homefiles import pickle_secret

        serialization.configure(pickle_secret(self.home, self.config.pickle_secret))
        # A transaction left idle about as long as the scheduler lease is ended, so that a leader frozen inside
        # one frees its locks once its lease has run out (PostgreSQL, MariaDB).
        self.store = store if store is not None else open_store(self.db_url, self.config.scheduler_lease_ttl)
        if upgrade:
            self.store.upgrade()

    def close(self) -> None:
        """Release database connections."""
        self.store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        from aiflow_storage.sql import mask_url

        return f"{type(self).__name__}(db_url={mask_url(self.db_url)!r})"
