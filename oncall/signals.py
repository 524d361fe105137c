"""Signals oncall sends upward.

This is the sanctioned channel from layer 1 to the layers above (ARCHITECTURE.md): oncall
never imports incidents, support escalations or probes; they connect to these signals in their
``AppConfig.ready()``. Receivers run after the page's transaction commits, so they see the
committed state and cannot undo it; a receiver that fails is logged by the caller's stack and
does not roll back the acknowledgement or resolution.

A page and its subject (the incident or escalation it pages about) settle each other in both
directions: the subject's app calls ``oncall.services`` downwards (``via="incident"`` /
``"escalation"``, see ``oncall.services.SUBJECT_VIAS``) and hears back through these signals.
A receiver must therefore treat "already done" as done (no error, no second record): its own
call may be what sent the signal.
"""

from django.dispatch import Signal

# Sent on commit after a page is acknowledged (web link, admin, API, or its subject).
# sender=Page, kwargs: page (the Page), user (who acknowledged), at (aware UTC datetime).
# incidents uses it to acknowledge the page's incident and set its commander if none;
# escalations to acknowledge the escalations paged through it.
page_acknowledged = Signal()

# Sent on commit after a page is resolved (admin, API, its subject, or automation).
# sender=Page, kwargs: page, user (who resolved it; None for automation, e.g. a recovered
# probe), at (aware UTC datetime), reason (free text, may be empty).
# incidents resolves the page's incident and escalations the escalations paged through it,
# when a person resolved the page; automation resolving a page settles nothing above it.
page_resolved = Signal()
