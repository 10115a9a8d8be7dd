"""Turning SQLAlchemy's and the drivers' errors into the store's typed errors.

Every error leaving :class:`~aiflow_storage.sql.SqlStore` passes through
:func:`store_error`: integrity violations become StoreConflictError, values
the database refuses StoreDataError, a database that cannot be reached
StoreUnavailableError, anything else StoreError. The message names the
database by its masked URL and never holds its password; the original error
stays the ``__cause__``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from aiflow_core.errors import StoreConflictError, StoreDataError, StoreError, StoreUnavailableError
from aiflow_storage.sql.engine import mask_url


def _password(url: str) -> str | None:
    try:
        return make_url(url).password
    except (ArgumentError, ValueError):
        return None


def _detail(error: BaseException, url: str) -> str:
    """The database's own words (the driver's message, without the statement), password removed."""
    original = getattr(error, "orig", None) or error
    text = " ".join(str(original).split())
    password = _password(url)
    if password:
        text = text.replace(password, "***")
    return text[:500]


def store_error(error: BaseException, url: str, connecting: bool = False) -> StoreError:
    """The typed error to raise for ``error``, raised by the database at ``url``.

    ``connecting`` says the error came while opening a connection: any
    database error then means the database is unavailable.
    """
    where = f"database {mask_url(url)!r}"
    detail = _detail(error, url)
    if connecting or (isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated):
        return StoreUnavailableError(f"{where} is unavailable: {detail}")
    if isinstance(error, sa.exc.IntegrityError):
        return StoreConflictError(f"{where} refused a write that breaks an integrity rule: {detail}")
    if isinstance(error, sa.exc.DataError) or (
        isinstance(error, sa.exc.StatementError) and not isinstance(error, sa.exc.DBAPIError)
    ):
        return StoreDataError(f"{where} cannot store a value: {detail}")
    return StoreError(f"{where} failed: {detail}")
