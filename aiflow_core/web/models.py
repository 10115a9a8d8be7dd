"""Request bodies of the REST API (validated: a malformed body is answered 422 naming the field)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aiflow_core.model.expressions import MisfirePolicy


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class NamespaceIn(Body):
    """A namespace to create."""

    name: str = Field(min_length=1, max_length=255, description="the namespace's name")
    properties: dict[str, Any] = Field(default_factory=dict, description="free-form properties")


class PropertiesIn(Body):
    """New properties of a namespace."""

    properties: dict[str, Any]


class WorkflowFileIn(Body):
    """A workflow file to upload: its name and its Python source (it runs on the server to define workflows)."""

    file_name: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z_][A-Za-z0-9_]*\.py$")
    content: str


class ScheduleIn(Body):
    """A schedule to add: ``cron@<5 fields>`` or ``interval@days hours minutes seconds``."""

    expression: str = Field(min_length=1)
    misfire_policy: MisfirePolicy = MisfirePolicy.COALESCE


class EventIn(Body):
    """A user event to send."""

    key: str = Field(min_length=1)
    value: str | None = None
    namespace: str = "default"
    sender: str | None = None
    context: dict[str, Any] | None = None
    workflow_execution_id: int | None = Field(default=None, ge=1)
    idempotency_key: str | None = None
