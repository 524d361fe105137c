"""Every state change of probes: configuration, scheduling (dispatch, lease, record), the
state machine, heartbeats, maintenance windows and alerting.

Scheduling in one paragraph: beat runs ``probes.dispatch`` every 10 s. ``dispatch_due``
marks late heartbeats, then selects due network probes with one indexed query
(``probes_probe_due``), leases them (``lease_token`` + ``lease_until``; rows locked with
SKIP LOCKED on PostgreSQL so two dispatchers never take the same probe) and enqueues
``probes.run_batch`` per batch on commit. ``run_batch`` runs the checks concurrently
(``probes.engine``) and ``record_outcomes`` stores the results with one bulk insert and
applies the state machine - only for probes still leased by that token, so a run whose lease
expired (killed worker, re-leased by a later tick) can neither run twice at once nor write.
"""

from __future__ import annotations

import logging
import math
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from cronsim import CronSim, CronSimError
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from catalog import selectors as catalog_selectors
from notifications import outbound
from opsportal.errors import Conflict, InvalidInput, NotAllowed, ServiceError
from opsportal.links import absolute_url
from opsportal.text import strip_control_characters
from probes import conf, engine, permissions, signals
from probes.models import MaintenanceWindow, Probe, ProbeAlert, ProbeEvent, ProbeResult

log = logging.getLogger(__name__)

State = Probe.State
Kind = Probe.Kind
MASK = "********"


# ---------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------
def mask_secret(value: str) -> str:
    """What the admin/API show of a header value: never the whole secret."""
    value = str(value)
    return f"{value[:4]}{MASK}" if len(value) > 12 else MASK


def merge_headers(new: dict, old: dict) -> dict:
    """Headers submitted back with masked values keep their stored value."""
    merged = {}
    for name, value in (new or {}).items():
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("Header names must be non-empty strings.", field="headers")
        value = "" if value is None else str(value)
        if name in (old or {}) and value == mask_secret(old[name]):
            value = old[name]
        if "\n" in value or "\r" in value:
            raise InvalidInput(f"Header {name!r} contains a line break.", field="headers")
        merged[name.strip()] = value
    return merged


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Unknown time zone {name!r}.", field="cron_timezone") from None


def _check_cron(expr: str, field: str) -> None:
    try:
        next(CronSim(expr, timezone.now()))
    except (CronSimError, StopIteration):
        raise InvalidInput(f"Invalid cron expression {expr!r}.", field=field) from None


def validate_probe(probe: Probe) -> None:
    """Per-kind rules (forms call this too, to show errors next to the fields)."""
    if probe.kind == Kind.HTTP:
        if not probe.url:
            raise InvalidInput("HTTP probes need a URL.", field="url")
        if not probe.url.lower().startswith(("http://", "https://")):
            raise InvalidInput("The URL must start with http:// or https://.", field="url")
        try:
            engine.parse_statuses(probe.expected_statuses)
        except ValueError:
            raise InvalidInput(
                'Expected statuses look like "200", "200-299" or "200-299,301".', field="expected_statuses"
            ) from None
        if probe.json_path and probe.json_expected == "":
            raise InvalidInput("Give the expected value for the JSON path.", field="json_expected")
        from urllib.parse import urlsplit

        host = urlsplit(probe.url).hostname or ""
        _check_literal(host, "url")
    elif probe.kind in (Kind.TLS, Kind.TCP):
        if not probe.host:
            raise InvalidInput("Give a host name or IP address.", field="host")
        if probe.kind == Kind.TCP and not probe.port:
            raise InvalidInput("TCP probes need a port.", field="port")
        if probe.port is not None and not 1 <= probe.port <= 65535:
            raise InvalidInput("Ports are 1-65535.", field="port")
        _check_literal(probe.host, "host")
    elif probe.kind == Kind.HEARTBEAT:
        if probe.cron:
            _check_cron(probe.cron, "cron")
            _zone(probe.cron_timezone)
        elif not probe.period_seconds:
            raise InvalidInput("Heartbeats need a period or a cron expression.", field="period_seconds")
    if probe.warn_days < probe.critical_days:
        raise InvalidInput("The warning period must be at least the critical period.", field="warn_days")


def _check_literal(host: str, field: str) -> None:
    """Save-time check of a literal IP target (names are checked at every connect)."""
    literal = outbound.literal_address(host)
    if literal is None:
        return
    try:
        outbound.check_address(literal)
    except outbound.Refused as exc:
        raise InvalidInput(f"Target refused: {exc}.", field=field) from None


@transaction.atomic
def save_probe(*, probe: Probe | None = None, actor=None, **fields) -> Probe:
    """Create or change a probe's configuration (admin and API both come here)."""
    creating = probe is None or probe.pk is None
    if actor is not None and not permissions.can_configure(actor, creating=creating):
        raise NotAllowed(
            "Only engineering managers change what a probe checks; responders pause, resume and run it."
        )
    probe = probe or Probe()
    old_headers = dict(probe.headers or {}) if not creating else {}
    if "headers" in fields:
        headers = fields.pop("headers")
        if not isinstance(headers, dict):
            raise InvalidInput("Headers must be an object of name: value.", field="headers")
        probe.headers = merge_headers(headers, old_headers)
    for name, value in fields.items():
        setattr(probe, name, value)
    if probe.host:
        probe.host = probe.host.strip()
    validate_probe(probe)
    try:
        probe.full_clean()
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            name, errors = next(iter(exc.error_dict.items()))
            raise InvalidInput(" ".join(e.messages[0] for e in errors), field=name) from None
        raise InvalidInput(" ".join(exc.messages)) from None
    if creating:
        probe.next_run_at = timezone.now() if probe.is_network else None
    elif probe.is_network and probe.state != State.PAUSED and probe.next_run_at is None:
        probe.next_run_at = timezone.now()
    elif not probe.is_network and probe.last_ping_at and probe.state not in (State.PAUSED, State.DOWN):
        probe.next_run_at = heartbeat_due(probe, probe.last_ping_at)
    if actor is not None:
        probe._history_user = actor
    probe.save()
    return probe


def _lock(probe: Probe | int) -> Probe:
    pk = probe.pk if isinstance(probe, Probe) else probe
    return Probe.objects.select_for_update().select_related("service").get(pk=pk)


def _write(probe: Probe, fields: list[str]) -> None:
    """Persist runtime columns with an UPDATE: they change on every run and ping, and a
    history row per ping would bury the configuration history (events record state)."""
    Probe.objects.filter(pk=probe.pk).update(**{f: getattr(probe, f) for f in fields})


def _event(probe: Probe, old: str, new: str, reason: str, now: datetime) -> ProbeEvent:
    return ProbeEvent.objects.create(
        probe=probe, created_at=now, from_state=old, to_state=new, reason=reason[:500]
    )


def _require_operator(actor) -> None:
    if actor is not None and not permissions.can_operate(actor):
        raise NotAllowed("You may not pause, resume or run probes.")


@transaction.atomic
def pause_probe(*, probe: Probe, actor=None, now: datetime | None = None) -> Probe:
    _require_operator(actor)
    now = now or timezone.now()
    probe = _lock(probe)
    if probe.state == State.PAUSED:
        raise Conflict("The probe is already paused.")
    old = probe.state
    probe.state = State.PAUSED
    probe.state_changed_at = now
    probe.next_run_at = None
    probe.lease_until = probe.lease_token = None
    probe.consecutive_failures = probe.consecutive_successes = 0
    _write(probe, ["state", "state_changed_at", "next_run_at", "lease_until", "lease_token",
                              "consecutive_failures", "consecutive_successes"])  # fmt: skip
    _event(probe, old, State.PAUSED, f"paused by {actor}" if actor else "paused", now)
    alert = ProbeAlert.objects.filter(probe=probe, status=ProbeAlert.Status.OPEN).first()
    if alert is not None:
        _resolve_alert(alert, now, reason="probe paused")
    return probe


@transaction.atomic
def resume_probe(*, probe: Probe, actor=None, now: datetime | None = None) -> Probe:
    _require_operator(actor)
    now = now or timezone.now()
    probe = _lock(probe)
    if probe.state != State.PAUSED:
        raise Conflict("Only a paused probe can be resumed.")
    probe.state = State.NEW
    probe.state_changed_at = now
    probe.first_failure_at = None
    probe.next_run_at = now if probe.is_network else None  # heartbeats wait for their next ping
    _write(probe, ["state", "state_changed_at", "first_failure_at", "next_run_at"])
    _event(probe, State.PAUSED, State.NEW, f"resumed by {actor}" if actor else "resumed", now)
    return probe


@transaction.atomic
def run_now(*, probe: Probe, actor=None, now: datetime | None = None) -> uuidlib.UUID:
    """Lease the probe and enqueue its check right away (returns the lease token)."""
    _require_operator(actor)
    now = now or timezone.now()
    probe = _lock(probe)
    if not probe.is_network:
        raise InvalidInput("Heartbeats are not run: they wait for pings.")
    if probe.state == State.PAUSED:
        raise Conflict("Resume the probe before running it.")
    if probe.lease_until and probe.lease_until > now:
        raise Conflict("The probe is running right now.")
    token = uuidlib.uuid4()
    probe.lease_token, probe.lease_until = token, now + probe.lease_length()
    _write(probe, ["lease_token", "lease_until"])
    _enqueue_batch([probe.pk], token)
    return token


# ---------------------------------------------------------------------------------------
# Dispatch, lease, run, record
# ---------------------------------------------------------------------------------------
@dataclass
class DispatchReport:
    batches: list[tuple[list[int], uuidlib.UUID]] = field(default_factory=list)
    late_heartbeats: int = 0

    @property
    def leased(self) -> int:
        return sum(len(ids) for ids, _ in self.batches)


def _due_network(now: datetime):
    return Probe.objects.filter(next_run_at__lte=now).exclude(state=State.PAUSED).exclude(kind=Kind.HEARTBEAT)


def _enqueue_batch(ids: list[int], token: uuidlib.UUID) -> None:
    from probes.tasks import run_batch

    transaction.on_commit(lambda: run_batch.delay(ids, str(token)))


def dispatch_due(
    *, now: datetime | None = None, limit: int | None = None, enqueue: bool = True
) -> DispatchReport:
    """One dispatcher tick: late heartbeats, then lease due network probes in batches."""
    now = now or timezone.now()
    report = DispatchReport(late_heartbeats=mark_late_heartbeats(now=now))
    limit = limit or conf.dispatch_limit()
    with transaction.atomic():
        due = (
            _due_network(now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
            .order_by("next_run_at")
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        rows = list(due.values_list("pk", "timeout_seconds")[:limit])
        size = max(1, conf.batch_size())
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            ids = [pk for pk, _ in chunk]
            # The lease outlasts the whole batch: waves of `concurrency` checks, each bounded
            # by the slowest timeout, plus a margin for storing the results.
            waves = math.ceil(len(ids) / max(1, conf.concurrency()))
            lease = timedelta(seconds=waves * max(t for _, t in chunk) + 60)
            token = uuidlib.uuid4()
            Probe.objects.filter(pk__in=ids).update(lease_token=token, lease_until=now + lease)
            report.batches.append((ids, token))
            if enqueue:
                _enqueue_batch(ids, token)
    return report


def spec_for(probe: Probe) -> engine.CheckSpec:
    return engine.CheckSpec(
        key=probe.pk,
        kind=probe.kind,
        timeout=probe.timeout_seconds,
        url=probe.url,
        method=probe.method,
        headers=dict(probe.headers or {}),
        body=probe.request_body,
        expected_statuses=probe.expected_statuses,
        body_contains=probe.body_contains,
        json_path=probe.json_path,
        json_expected=probe.json_expected,
        latency_threshold_ms=probe.latency_threshold_ms,
        follow_redirects=probe.follow_redirects,
        host=probe.host,
        port=probe.effective_port,
        sni_name=probe.sni_name,
        warn_days=probe.warn_days,
        critical_days=probe.critical_days,
    )


def run_batch(*, probe_ids: list[int], lease_token: uuidlib.UUID | str, now: datetime | None = None) -> int:
    """Run the leased probes' checks concurrently and record them. Returns how many were
    recorded. Probes whose lease this token no longer holds are skipped (idempotent)."""
    token = uuidlib.UUID(str(lease_token))
    now = now or timezone.now()
    probes = list(Probe.objects.filter(pk__in=probe_ids, lease_token=token, lease_until__gt=now))
    if not probes:
        return 0
    outcomes = engine.run_checks(
        [spec_for(p) for p in probes],
        engine.EngineConfig(
            concurrency=conf.concurrency(), body_cap=conf.body_cap(), ca_bundle=conf.ca_bundle()
        ),
    )
    return record_outcomes(outcomes=outcomes, lease_token=token)


def next_state(
    state: str, outcome: str, *, failures: int, successes: int, failure_threshold: int, success_threshold: int
) -> str:
    """The flap-free state machine. ``failures``/``successes`` are the consecutive counts
    *including* this outcome. Down only after K failures; back from down after J successes;
    a new probe gets its first verdict at once when up, after K failures when down."""
    if outcome == engine.DOWN:
        return State.DOWN if failures >= failure_threshold else state
    if state == State.DOWN and successes < success_threshold:
        return State.DOWN
    return outcome


@transaction.atomic
def record_outcomes(*, outcomes: list[engine.Outcome], lease_token: uuidlib.UUID | None) -> int:
    """Store results (one bulk insert) and apply the state machine. With a ``lease_token``,
    only probes still leased by it are written, and their lease is released."""
    by_id = {o.key: o for o in outcomes}
    locked = Probe.objects.select_for_update().filter(pk__in=by_id).order_by("pk")
    if lease_token is not None:
        locked = locked.filter(lease_token=lease_token)
    probes = list(locked.select_related("service"))
    now = timezone.now()
    results, changed, transitions = [], [], []
    for probe in probes:
        out = by_id[probe.pk]
        results.append(
            ProbeResult(
                probe=probe, checked_at=out.checked_at, outcome=out.outcome, ok=out.ok, source=ProbeResult.Source.CHECK,
                latency_ms=out.latency_ms, status_code=out.status_code, error=out.error[:500],
            )
        )  # fmt: skip
        if out.ok:
            probe.consecutive_successes += 1
            probe.consecutive_failures = 0
            probe.last_ok_at = out.checked_at
        else:
            probe.consecutive_failures += 1
            probe.consecutive_successes = 0
            if probe.consecutive_failures == 1 or probe.first_failure_at is None:
                probe.first_failure_at = out.checked_at
        probe.last_checked_at = out.checked_at
        probe.last_error = out.error[:500]
        probe.last_latency_ms = out.latency_ms
        probe.last_status_code = out.status_code
        if out.cert_expires_at is not None:
            probe.cert_expires_at = out.cert_expires_at
            probe.cert_issuer = out.cert_issuer
            probe.cert_sans = out.cert_sans
        probe.lease_token = probe.lease_until = None
        if probe.state != State.PAUSED:
            probe.next_run_at = max(now, out.checked_at + timedelta(seconds=probe.interval_seconds))
            new = next_state(
                probe.state, out.outcome,
                failures=probe.consecutive_failures, successes=probe.consecutive_successes,
                failure_threshold=probe.failure_threshold, success_threshold=probe.success_threshold,
            )  # fmt: skip
            if new != probe.state:
                transitions.append((probe, probe.state, new, out))
                probe.state, probe.state_changed_at = new, out.checked_at
        changed.append(probe)
    ProbeResult.objects.bulk_create(results, batch_size=500)
    signals.results_recorded.send(sender=ProbeResult, results=results)
    _bulk_write(
        changed,
        ["state", "state_changed_at", "consecutive_failures", "consecutive_successes", "last_ok_at",
         "first_failure_at", "last_checked_at", "last_error", "last_latency_ms", "last_status_code",
         "cert_expires_at", "cert_issuer", "cert_sans", "lease_token", "lease_until", "next_run_at"],
    )  # fmt: skip
    for probe, old, new, out in transitions:
        _after_transition(probe, old, new, out.error or "check passed", out.checked_at)
    return len(probes)


def _bulk_write(probes: list[Probe], fields: list[str]) -> None:
    """One parameterised UPDATE per probe sent with ``executemany`` (psycopg pipelines it):
    ``bulk_update``'s CASE/WHEN over 16 columns x 1,000 rows costs seconds of Python alone."""
    if not probes:
        return
    columns = [Probe._meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(c.column)} = %s" for c in columns)
    sql = f"UPDATE {quote(Probe._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608
    params = [
        [c.get_db_prep_save(getattr(p, c.attname), connection) for c in columns] + [p.pk] for p in probes
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _after_transition(probe: Probe, old: str, new: str, reason: str, at: datetime) -> None:
    _event(probe, old, new, reason, at)
    if new == State.DOWN:
        open_alert(probe=probe, now=at, reason=reason)
    elif old == State.DOWN:
        alert = ProbeAlert.objects.filter(probe=probe, status=ProbeAlert.Status.OPEN).first()
        if alert is not None:
            _resolve_alert(alert, at, reason=f"recovered: {probe.get_state_display().lower()}")


@transaction.atomic
def prune_results(*, now: datetime | None = None, days: int | None = None, chunk: int = 10_000) -> int:
    """Delete results older than the retention period, in bounded chunks."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=days if days is not None else conf.retention_days())
    deleted = 0
    while True:
        ids = list(ProbeResult.objects.filter(checked_at__lt=cutoff).values_list("pk", flat=True)[:chunk])
        if not ids:
            return deleted
        deleted += ProbeResult.objects.filter(pk__in=ids).delete()[0]


# ---------------------------------------------------------------------------------------
# Heartbeats
# ---------------------------------------------------------------------------------------
def heartbeat_due(probe: Probe, after: datetime) -> datetime:
    """The instant a heartbeat becomes late: next expected ping after ``after`` + grace.
    Late means strictly after this instant."""
    if probe.cron:
        zone = _zone(probe.cron_timezone)
        expected = next(CronSim(probe.cron, after.astimezone(zone).replace(microsecond=0)))
        expected = expected.astimezone(ZoneInfo("UTC"))
    else:
        expected = after + timedelta(seconds=probe.period_seconds or 0)
    return expected + timedelta(seconds=probe.grace_seconds)


PING_KINDS = ("success", "start", "fail")


def _fast_success_pings(pings: list[tuple[uuidlib.UUID, datetime]]) -> set[uuidlib.UUID]:
    """The hot path of success pings on PostgreSQL, for any number of pings in one statement:
    heartbeats that are up, on a period and with no start pending are updated and get their
    result row; the UUIDs that took this path are returned. Everything else (cron schedules,
    a start to close, a state change, unknown UUIDs) is left for the locked path. Each UUID
    at most once per call (``record_success_pings`` splits repeats into rounds).

    Rows are locked in id order, so two web processes flushing overlapping batches queue
    instead of deadlocking. The statement commits with ``synchronous_commit = off`` (its own
    transaction only): it does not wait for the WAL flush. A database crash may lose the last
    fraction of a second of such pings - never consistency, and never a state change (those
    take the locked path)."""
    if not pings or connection.vendor != "postgresql":
        return set()
    probe_table, result_table = Probe._meta.db_table, ProbeResult._meta.db_table
    # Asynchronous commit only when the statement is its own transaction: inside a caller's
    # transaction the setting would also apply to the caller's other writes.
    async_commit = transaction.get_autocommit()
    settings_cte = (
        "async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS value),"
        if async_commit
        else ""
    )
    sql = f"""
        WITH {settings_cte}
        pinged AS (SELECT * FROM unnest(%(uuids)s::uuid[], %(ats)s::timestamptz[]) AS t(uuid, at)),
        locked AS (
            SELECT probe.id, pinged.at FROM {probe_table} probe JOIN pinged ON probe.uuid = pinged.uuid
             WHERE probe.kind = %(kind)s AND probe.state = %(state)s AND probe.last_start_at IS NULL
               AND probe.cron = '' AND probe.period_seconds IS NOT NULL
             ORDER BY probe.id
               FOR UPDATE OF probe
        ),
        hit AS (
            UPDATE {probe_table} probe
               SET last_ping_at = locked.at, last_checked_at = locked.at, last_ok_at = locked.at, last_error = '',
                   consecutive_successes = consecutive_successes + 1, consecutive_failures = 0,
                   next_run_at = locked.at + make_interval(secs => period_seconds + grace_seconds)
              FROM locked
             WHERE probe.id = locked.id
         RETURNING probe.id, probe.uuid, locked.at
        ),
        stored AS (
            INSERT INTO {result_table} (probe_id, checked_at, outcome, ok, source, error)
            SELECT hit.id, hit.at, %(outcome)s, TRUE, %(source)s, '' FROM hit
        )
        SELECT hit.uuid FROM hit {", async_commit" if async_commit else ""}
    """  # noqa: S608 - table names come from model metadata, values are parameters
    params = {
        "uuids": [u for u, _ in pings], "ats": [at for _, at in pings], "kind": Kind.HEARTBEAT,
        "state": State.UP, "outcome": engine.UP, "source": ProbeResult.Source.PING,
    }  # fmt: skip
    # Server-side binding, binary and prepared: the arrays go to PostgreSQL as binary uuid[] and
    # timestamptz[] (Django's client-side binding would spell every element out in Python) and
    # the plan is made once per connection.
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True, binary=True)
        return {row[0] for row in cursor.fetchall()}


class PingsNotRecorded(Exception):
    """A database error stopped ``record_success_pings`` part-way; ``unrecorded`` are the
    pings not committed, in arrival order (retry them, nothing is recorded twice)."""

    def __init__(self, unrecorded: list[tuple[uuidlib.UUID, datetime]]):
        super().__init__(f"{len(unrecorded)} pings not recorded")
        self.unrecorded = unrecorded


def record_success_pings(pings: list[tuple[uuidlib.UUID, datetime]]) -> int:
    """Record many success pings, in arrival order per heartbeat, with as few statements as
    the hot path allows (``probes.ingest`` flushes its buffer through here). Returns how many
    were recorded; pings of unknown UUIDs are dropped. Raises ``PingsNotRecorded`` (from the
    database error) with the pings still to write."""
    rounds: list[dict[uuidlib.UUID, datetime]] = []
    for ping_uuid, at in pings:  # a heartbeat pinged twice in one batch: the second in a later round
        for round_ in rounds:
            if ping_uuid not in round_:
                round_[ping_uuid] = at
                break
        else:
            rounds.append({ping_uuid: at})
    done: set[tuple[uuidlib.UUID, datetime]] = set()
    try:
        recorded = 0
        for round_ in rounds:
            fast = _fast_success_pings(list(round_.items()))
            recorded += len(fast)
            done.update((u, round_[u]) for u in fast)
            rest = [u for u in round_ if u not in fast]
            known = set(
                Probe.objects.filter(uuid__in=rest, kind=Kind.HEARTBEAT).values_list("uuid", flat=True)
            )
            for ping_uuid in rest:
                if ping_uuid in known:
                    recorded += _record_ping_locked(
                        ping_uuid=ping_uuid, kind="success", detail="", now=round_[ping_uuid]
                    )
                done.add((ping_uuid, round_[ping_uuid]))
    except DatabaseError as exc:
        raise PingsNotRecorded([p for p in pings if p not in done]) from exc
    return recorded


def record_ping(
    *, ping_uuid: uuidlib.UUID | str, kind: str = "success", detail: str = "", now: datetime | None = None
) -> bool:
    """A heartbeat ping (healthchecks.io protocol). Returns False for an unknown UUID; the
    ping view answers the same either way."""
    if kind not in PING_KINDS:
        raise InvalidInput(f"Unknown ping kind {kind!r}.")
    now = now or timezone.now()
    try:
        ping_uuid = uuidlib.UUID(str(ping_uuid))
    except ValueError:
        return False
    if kind == "success" and _fast_success_pings([(ping_uuid, now)]):
        return True
    return _record_ping_locked(ping_uuid=ping_uuid, kind=kind, detail=detail, now=now)


@transaction.atomic
def _record_ping_locked(*, ping_uuid, kind: str, detail: str, now: datetime) -> bool:
    probe = (
        Probe.objects.select_for_update()
        .select_related("service")
        .filter(uuid=ping_uuid, kind=Kind.HEARTBEAT)
        .first()
    )
    if probe is None:
        return False
    if kind == "start":
        Probe.objects.filter(pk=probe.pk).update(last_start_at=now)
        return True
    paused = probe.state == State.PAUSED
    fields = [
        "last_checked_at",
        "last_ping_at",
        "consecutive_failures",
        "consecutive_successes",
        "last_error",
    ]
    probe.last_checked_at = probe.last_ping_at = now
    if kind == "success":
        duration = None
        if probe.last_start_at is not None and probe.last_start_at <= now:
            duration = round((now - probe.last_start_at).total_seconds() * 1000, 1)
            probe.last_duration_ms = duration
            fields.append("last_duration_ms")
        probe.last_start_at = None
        probe.last_ok_at = now
        probe.consecutive_successes += 1
        probe.consecutive_failures = 0
        probe.last_error = ""
        ProbeResult.objects.create(
            probe=probe,
            checked_at=now,
            outcome=engine.UP,
            ok=True,
            source=ProbeResult.Source.PING,
            latency_ms=duration,
        )
        outcome, reason = engine.UP, "ping received"
    else:
        probe.last_start_at = None
        probe.consecutive_failures += 1
        probe.consecutive_successes = 0
        probe.last_error = f"the job reported a failure{': ' + detail if detail else ''}"[:500]
        if probe.first_failure_at is None or probe.consecutive_failures == 1:
            probe.first_failure_at = now
        ProbeResult.objects.create(
            probe=probe, checked_at=now, outcome=engine.DOWN, ok=False, source=ProbeResult.Source.FAIL,
            error=probe.last_error,
        )  # fmt: skip
        outcome, reason = engine.DOWN, probe.last_error
    fields += ["last_start_at", "last_ok_at", "first_failure_at", "next_run_at", "state", "state_changed_at"]
    old = probe.state
    if not paused:
        probe.next_run_at = heartbeat_due(probe, now) if outcome == engine.UP else None
        # A job's own failure report is decisive: down at once (K does not apply to /fail).
        new = next_state(
            old, outcome, failures=probe.consecutive_failures, successes=probe.consecutive_successes,
            failure_threshold=1, success_threshold=probe.success_threshold,
        )  # fmt: skip
        if new != old:
            probe.state, probe.state_changed_at = new, now
    _write(probe, fields)
    if probe.state != old:
        _after_transition(probe, old, probe.state, reason, now)
    return True


def mark_late_heartbeats(*, now: datetime | None = None) -> int:
    """Heartbeats whose last ping + period (or next cron time) + grace has passed: down."""
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        late = (
            # A ping that arrived in time may still wait in a web process's buffer: see
            # probes/ingest.py (zero when pings are written before the answer).
            Probe.objects.filter(kind=Kind.HEARTBEAT, next_run_at__lt=now - conf.ping_lateness_margin())
            .exclude(state__in=[State.PAUSED, State.DOWN])
            .order_by("next_run_at")
        )
        if connection.features.has_select_for_update_skip_locked:
            late = late.select_for_update(skip_locked=True, of=("self",))
        for probe in late.select_related("service")[:1000]:
            due = probe.next_run_at
            old = probe.state
            probe.consecutive_failures += 1
            probe.consecutive_successes = 0
            probe.first_failure_at = due
            last = f"{probe.last_ping_at:%Y-%m-%d %H:%M:%S} UTC" if probe.last_ping_at else "never"
            probe.last_error = (
                f"late: no ping since {last}, expected by {due:%Y-%m-%d %H:%M:%S} UTC (incl. grace)"
            )
            probe.state, probe.state_changed_at, probe.next_run_at = State.DOWN, now, None
            probe.last_checked_at = now
            _write(probe, ["consecutive_failures", "consecutive_successes", "first_failure_at",
                                      "last_error", "state", "state_changed_at", "next_run_at", "last_checked_at"])  # fmt: skip
            ProbeResult.objects.create(
                probe=probe, checked_at=now, outcome=engine.DOWN, ok=False, source=ProbeResult.Source.LATE,
                error=probe.last_error,
            )  # fmt: skip
            _after_transition(probe, old, State.DOWN, probe.last_error, now)
            count += 1
    return count


# ---------------------------------------------------------------------------------------
# Maintenance windows
# ---------------------------------------------------------------------------------------
def window_active(window: MaintenanceWindow, now: datetime) -> bool:
    if now < window.starts_at or (window.ends_at is not None and now >= window.ends_at):
        return False
    if not window.recurrence_cron:
        return True
    zone = _zone(window.recurrence_timezone)
    local = (now + timedelta(seconds=1)).astimezone(zone).replace(microsecond=0)
    try:
        last_start = next(CronSim(window.recurrence_cron, local, reverse=True))
    except (CronSimError, StopIteration):
        return False
    return now < last_start.astimezone(ZoneInfo("UTC")) + timedelta(minutes=window.duration_minutes or 0)


def active_window(probe: Probe, now: datetime) -> MaintenanceWindow | None:
    windows = MaintenanceWindow.objects.filter(
        Q(probe=probe) | Q(service_id=probe.service_id), starts_at__lte=now
    ).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    return next((w for w in windows if window_active(w, now)), None)


def validate_window(window: MaintenanceWindow) -> None:
    if (window.service_id is None) == (window.probe_id is None):
        raise InvalidInput("A maintenance window covers either a service or one probe.", field="service")
    if window.recurrence_cron:
        _check_cron(window.recurrence_cron, "recurrence_cron")
        _zone(window.recurrence_timezone)
        if not window.duration_minutes:
            raise InvalidInput("Recurring windows need a duration.", field="duration_minutes")
    elif window.ends_at is None:
        raise InvalidInput("One-off windows need an end.", field="ends_at")
    if window.ends_at is not None and window.starts_at and window.ends_at <= window.starts_at:
        raise InvalidInput("The window must end after it starts.", field="ends_at")


@transaction.atomic
def save_maintenance_window(
    *, window: MaintenanceWindow | None = None, actor=None, **fields
) -> MaintenanceWindow:
    window = window or MaintenanceWindow()
    for name, value in fields.items():
        setattr(window, name, value)
    if window.pk is None and actor is not None:
        window.created_by = actor
    validate_window(window)
    try:
        window.full_clean()
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from None
    window.save()
    return window


@transaction.atomic
def delete_maintenance_window(*, window: MaintenanceWindow, actor=None) -> None:
    if actor is not None and not actor.has_perm("probes.delete_maintenancewindow"):
        raise NotAllowed("You may not delete maintenance windows.")
    window.delete()


@transaction.atomic
def delete_probe(*, probe: Probe, actor=None) -> None:
    """Remove a probe with its results and events (pausing keeps them)."""
    if actor is not None and not actor.has_perm("probes.delete_probe"):
        raise NotAllowed("Only engineering managers delete probes.")
    _lock(probe).delete()


# ---------------------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------------------
def _grouping_root(probe: Probe, alert: ProbeAlert | None = None) -> ProbeAlert | None:
    """An open alert that explains this probe's failure: on a service its service depends on
    (directly or transitively), or an earlier alert on the same service."""
    upstream = catalog_selectors.transitive_dependencies([probe.service_id])
    candidates = ProbeAlert.objects.filter(status=ProbeAlert.Status.OPEN, grouped_under__isnull=True).filter(
        Q(service_id__in=upstream) | Q(service_id=probe.service_id)
    )
    if alert is not None:
        candidates = candidates.exclude(pk=alert.pk).filter(opened_at__lte=alert.opened_at)
    return candidates.exclude(probe=probe).order_by("opened_at", "pk").first()


def open_alert(*, probe: Probe, now: datetime, reason: str = "") -> ProbeAlert:
    """The probe went down: one open alert per probe (partial unique index), then page -
    unless a maintenance window silences it or a dependency's alert explains it."""
    existing = ProbeAlert.objects.filter(probe=probe, status=ProbeAlert.Status.OPEN).first()
    if existing is not None:
        return existing
    detected = probe.first_failure_at or now
    started = probe.last_ok_at if probe.last_ok_at and probe.last_ok_at < detected else detected
    alert = ProbeAlert(
        probe=probe, service_id=probe.service_id, opened_at=now, detected_at=detected, started_at=started,
        summary=reason[:500], disposition=ProbeAlert.Disposition.PAGED,
    )  # fmt: skip
    window = active_window(probe, now)
    root = None if window else _grouping_root(probe)
    if window is not None:
        alert.disposition = ProbeAlert.Disposition.SILENCED
    elif root is not None:
        alert.disposition, alert.grouped_under = ProbeAlert.Disposition.GROUPED, root
    try:
        with transaction.atomic():
            alert.save()
    except IntegrityError:  # a concurrent transition opened it first
        return ProbeAlert.objects.get(probe=probe, status=ProbeAlert.Status.OPEN)
    if alert.disposition == ProbeAlert.Disposition.PAGED:
        page_for_alert(alert)
    return alert


def _resolve_alert(alert: ProbeAlert, now: datetime, *, reason: str) -> None:
    updated = ProbeAlert.objects.filter(pk=alert.pk, status=ProbeAlert.Status.OPEN).update(
        status=ProbeAlert.Status.RESOLVED, resolved_at=now
    )
    if not updated:
        return
    alert.status, alert.resolved_at = ProbeAlert.Status.RESOLVED, now
    if alert.disposition == ProbeAlert.Disposition.PAGED:
        announce_recovery(alert, reason=reason)
    # Alerts that were explained by this one: page those still down and not explained by
    # another open alert, so a dependent that stays broken is not forgotten.
    children = (
        ProbeAlert.objects.filter(grouped_under=alert, status=ProbeAlert.Status.OPEN)
        .select_related("probe", "probe__service")
        .order_by("opened_at", "pk")  # oldest first: it may become the root of the later ones
    )
    for child in children:
        other = _grouping_root(child.probe, child)
        child.grouped_under = other
        if other is None and active_window(child.probe, now) is None:
            child.disposition = ProbeAlert.Disposition.PAGED
            child.save(update_fields=["grouped_under", "disposition"])
            page_for_alert(child)
        else:
            child.save(update_fields=["grouped_under"])


def _alert_context(alert: ProbeAlert, *, recovered: bool = False) -> dict:
    probe = alert.probe
    url = absolute_url(probe.get_absolute_url())
    verb = "recovered" if recovered else "is DOWN"
    fields = [
        ["Service", probe.service.name],
        ["Probe", f"{probe.name} ({probe.get_kind_display()})"],
        ["Detected", f"{alert.detected_at:%Y-%m-%d %H:%M:%S} UTC"],
        ["Last error", probe.last_error or "-"],
    ]
    if recovered and alert.resolved_at:
        fields.append(["Down for", str(alert.resolved_at - alert.detected_at).split(".")[0]])
    grouped = list(alert.grouped_alerts.select_related("probe").values_list("probe__name", flat=True)[:20])
    if grouped:
        fields.append(["Also failing (grouped)", ", ".join(grouped)])
    return {
        "title": f"{probe.service.name}: {probe.name} {verb}",
        "url": url,
        "fields": fields,
        "actions": [["Open probe", url]],
        "probe_name": probe.name,
        "service_name": probe.service.name,
        "summary": alert.summary,
        "recovered": recovered,
    }


def _recipients(service) -> list:
    team = service.owner_team
    people = [u for u in [team.manager, *team.members.all()] if u is not None and u.is_active]
    unique = list(dict.fromkeys(people))
    if team.email:
        unique.append(team.email)
    return unique


def page_for_alert(alert: ProbeAlert) -> None:
    """THE paging hook: an alert that must reach a human. Opens an on-call page for the
    service (``oncall.services.open_page``: the service's escalation policy, deduplicated per
    alert) and, when the probe has an incident severity, an incident (detection source
    monitoring, detected = first failing result, started = last success) or a timeline event
    on the service's already open incident.

    A service without an escalation policy still alerts: the owner team is notified directly
    through the notifications outbox with kind "page" (and the admin shows no page id).
    """
    from oncall import services as oncall_services

    probe = alert.probe
    context = _alert_context(alert)
    summary = f"{probe.name} failed: {probe.last_error or alert.summary or 'down'}"
    if probe.incident_severity:
        incident = _incident_for_alert(alert, summary)
        existing = _incident_page(incident)
        if existing is not None:
            # Declaring the incident at a paging severity already paged on-call for it: the
            # alert shares that page instead of waking the same people twice.
            ProbeAlert.objects.filter(pk=alert.pk).update(page_id=existing.pk)
            alert.page_id = existing.pk
            return
    try:
        with transaction.atomic():
            page = oncall_services.open_page(
                title=context["title"], summary=summary, url=context["url"], service=probe.service, subject=alert,
                dedup_key=f"probes:alert:{alert.pk}",
            )  # fmt: skip
    except ServiceError as exc:
        log.warning("probe alert %s: no on-call page (%s); notifying the owner team", alert.pk, exc.message)
        _notify(
            alert, template="probes/down", kind="page", key=f"probes:alert:{alert.pk}:down", context=context
        )
        return
    ProbeAlert.objects.filter(pk=alert.pk).update(page_id=page.pk)
    alert.page_id = page.pk


def _incident_page(incident):
    from incidents import paging
    from oncall.models import Page

    return Page.objects.filter(dedup_key=paging.dedup_key(incident), status__in=Page.OPEN).first()


def _incident_for_alert(alert: ProbeAlert, summary: str):
    from incidents import services as incident_services
    from incidents.models import Incident, TimelineEvent

    probe = alert.probe
    incident = (
        Incident.objects.filter(services=probe.service, status__in=Incident.OPEN_STATUSES)
        .order_by("-detected_at")
        .first()
    )
    if incident is None:
        incident = incident_services.declare_incident(
            title=strip_control_characters(f"{probe.service.name}: {probe.name} is down"),
            severity=probe.incident_severity,
            services=[probe.service],
            actor=None,
            detection_source=Incident.DetectionSource.MONITORING,
            detected_at=alert.detected_at,
            started_at=alert.started_at,
            summary=summary,
        )
    else:
        incident_services.add_timeline_event(
            incident=incident, kind=TimelineEvent.Kind.PROBE_ALERT, text=f"Probe down: {summary}",
            occurred_at=alert.detected_at, related=probe,
        )  # fmt: skip
    ProbeAlert.objects.filter(pk=alert.pk).update(incident_id=incident.pk)
    alert.incident_id = incident.pk
    return incident


def announce_recovery(alert: ProbeAlert, *, reason: str) -> None:
    """Recovery of a paged alert: resolve its page, add a timeline event to its incident (the
    incident itself stays open for people to resolve) and notify the owner team."""
    probe = alert.probe
    context = _alert_context(alert, recovered=True)
    if alert.incident_id:
        from incidents import services as incident_services
        from incidents.models import Incident, TimelineEvent

        incident = Incident.objects.filter(pk=alert.incident_id).first()
        if incident is not None:
            incident_services.add_timeline_event(
                incident=incident, kind=TimelineEvent.Kind.PROBE_ALERT,
                text=f"Probe {probe.name} recovered ({reason}).", occurred_at=alert.resolved_at, related=probe,
            )  # fmt: skip
    if alert.page_id:
        from oncall import services as oncall_services
        from oncall.models import Page

        page = Page.objects.filter(pk=alert.page_id, status__in=Page.OPEN).first()
        if page is not None:
            try:
                with transaction.atomic():
                    oncall_services.resolve_page(page=page, reason=f"Probe {probe.name} recovered")
            except ServiceError:  # someone resolved it by hand meanwhile
                pass
    _notify(
        alert,
        template="probes/recovered",
        kind="update",
        key=f"probes:alert:{alert.pk}:recovered",
        context=context,
    )


def _notify(alert: ProbeAlert, *, template: str, kind: str, key: str, context: dict) -> None:
    from notifications.services import notify

    recipients = _recipients(alert.probe.service)
    if recipients:
        notify(
            recipients=recipients,
            kind=kind,
            template=template,
            context=context,
            idempotency_key=key,
            related=alert,
        )
