from django.apps import AppConfig
from django.core import checks


class ProbesConfig(AppConfig):
    name = "probes"
    verbose_name = "Health probes"

    def ready(self) -> None:
        checks.register(check_probe_settings, checks.Tags.compatibility)


def check_probe_settings(app_configs=None, **kwargs):
    """A bad PROBE_* setting is reported at start-up, not at the first probe run."""
    from probes import conf

    # The allow-list (OUTBOUND_ALLOWED_NETWORKS, formerly PROBE_ALLOWED_NETWORKS) is checked by
    # notifications.checks (notifications.E001 / W001): one guard, one setting, one check.
    errors = []
    for name, getter in (("PROBE_CONCURRENCY", conf.concurrency), ("PROBE_BATCH_SIZE", conf.batch_size),
                         ("PROBE_DISPATCH_LIMIT", conf.dispatch_limit), ("PROBE_BODY_CAP_BYTES", conf.body_cap),
                         ("PROBE_RESULT_RETENTION_DAYS", conf.retention_days)):  # fmt: skip
        try:
            ok = getter() > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            errors.append(checks.Error(f"{name} must be a positive integer.", id="probes.E002"))
    bundle = conf.ca_bundle()
    if bundle:
        from pathlib import Path

        if not Path(bundle).is_file():
            errors.append(checks.Error(f"PROBE_CA_BUNDLE {bundle!r} is not a file.", id="probes.E003"))
    return errors
