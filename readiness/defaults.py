"""The default "Operational readiness" template (seeded by migration 0002; also used by tests)."""

DEFAULT_TEMPLATE_NAME = "Operational readiness"

# key, title, guidance, required, required for high risk, evidence required, automatic check
DEFAULT_ITEMS = [
    ("runbooks", "Runbooks exist and were reviewed within 90 days for every service",
     "Every service in the release has a runbook whose review is not due.", True, False, False, "runbooks_fresh"),
    ("alert-coverage", "Alert coverage: every service has an active probe linking a runbook",
     "A paused probe does not count; each active probe names the runbook a responder follows.",
     True, False, False, "probe_coverage"),
    ("rollback-tested", "Rollback procedure tested",
     "Record when the rollback was last exercised and link the evidence on the release.",
     True, False, True, "rollback_tested"),
    ("oncall-coverage", "Owners named and on-call covered for the deploy window plus 24 h",
     "Each owning team has a manager and no on-call gap from the window start to 24 h after it ends.",
     True, False, False, "oncall_coverage"),
    ("monitoring-links", "Dashboards / monitoring links present",
     "Each service has a dashboard link in the catalog.", True, False, False, "monitoring_links"),
    ("support-comms", "Support communication plan and customer message drafted",
     "Link the draft customer message and tell support when the window starts.", True, False, True, ""),
    ("escalation-path", "Escalation path documented",
     "Who to call if the rollback does not work, beyond the on-call engineer.", True, False, True, ""),
    ("change-freeze", "No open SEV-1/SEV-2 on the affected services (change freeze)",
     "Drills do not count; resolve or downgrade the incident first.", True, False, False, "no_major_incidents"),
    ("error-budget", "Error budget left on every service",
     "Every SLO of the services has budget left (at least SLO_BUDGET_GATE_MIN_REMAINING, default 10 %). "
     "Waiving it needs an engineering manager.", True, False, False, "error_budget"),
    ("rehearsal", "Tabletop / rehearsal done",
     "Required for high-risk releases: a drill incident on the services, or evidence of a tabletop.",
     False, True, False, "rehearsal_done"),
]  # fmt: skip


def ensure_default_template(Template, Item) -> None:
    """Create the default template with its items unless a template of that name exists
    (idempotent; models passed in so the data migration can use its historical ones)."""
    template, created = Template.objects.get_or_create(
        name=DEFAULT_TEMPLATE_NAME,
        defaults={
            "description": "Operational preparedness before launch: ownership, coverage, rollback, comms.",
            "is_default": not Template.objects.filter(is_default=True).exists(),
            "risk_levels": [],
            "require_release_lead": True,
            "manager_signoff": "high",
        },
    )
    if not created:
        return
    for position, (key, title, guidance, required, high, evidence, check) in enumerate(
        DEFAULT_ITEMS, start=1
    ):
        Item.objects.create(
            template=template, position=position, key=key, title=title, guidance=guidance, required=required,
            required_for_high_risk=high, evidence_required=evidence, check_key=check,
        )  # fmt: skip
