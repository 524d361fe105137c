"""Signals the incidents app sends (layer 2 tells others without importing them).

``paging_requested``
    Sent on commit when an incident is declared at, raised to, or reopened at a severity that
    pages on-call (``Severity.pages_oncall``). Keyword arguments:

    - ``incident``: the :class:`incidents.models.Incident` (re-read it by ``incident.pk``
      if you need fresh data: the receiver runs after the transaction committed);
    - ``reason``: ``"declared"``, ``"severity_raised"`` or ``"reopened"``;
    - ``drill``: ``True`` for game days and tabletop rehearsals, so a receiver can mark the
      page as a rehearsal (or route it to the drill participants only).

    The on-call app is a lower layer and must not import incidents; the wiring (a receiver
    that calls ``oncall.services.open_page(...)`` for the owning team's policy) is connected
    by whoever integrates the two, in an ``AppConfig.ready()``. ``sender`` is the Incident class.
"""

from django.dispatch import Signal

paging_requested = Signal()
