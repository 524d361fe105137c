"""Signals oncall sends upward.

This is the sanctioned channel from layer 1 to the layers above (ARCHITECTURE.md): oncall
never imports incidents, support escalations or probes; they connect to these signals in their
``AppConfig.ready()``. Receivers run after the page's transaction commits, so they see the
committed state and cannot undo it; a receiver that fails is logged by the caller's stack and
does not roll back the acknowledgement.
"""

from django.dispatch import Signal

# Sent on commit after a page is acknowledged (web link, admin or API).
# sender=Page, kwargs: page (the Page), user (who acknowledged), at (aware UTC datetime).
# incidents uses it to acknowledge the page's incident and set its commander if none.
page_acknowledged = Signal()
