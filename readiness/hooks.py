"""What readiness asks a same-layer app (deployments) without importing it.

Deployments imports readiness (a deployment links its release), so readiness cannot import
deployments. At start-up ``DeploymentsConfig.ready()`` fills these in; unset, readiness
behaves as before (no real rollbacks known, no last deploys on the gate).

``release_moved`` (a Django signal, the sanctioned way for one app to tell another) is sent
inside the transaction of ``mark_shipped`` / ``mark_rolled_back`` with ``release``, ``status``
(the new ``Release.Status``), ``actor`` and ``at``; the receiver creates or finishes the
release's deployment through its own service, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.dispatch import Signal

release_moved = Signal()

# release -> (when the last real rollback of one of its services finished, what it was) or None
last_real_rollback: Callable[[Any], tuple[datetime, str] | None] | None = None
# release -> [{"service", "version", "status", "finished_at"}, ...]: each service's last deploy
last_deploys: Callable[[Any], list[dict]] | None = None
# (release, now) -> warnings the gate adds (never blocks): recent change failures
gate_warnings: Callable[[Any, datetime], list[str]] | None = None
