"""Signals identity sends upward (ARCHITECTURE.md: the sanctioned channel from layer 0 to the
apps above, connected in their ``AppConfig.ready()``).

``collect_references`` is sent inside ``identity.services.deactivate_user``'s transaction,
after the person was deactivated and their ``Departure`` recorded. sender=Departure, kwargs:
user (the person leaving), at (aware UTC instant they left). Each receiver returns a list of
``identity.services.Reference`` (or dicts with the same keys) for everything in its app that
still names the person: oncall returns schedules (with the gaps the departure opens, from its
own gap detection) and escalation levels, operations duties they own or back up, postmortems
open action items they own. A receiver only reads; the list is stored on the departure and
sent to each owning team's manager.
"""

from django.dispatch import Signal

collect_references = Signal()
