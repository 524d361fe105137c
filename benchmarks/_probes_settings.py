"""Settings for the gunicorn part of benchmarks/probes.py: the real settings plus a route to
a trivial view (the baseline) and a ping rate limit high enough not to trigger."""

from opsportal.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks._probes_urls"
PROBE_PING_RATE = "100000000/m"
