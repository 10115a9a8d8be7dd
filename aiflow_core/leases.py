"""Leases as the store port returns them: holder, epoch (the fencing token) and times on the store's clock.

A ground-floor module beside :mod:`aiflow_core.ports`, which re-exports it.
"""

from __future__ import annotations

import datetime as dt

import attrs

from aiflow_core.errors import LeaseLostError


@attrs.frozen(kw_only=True)
class Lease:
    """A lease as the store holds it; times are on the store's clock.

    ``epoch`` is the fencing token: it grows with every change of holder.
    ``now`` is the store's time when the lease was read, so ``live`` (not
    expired at ``now``) is judged by the database's clock alone.
    """

    name: str
    owner: str
    epoch: int
    expires: dt.datetime
    now: dt.datetime

    @property
    def live(self) -> bool:
        """True if the lease had not expired when it was read."""
        return self.expires > self.now


def lease_lost(lease: Lease | None, name: str, owner: str, epoch: int) -> None:
    """Raise LeaseLostError unless ``lease`` is held by ``owner`` at ``epoch`` and live; stores share it."""
    if lease is None:
        raise LeaseLostError(f"{owner} scheduled at epoch {epoch} of lease {name!r}, which nobody holds")
    if lease.owner != owner or lease.epoch != epoch:
        raise LeaseLostError(
            f"{owner} scheduled at epoch {epoch} of lease {name!r}, now held by {lease.owner} at epoch {lease.epoch}"
        )
    if not lease.live:
        raise LeaseLostError(
            f"the lease {name!r} of {owner} (epoch {epoch}) expired at {lease.expires.isoformat()}, "
            f"database time {lease.now.isoformat()}"
        )
