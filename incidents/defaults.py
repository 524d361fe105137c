"""The severity framework's defaults (the issue's triage guide), as plain data.

Used by the data migration that seeds them and by ``ensure_severities`` (demo data and tests,
where a flushed database must get them back). Editing a severity in the admin is kept:
only missing levels are created.
"""

SEVERITY_DEFAULTS = [
    {
        "level": 1,
        "name": "Critical outage or data loss",
        "description": "A critical service is down or data is being lost or exposed for many customers. "
        "All hands: page on-call now.",
        "examples": "Checkout or billing down for all customers\nDatabase corruption or lost writes\n"
        "Security breach exposing customer data",
        "ack_sla_mode": "minutes",
        "ack_sla_minutes": 5,
        "update_cadence_minutes": 30,
        "pages_oncall": True,
        "postmortem_required": True,
        "postmortem_due_business_days": 5,
    },
    {
        "level": 2,
        "name": "Major functionality degraded",
        "description": "Major functionality is degraded or unavailable for a significant share of "
        "customers, with no reasonable workaround.",
        "examples": "Webhook deliveries delayed by more than 15 minutes\nCustom domains failing TLS for a region\n"
        "Error rate above the SLO for a tier-1 service",
        "ack_sla_mode": "minutes",
        "ack_sla_minutes": 15,
        "update_cadence_minutes": 60,
        "pages_oncall": True,
        "postmortem_required": True,
        "postmortem_due_business_days": 10,
    },
    {
        "level": 3,
        "name": "Minor impact or workaround available",
        "description": "Minor impact, a small group of customers, or a workaround exists. Handle in "
        "working hours; no page.",
        "examples": "Search slow for some queries\nInvoice PDFs delayed\nOne connector type failing with a retry workaround",
        "ack_sla_mode": "minutes",
        "ack_sla_minutes": 240,
        "update_cadence_minutes": None,
        "pages_oncall": False,
        "postmortem_required": False,
        "postmortem_due_business_days": None,
    },
    {
        "level": 4,
        "name": "Non-urgent operational issue",
        "description": "No customer impact yet: an operational issue to fix before it becomes one.",
        "examples": "A certificate expiring in two weeks\nA noisy alert\nDisk usage trending up on a replica",
        "ack_sla_mode": "next_business_day",
        "ack_sla_minutes": None,
        "update_cadence_minutes": None,
        "pages_oncall": False,
        "postmortem_required": False,
        "postmortem_due_business_days": None,
    },
]


def ensure_severities(severity_model=None) -> int:
    """Create the missing default levels; returns how many were created."""
    if severity_model is None:
        from incidents.models import Severity as severity_model
    created = 0
    for row in SEVERITY_DEFAULTS:
        _, was_created = severity_model.objects.get_or_create(
            level=row["level"], defaults={k: v for k, v in row.items() if k != "level"}
        )
        created += was_created
    return created
