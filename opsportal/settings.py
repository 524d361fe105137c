"""Ops Portal settings: one file, every value from the environment (12-factor).

docs/operations/configuration.md lists every variable read here (tests/docs checks it). Development
conveniences (a generated SECRET_KEY, console e-mail, localhost hosts) only apply when
DEBUG is true, which only `make run` turns on.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from opsportal import env as envparse

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envparse.get_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

_env = environ.Env()

# --- Core -------------------------------------------------------------------------------
DEBUG = envparse.get_bool("DEBUG", False)


def _secret_key() -> str:
    key = envparse.get_str("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off. "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # Development only: generate once into var/ (ignored by git) so sessions survive restarts.
    path = VAR_DIR / "dev_secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = envparse.get_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = envparse.get_list("CSRF_TRUSTED_ORIGINS", [])

# Absolute base URL used for links in notifications, iCal feeds and one-click actions.
SITE_URL = (envparse.get_str("SITE_URL", "http://localhost:8000") or "").rstrip("/")
SITE_NAME = envparse.get_str("SITE_NAME", "Ops Portal")

INSTALLED_APPS = [
    "opsportal.admin_config.OpsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # third party
    "rest_framework",
    "knox",  # hashed API tokens; the model is accounts.ApiToken (KNOX_TOKEN_MODEL)
    "accounts.axes_config.SignInRecordsConfig",  # django-axes: sign-in lockout ("Sign-in lockout" below)
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "simple_history",
    # ours (layer order: see ARCHITECTURE.md)
    "opsportal.apps.OpsPortalConfig",
    # layer 0
    "accounts",
    "identity",  # SSO (OIDC), SCIM provisioning, sign-in audit
    "catalog",
    "notifications",
    "reminders",
    # layer 1
    "oncall",
    "runbooks",
    # layer 2
    "incidents",
    "escalations",
    "postmortems",
    # layer 3
    "probes",
    "slos",
    "alerts",
    # layer 4
    "readiness",
    "deployments",
    # layer 5
    "metrics",
    "operations",
    "status",
    # layer 6
    "chat",
    "importers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # every time on every page in the viewer's own zone (their profile's time zone)
    "opsportal.middleware.ViewerTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # last, as axes requires: turns a sign-in refused during a lockout into the lockout page
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "opsportal.urls"
WSGI_APPLICATION = "opsportal.wsgi.application"
ASGI_APPLICATION = "opsportal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "opsportal.context_processors.site",
                "identity.context_processors.sso",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
# Default: an SQLite file under var/ (the embedded mode `make run` uses on a fresh machine).
DATABASE_URL = envparse.get_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'opsportal.sqlite3'}"
DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: WAL lets readers proceed during a write, and
    # IMMEDIATE transactions take the write lock up front instead of failing mid-transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", envparse.get_int("DB_CONN_MAX_AGE", 60, minimum=0))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker + cache -------------------------------------------------------
REDIS_URL = envparse.get_str("REDIS_URL", "redis://127.0.0.1:6379/0") or ""
if urlsplit(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
    raise ImproperlyConfigured(f"REDIS_URL must be a redis://, rediss:// or unix:// URL, got {REDIS_URL!r}.")

CACHES = {
    "default": {
        "BACKEND": "opsportal.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": envparse.get_str("CACHE_KEY_PREFIX", "opsportal"),
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

# --- Auth -------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    # first: refuses every sign-in (right password included) while the account or address is
    # locked out; it authenticates nobody itself
    "axes.backends.AxesStandaloneBackend",
    # SSO_ONLY: refuses password sign-in to everyone but the break-glass superusers
    "identity.backends.PasswordGate",
    "django.contrib.auth.backends.ModelBackend",
    # OpenID Connect sign-in (identity/oidc.py, mozilla-django-oidc)
    "identity.oidc.Backend",
]

# --- Single sign-on: OpenID Connect + SCIM (identity/; docs/sso.md) ----------------------
# The provider is found through its discovery document; endpoints and keys come from there.
OIDC_DISCOVERY_URL = envparse.get_str("OIDC_DISCOVERY_URL", "") or ""
OIDC_RP_CLIENT_ID = envparse.get_str("OIDC_CLIENT_ID", "") or ""
OIDC_RP_CLIENT_SECRET = envparse.get_str("OIDC_CLIENT_SECRET", "") or ""  # or OIDC_CLIENT_SECRET_FILE
OIDC_RP_SCOPES = envparse.get_str("OIDC_SCOPES", "openid email profile") or "openid email profile"
OIDC_RP_SIGN_ALGO = envparse.get_str("OIDC_SIGN_ALGO", "RS256") or "RS256"
OIDC_USE_PKCE = envparse.get_bool("OIDC_USE_PKCE", True)
OIDC_USE_NONCE = True
OIDC_CLOCK_SKEW_SECONDS = envparse.get_int("OIDC_CLOCK_SKEW_SECONDS", 60, minimum=0)
OIDC_TIMEOUT = envparse.get_int("OIDC_TIMEOUT", 10, minimum=1)
OIDC_GROUPS_CLAIM = envparse.get_str("OIDC_GROUPS_CLAIM", "groups") or "groups"
OIDC_BUTTON_LABEL = envparse.get_str("OIDC_BUTTON_LABEL", "Sign in with company SSO") or ""
OIDC_AUTHENTICATION_CALLBACK_URL = "identity:oidc-callback"
OIDC_STORE_ID_TOKEN = False
OIDC_REDIRECT_FIELD_NAME = "next"
LOGIN_REDIRECT_URL_FAILURE = "/"
# Refuse an ID token whose e-mail the provider has not verified (email_verified=false).
SSO_REQUIRE_VERIFIED_EMAIL = envparse.get_bool("SSO_REQUIRE_VERIFIED_EMAIL", True)
SSO_CREATE_USERS = envparse.get_bool("SSO_CREATE_USERS", True)
# "idp-group:Portal role,..." and "idp-group:Team name,...": re-synced at every sign-in and
# SCIM group change. SSO_KEEP_MANUAL_ROLES: roles/teams given by hand stay (only what SSO
# gave is taken away again); off: a person's roles are exactly what the map says.
SSO_ROLE_MAP = envparse.get_str("SSO_ROLE_MAP", "") or ""
SSO_TEAM_MAP = envparse.get_str("SSO_TEAM_MAP", "") or ""
SSO_KEEP_MANUAL_ROLES = envparse.get_bool("SSO_KEEP_MANUAL_ROLES", False)
# Password sign-in off for everyone except SSO_BREAK_GLASS_USERS (active superusers; empty:
# every active superuser).
SSO_ONLY = envparse.get_bool("SSO_ONLY", False)
SSO_BREAK_GLASS_USERS = envparse.get_list("SSO_BREAK_GLASS_USERS", [])
SCIM_SERVICE_PROVIDER = {
    "NETLOC": urlsplit(SITE_URL).netloc or "localhost",
    "AUTHENTICATION_SCHEMES": [
        {
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a SCIM token from the portal (shown once).",
            "primary": True,
        }
    ],
    "USER_ADAPTER": "identity.scim.User",
    "GROUP_ADAPTER": "identity.scim.Group",
    "GROUP_MODEL": "identity.models.DirectoryGroup",
    "USER_FILTER_PARSER": "identity.scim_filters.UserFilter",
    "GROUP_FILTER_PARSER": "identity.scim_filters.GroupFilter",
    "AUTH_CHECK_MIDDLEWARE": "identity.scim.BearerTokenCheck",
    "BASE_LOCATION_GETTER": "identity.scim.base_location",
    "WWW_AUTHENTICATE_HEADER": 'Bearer realm="scim"',
}

# --- Sign-in lockout (django-axes; accounts/lockout.py) ---------------------------------
# LOGIN_FAILURE_LIMIT failed sign-ins - admin login, /accounts/login/, unknown API tokens -
# from one address, or against one username, lock that address or username out for
# LOGIN_COOLOFF_MINUTES (each further attempt while locked starts the wait again). A
# successful sign-in clears that account's failures. Client address: REMOTE_ADDR, or with
# LOGIN_PROXY_COUNT trusted reverse proxies in front, the address the outermost one saw in
# X-Forwarded-For (leave it 0 unless every request comes through those proxies).
LOGIN_FAILURE_LIMIT = envparse.get_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_COOLOFF_MINUTES = envparse.get_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1)
LOGIN_PROXY_COUNT = envparse.get_int("LOGIN_PROXY_COUNT", 0, minimum=0)
# sign-in and sign-in failure records are kept this long (pruned daily)
LOGIN_RECORDS_RETENTION_DAYS = envparse.get_int("LOGIN_RECORDS_RETENTION_DAYS", 365, minimum=1)
AXES_ENABLED = True
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = "accounts.lockout.lockout_parameters"  # address and username, each alone
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "accounts.lockout.LockoutHandler"  # database records (SQLite and PostgreSQL)
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_USERNAME_CALLABLE = "accounts.lockout.client_username"  # cut to the column (255)
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failure kept, for the audit trail
AXES_ENABLE_ADMIN = False  # accounts registers read-only admins for the records
AXES_VERBOSE = False  # no banner on every manage.py command; lockouts are logged by accounts.lockout

# --- I18N / time ------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True  # stored in UTC, always
TIME_ZONE = envparse.get_str("TIME_ZONE", "UTC")  # display zone for the admin
# business days for postmortem due dates are counted in this zone (weekends, holidays)
POSTMORTEM_TIME_ZONE = envparse.get_str("POSTMORTEM_TIME_ZONE", TIME_ZONE)

# --- Static -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- E-mail -----------------------------------------------------------------------------
_email_default = "consolemail://" if DEBUG else "smtp://localhost:25"
vars().update(_env.email_url("EMAIL_URL", default=_email_default))
if DEBUG and not envparse.get_str("EMAIL_URL", ""):
    # make run: one line per e-mail on the console, the full text in var/log/mail.log
    EMAIL_BACKEND = "opsportal.mail.SummaryConsoleBackend"
DEFAULT_FROM_EMAIL = envparse.get_str("DEFAULT_FROM_EMAIL", "Ops Portal <opsportal@localhost>")
SERVER_EMAIL = envparse.get_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
EMAIL_TIMEOUT = envparse.get_int("EMAIL_TIMEOUT", 10, minimum=1)

# --- Security (production defaults whenever DEBUG is off) ------------------------------
SECURE_SSL_REDIRECT = envparse.get_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz(/workers)?$"]  # load balancers and monitors probe over plain HTTP
SESSION_COOKIE_SECURE = envparse.get_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envparse.get_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = envparse.get_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envparse.get_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envparse.get_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if envparse.get_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SILENCED_SYSTEM_CHECKS = envparse.get_list("SILENCED_SYSTEM_CHECKS", [])

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: machines without credentials get 401 + WWW-Authenticate, not 403.
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["opsportal.api.permissions.DjangoModelPermissionsWithView"],
    "DEFAULT_PAGINATION_CLASS": "opsportal.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "opsportal.api.schema.AutoSchema",  # documents every error response
    "EXCEPTION_HANDLER": "opsportal.api.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# API tokens (django-rest-knox): only a SHA-512 digest of each key is stored. Every token has
# its own expiry, chosen when it is created (none by default for machines), so no global TTL;
# knox's auto-refresh is off (an expiry never moves). Keys start with "ops_" so secret
# scanners can recognise a leaked one.
KNOX_TOKEN_MODEL = "accounts.ApiToken"  # noqa: S105 (a model name, not a secret)
REST_KNOX = {
    "TOKEN_TTL": None,
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_PREFIX": "ops_",
}
# knox's own migrations build a knox_authtoken table for its default model, which
# KNOX_TOKEN_MODEL swaps out: leave knox unmigrated so no unused token table exists.
MIGRATION_MODULES = {"knox": None}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ops Portal API",
    "DESCRIPTION": (
        "Incidents, on-call, health probes and release readiness. Authenticate with "
        "`Authorization: Token <key>` (tokenAuth; create tokens in the admin under *API tokens*, or "
        "with POST /api/v1/api-tokens/) or with the session of a signed-in browser (cookieAuth; "
        "writes also need the `X-CSRFToken` header). "
        'Errors are JSON objects: `{"detail": ...}` or field errors `{"<field>": [...]}`; each '
        "operation lists those it can answer. Date-time query parameters take ISO 8601 with a UTC "
        "offset within +/-15:59, between 2000-01-01 and 2101-01-01 UTC."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        # several models have a "kind" choice set: name each so none gets a hashed name
        "KindEnum": "catalog.models.ServiceLink.Kind",
        "TimelineEventKindEnum": "incidents.models.TimelineEvent.Kind",
        "IncidentStatusEnum": "incidents.models.Incident.Status",
        "ProbeKindEnum": "probes.models.Probe.Kind",
        "ProbeStateEnum": "probes.models.Probe.State",
        "PostmortemStatusEnum": "postmortems.models.Postmortem.Status",
        "ActionItemStatusEnum": "postmortems.models.ActionItem.Status",
        "ActionItemKindEnum": "postmortems.models.ActionItem.Kind",
        "ReleaseStatusEnum": "readiness.models.Release.Status",
        "ReviewItemStateEnum": "readiness.models.ReviewItem.State",
        "ApiTokenStatusEnum": "accounts.models.ApiToken.Status",
        "AlertStatusEnum": "alerts.models.Alert.Status",  # AlertGroup.Status has the same values
        "AlertSeverityEnum": "alerts.models.Severity",
        # probe alerts and SLO burn alerts share open/resolved
        "OpenResolvedStatusEnum": "probes.models.ProbeAlert.Status",
    },
}

# --- Celery -----------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_DEFAULT_QUEUE = "default"
# Pages and notifications never wait behind a thousand slow probes: each family of tasks
# has its own queue, and production runs dedicated workers per queue (see README).
CELERY_TASK_ROUTES = {
    "opsportal.ping": {"queue": "critical"},
    "notifications.*": {"queue": "critical"},
    "oncall.*": {"queue": "critical"},
    "escalations.*": {"queue": "critical"},  # paging on-call for a customer report
    "chat.*": {"queue": "critical"},  # page buttons and incident channels
    "probes.*": {"queue": "probes"},
    "slos.*": {"queue": "critical"},  # burn-rate pages
}
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-task leaves the message for another
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Keep database connections across tasks (Celery's Django fixup closes them around every task
# unless this is set; it then closes them every N tasks). Their lifetime follows CONN_MAX_AGE
# instead: see opsportal/celery.py.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a web request when Redis is down: fail fast, the outbox and
# the beat re-dispatcher deliver later.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = envparse.get_bool("CELERY_TASK_ALWAYS_EAGER", False)
# A worker keeps trying to reach a lost broker for as long as it takes (celery's default
# gives up after 100 attempts, ~45 min, and exits; under `make run` that stops everything).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# On connection loss, a task already running finishes (its work commits; the message is
# redelivered later and finds nothing to do) rather than being killed halfway through a
# delivery, which would send it twice. Explicit: celery 6 flips the default.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Worker liveness (opsportal/workers.py): each worker process beats this often per queue it
# consumes; one silent for longer than the stale window counts as dead in /healthz and /metrics.
WORKER_HEARTBEAT_SECONDS = envparse.get_int("WORKER_HEARTBEAT_SECONDS", 10, minimum=1)
WORKER_HEARTBEAT_STALE_SECONDS = envparse.get_int(
    "WORKER_HEARTBEAT_STALE_SECONDS", 3 * WORKER_HEARTBEAT_SECONDS + 5, minimum=2
)

# --- Support escalations ----------------------------------------------------------------
# Per-user rate of filing escalations (form and API together), django-ratelimit syntax.
ESCALATIONS_RATE_LIMIT = envparse.get_str("ESCALATIONS_RATE_LIMIT", "30/m") or "30/m"
if not re.fullmatch(r"[1-9]\d*/\d*[smhd]", ESCALATIONS_RATE_LIMIT):
    raise ImproperlyConfigured(f"ESCALATIONS_RATE_LIMIT must look like 30/m, got {ESCALATIONS_RATE_LIMIT!r}.")

# --- On-call ----------------------------------------------------------------------------
# Seconds a one-click acknowledge link in a page stays valid.
ONCALL_ACK_LINK_MAX_AGE = envparse.get_int("ONCALL_ACK_LINK_MAX_AGE", 86400, minimum=60)
# Minutes before a shift starts that its handoff notice goes out.
ONCALL_HANDOFF_LEAD_MINUTES = envparse.get_int("ONCALL_HANDOFF_LEAD_MINUTES", 60, minimum=1)
# Seconds a page's next escalation step may be overdue before the auditor resumes it.
ONCALL_AUDIT_GRACE_SECONDS = envparse.get_int("ONCALL_AUDIT_GRACE_SECONDS", 60, minimum=0)

# --- Operating model --------------------------------------------------------------------
# A person owning more than this many active duties is flagged as a bus-factor gap.
OPERATIONS_BUS_FACTOR_LIMIT = envparse.get_int("OPERATIONS_BUS_FACTOR_LIMIT", 3, minimum=1)
# Days a one-click check-in link in a reminder stays valid.
OPERATIONS_CHECK_IN_LINK_MAX_AGE_DAYS = envparse.get_int(
    "OPERATIONS_CHECK_IN_LINK_MAX_AGE_DAYS", 14, minimum=1
)

# --- Public status page (/status/) ------------------------------------------------------
STATUS_PAGE_ENABLED = envparse.get_bool("STATUS_PAGE_ENABLED", True)
STATUS_PAGE_NAME = envparse.get_str("STATUS_PAGE_NAME", "") or ""  # blank: SITE_NAME
# Seconds a rendered public page is served from the cache before it is rebuilt (any change
# to a public incident, update, component or maintenance rebuilds it at once).
STATUS_PAGE_CACHE_SECONDS = envparse.get_int("STATUS_PAGE_CACHE_SECONDS", 30, minimum=1)
# Subscription requests per client IP, django-ratelimit syntax.
STATUS_SUBSCRIBE_RATE_LIMIT = envparse.get_str("STATUS_SUBSCRIBE_RATE_LIMIT", "5/m") or "5/m"
if not re.fullmatch(r"[1-9]\d*/\d*[smhd]", STATUS_SUBSCRIBE_RATE_LIMIT):
    raise ImproperlyConfigured(
        f"STATUS_SUBSCRIBE_RATE_LIMIT must look like 5/m, got {STATUS_SUBSCRIBE_RATE_LIMIT!r}."
    )

# --- Metrics (Prometheus scrape endpoint /metrics) --------------------------------------
# /metrics answers a request bearing "Authorization: Bearer <METRICS_TOKEN>" or coming from
# one of METRICS_ALLOWED_NETWORKS (CIDRs, matched against REMOTE_ADDR); with neither set
# the endpoint does not exist (404).
METRICS_TOKEN = envparse.get_str("METRICS_TOKEN", "") or ""
METRICS_ALLOWED_NETWORKS = envparse.get_list("METRICS_ALLOWED_NETWORKS", [])
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not a network (CIDR)."
        ) from None

# --- Logging ----------------------------------------------------------------------------
LOG_LEVEL = (envparse.get_str("LOG_LEVEL", "INFO") or "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # an expected 403/404 logs its one line, no traceback (opsportal/logs.py)
    "filters": {"expected_refusals": {"()": "opsportal.logs.ExpectedRefusals"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["expected_refusals"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Tuning read by apps with their own defaults (set only what you change) -------------
# Each app reads these with getattr(settings, NAME, default) and documents its default in
# docs/operations/configuration.md; here they are parsed strictly from the environment when present.
import os as _os  # noqa: E402

for _name, _minimum in (
    ("NOTIFICATIONS_MAX_ATTEMPTS", 1),
    ("NOTIFICATIONS_LEASE_SECONDS", 10),
    ("NOTIFICATIONS_BATCH_SIZE", 1),
    ("NOTIFICATIONS_MARK_SENT_EVERY", 1),
    ("PROBE_CONCURRENCY", 1),
    ("PROBE_BATCH_SIZE", 1),
    ("PROBE_DISPATCH_LIMIT", 1),
    ("PROBE_BODY_CAP_BYTES", 1024),
    ("PROBE_RESULT_RETENTION_DAYS", 1),
    ("PROBE_PING_FLUSH_MS", 0),
):
    if _name in _os.environ:
        globals()[_name] = envparse.get_int(_name, 0, minimum=_minimum)
for _name in ("NOTIFICATIONS_RETRY_BASE_SECONDS", "NOTIFICATIONS_HTTP_TIMEOUT"):
    if _name in _os.environ:
        try:
            globals()[_name] = float(_os.environ[_name])
        except ValueError:
            raise ImproperlyConfigured(f"{_name}={_os.environ[_name]!r} is not a number.") from None
if "NOTIFICATIONS_SYNCHRONOUS_COMMIT" in _os.environ:
    NOTIFICATIONS_SYNCHRONOUS_COMMIT = envparse.get_bool("NOTIFICATIONS_SYNCHRONOUS_COMMIT", False)
# Key for encrypting webhook secrets at rest (default: derived from SECRET_KEY).
NOTIFICATIONS_SECRET_KEY = envparse.get_str("NOTIFICATIONS_SECRET_KEY", "") or ""
# Networks every outbound request (probes, Slack, webhooks...) may reach besides public
# addresses; see notifications/outbound.py. Unset: none (DEBUG: loopback).
# PROBE_ALLOWED_NETWORKS is its deprecated alias (read only when this one is unset).
for _name in ("OUTBOUND_ALLOWED_NETWORKS", "PROBE_ALLOWED_NETWORKS"):
    if _name in _os.environ:
        globals()[_name] = envparse.get_list(_name, [])
        for _network in globals()[_name]:
            try:
                ipaddress.ip_network(_network, strict=False)
            except ValueError:
                raise ImproperlyConfigured(f"{_name}: {_network!r} is not a network (CIDR).") from None
for _name in ("PROBE_CA_BUNDLE", "PROBE_PING_RATE"):
    if _os.environ.get(_name):
        globals()[_name] = _os.environ[_name]

# --- Chat: Slack / Mattermost app (docs/chat.md) ------------------------------------------
# CHAT_PROVIDER: "slack", "mattermost" or unset (off). Secrets also from NAME_FILE.
CHAT_PROVIDER = (envparse.get_str("CHAT_PROVIDER", "") or "").strip().lower()
CHAT_COMMAND = envparse.get_str("CHAT_COMMAND", "/incident") or "/incident"
CHAT_CHANNEL_PATTERN = (
    envparse.get_str("CHAT_CHANNEL_PATTERN", "inc-{number}-{slug}") or "inc-{number}-{slug}"
)
CHAT_CHANNEL_FOLLOWERS = envparse.get_list("CHAT_CHANNEL_FOLLOWERS", [])
CHAT_ARCHIVE_AFTER_HOURS = envparse.get_int("CHAT_ARCHIVE_AFTER_HOURS", 24, minimum=0)
CHAT_TIMELINE_EMOJI = envparse.get_str("CHAT_TIMELINE_EMOJI", "pushpin") or "pushpin"
CHAT_ONCALL_USERGROUPS = envparse.get_str("CHAT_ONCALL_USERGROUPS", "") or ""
SLACK_BOT_TOKEN = envparse.get_str("SLACK_BOT_TOKEN", "") or ""
SLACK_SIGNING_SECRET = envparse.get_str("SLACK_SIGNING_SECRET", "") or ""
SLACK_API_URL = envparse.get_str("SLACK_API_URL", "https://slack.com/api/") or "https://slack.com/api/"
SLACK_WORKSPACE_URL = envparse.get_str("SLACK_WORKSPACE_URL", "") or ""
MATTERMOST_URL = envparse.get_str("MATTERMOST_URL", "") or ""
MATTERMOST_BOT_TOKEN = envparse.get_str("MATTERMOST_BOT_TOKEN", "") or ""
MATTERMOST_TEAM_ID = envparse.get_str("MATTERMOST_TEAM_ID", "") or ""
MATTERMOST_TEAM_NAME = envparse.get_str("MATTERMOST_TEAM_NAME", "") or ""
MATTERMOST_COMMAND_TOKEN = envparse.get_str("MATTERMOST_COMMAND_TOKEN", "") or ""
# SLOs (docs/slos.md): the Prometheus server Prometheus SLIs are read from (through the
# outbound guard: a private address must be inside OUTBOUND_ALLOWED_NETWORKS).
PROMETHEUS_URL = envparse.get_str("PROMETHEUS_URL", "") or ""
PROMETHEUS_BEARER_TOKEN = envparse.get_str("PROMETHEUS_BEARER_TOKEN", "") or ""
if "PROMETHEUS_TIMEOUT_SECONDS" in _os.environ:
    PROMETHEUS_TIMEOUT_SECONDS = envparse.get_int("PROMETHEUS_TIMEOUT_SECONDS", 10, minimum=1)
if "SLO_BUDGET_GATE_MIN_REMAINING" in _os.environ:
    try:
        SLO_BUDGET_GATE_MIN_REMAINING = float(_os.environ["SLO_BUDGET_GATE_MIN_REMAINING"])
    except ValueError:
        raise ImproperlyConfigured("SLO_BUDGET_GATE_MIN_REMAINING is a fraction such as 0.1.") from None

# --- Alerts (alerts/, docs/alerts.md) ------------------------------------------------------
# The domain of integration e-mail addresses (<key>@<domain>), served by manage.py alerts_smtp.
ALERTS_EMAIL_DOMAIN = envparse.get_str("ALERTS_EMAIL_DOMAIN", "alerts.localhost")
# Raw payloads (every request body, parsed or not) are kept this many days.
ALERTS_PAYLOAD_RETENTION_DAYS = envparse.get_int("ALERTS_PAYLOAD_RETENTION_DAYS", 30, minimum=1)
# Larger request bodies are refused with 413 (and not stored).
ALERTS_MAX_PAYLOAD_BYTES = envparse.get_int("ALERTS_MAX_PAYLOAD_BYTES", 1_048_576, minimum=1024)
