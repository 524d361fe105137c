"""Signals the probes app sends (so apps of its own layer can follow it without a cycle).

``results_recorded``
    Sent by ``services.record_outcomes`` inside its transaction, after the scheduled checks'
    results are inserted. Keyword argument ``results``: the list of
    :class:`probes.models.ProbeResult` just stored (with ``probe_id``, ``checked_at``,
    ``outcome`` and ``latency_ms``). ``slos`` rolls them up into its per-minute SLI counters
    in the same transaction, so a result is counted exactly once (or not at all, with it).
    ``sender`` is the ProbeResult class.
"""

from django.dispatch import Signal

results_recorded = Signal()
