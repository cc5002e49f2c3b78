"""Settings, read from the environment in this one place (django-environ).

Defaults make `make run` work on a laptop: with DATABASE_URL / CELERY_BROKER_URL
unset, the embedded PostgreSQL+pgvector and Valkey under var/ are started (or
attached to). Production sets them, SECRET_KEY and ALLOWED_HOSTS explicitly.
"""

from __future__ import annotations

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from facerec_site import embedded, environment
from facerec_site.addresses import is_loopback, redis_cache_location
from facerec_site.local_keys import load_photo_keys, local_secret_key
from facerec_site.log_filters import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The environment, then .env (or FACEREC_ENV_FILE): the same reading embedded.ensure_started made.
environment.load()
from facerec_site.settings_outbound import *  # noqa: E402, F403 (FACEREC_WEBHOOK_*, FACEREC_METRICS_TOKEN)
from facerec_site.settings_cameras import *  # noqa: E402, F403 (FACEREC_CAMERA_*, FACEREC_SIGHTING_*, ...)

# Created where first written (the keys below, the embedded servers, the storage), not here.
VAR_DIR = Path(env.str("FACEREC_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

_INSECURE_KEY_HINTS = ("django-insecure", "changeme", "change-me", "secret")
SECRET_KEY = env.str("SECRET_KEY", default="")
if not DEBUG:
    if "*" in ALLOWED_HOSTS or not ALLOWED_HOSTS:
        raise ImproperlyConfigured("With DEBUG off, set ALLOWED_HOSTS to the site's real host names (not '*').")
    if not SECRET_KEY:
        if not all(is_loopback(h) for h in ALLOWED_HOSTS):
            raise ImproperlyConfigured("With DEBUG off and a public ALLOWED_HOSTS, set SECRET_KEY (50+ random chars).")
        SECRET_KEY = local_secret_key(VAR_DIR / "secret_key")
    elif len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.lower().startswith(_INSECURE_KEY_HINTS):
        raise ImproperlyConfigured("SECRET_KEY is too weak for DEBUG off: use 50+ random characters.")
elif not SECRET_KEY:
    SECRET_KEY = local_secret_key(VAR_DIR / "secret_key")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files: no CDN, strict CSP
    "facerec_site",
    "core",
    "audit",
    "accounts",
    "webhooks",
    "identities",
    "recognition",
    "evaluation",
    "reenrollment",
    "videos",
    "cameras",
    "enrollment",
    "monitoring",
    "django_celery_beat",
]

MIDDLEWARE = [
    "monitoring.middleware.RequestMetricsMiddleware",  # outermost: counts every answer, 503s and 413s too
    "django.middleware.security.SecurityMiddleware",
    "facerec_site.security.SecurityHeadersMiddleware",  # CSP, Permissions-Policy (static files too)
    # A body over FACEREC_MAX_REQUEST_BYTES is refused from its Content-Length, unread (413);
    # page uploads get the per-file limit while they are received.
    "core.upload_limits.UploadLimitsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files under gunicorn
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.request_context.RequestContextMiddleware",
    "core.db_errors.DatabaseUnavailableMiddleware",  # database down: 503 + Retry-After, not 500
]

ROOT_URLCONF = "facerec_site.urls"
WSGI_APPLICATION = "facerec_site.wsgi.application"

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
                "accounts.context_processors.capabilities",
            ],
        },
    },
]

# --- Database: external when DATABASE_URL is set, embedded otherwise -------------
DATABASE_URL = env.str("DATABASE_URL", default="") or embedded.postgres_url(VAR_DIR / "pgdata")
_db = environ.Env.db_url_config(DATABASE_URL)
if "host" in _db.get("OPTIONS", {}):  # Unix-socket URL: postgresql://user@/name?host=/dir
    _db["HOST"] = _db["OPTIONS"].pop("host")
_db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
_db["CONN_HEALTH_CHECKS"] = True  # a pooled connection that died with the server is replaced, not reused
# An unreachable server (dropped packets) fails a request within seconds instead of hanging it.
_db.setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT_S", default=5))
# Separate test databases let two test runs share one server (pytest-django uses this).
_db["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="") or None}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery: app in facerec_site/celery.py reads the CELERY_* names ---------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or embedded.valkey_url(VAR_DIR / "valkey")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = 7 * 24 * 3600  # job status stays visible for a week
CELERY_TASK_ACKS_LATE = True  # a task a dying worker held is redelivered
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker outage must not hold up an upload: publishing gives up after ~0.5 s (the photo
# stays `pending`, the sweeper queues it later), and so does the result backend's
# subscription that apply_async makes (its default retries for ~20 s, then raises).
_FAIL_FAST = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT_S", default=2.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = _FAIL_FAST
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = CELERY_BROKER_CONNECTION_TIMEOUT
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": _FAIL_FAST}
# A message its worker has not acknowledged for this long is handed out again (Redis brokers). Tasks
# acknowledge when done, so it must exceed the longest task and countdown (FACEREC_RETRAIN_MAX_WAIT_S)
# or a running task gets a second copy; only the fallback: the recovery sweep below acts in seconds.
CELERY_VISIBILITY_TIMEOUT_S = env.int("CELERY_VISIBILITY_TIMEOUT_S", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT_S}
CELERY_TIMEZONE = "UTC"
# Beat keeps its schedules in the database (django-celery-beat; staff edit them in the admin): the
# schedule below is written there when beat starts, for each job not there yet (facerec_site/beat.py).
CELERY_BEAT_SCHEDULER = "facerec_site.beat:SeededDatabaseScheduler"
# The recovery sweep (facerec_site.recovery): what a dead worker held is handed on within
# this interval plus a few seconds (a photo or report held by a killed worker: under 60 s).
FACEREC_RECOVERY_INTERVAL_S = env.float("FACEREC_RECOVERY_INTERVAL_S", default=15.0)
# The weekly enrolled-data report (Monday 03:00 UTC) is scheduled but off unless this is set (or staff
# switch it on in the admin's Periodic tasks).
FACEREC_WEEKLY_REPORT = env.bool("FACEREC_WEEKLY_REPORT", default=False)
CELERY_BEAT_SCHEDULE = {
    # A sweep that waited a whole interval (every worker busy) is dropped: the next one does its job.
    "recover-lost-work": {"task": "facerec_site.tasks.recover_lost_work", "schedule": FACEREC_RECOVERY_INTERVAL_S,
                          "options": {"expire_seconds": FACEREC_RECOVERY_INTERVAL_S}},
    "erase-due-identities": {"task": "identities.tasks.erase_due_identities", "schedule": 3600.0},
    "expire-consents": {"task": "reenrollment.tasks.expire_consents", "schedule": crontab(minute=30, hour=1)},
    "check-reenrollment": {"task": "reenrollment.tasks.check_reenrollment", "schedule": crontab(minute=0, hour=2)},
    **WEBHOOK_BEAT_SCHEDULE,  # noqa: F405
    "expire-video-results": {"task": "videos.tasks.expire_video_results", "schedule": crontab(minute=45, hour=1)},
    **CAMERA_BEAT_SCHEDULE,  # noqa: F405 (sightings and unknown crops expire)
    "weekly-enrolled-report": {
        "task": "evaluation.tasks.scheduled_enrolled_report", "schedule": crontab(minute=0, hour=3, day_of_week=1),
        "enabled": FACEREC_WEEKLY_REPORT},  # a django-celery-beat field, set when the job is first written
}
# Embedding work (MTCNN + FaceNet) goes to the `gpu` queue: start those workers on
# machines with an accelerator (`celery worker -Q gpu`); everything else is `default`.
GPU_QUEUE = "gpu"
CELERY_TASK_ROUTES = {
    "recognition.tasks.embed_*": {"queue": GPU_QUEUE},
    "identities.tasks.process_enrollment_image": {"queue": GPU_QUEUE},
    "videos.tasks.process_video": {"queue": GPU_QUEUE},
    "evaluation.tasks.run_report": {"queue": GPU_QUEUE},  # benchmark reports embed whole dataset folders
}

# --- Cache: login lockout and API throttle counters, shared by all web processes ------
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache_url("CACHE_URL")}
elif _cache_location := redis_cache_location(CELERY_BROKER_URL, env.int("FACEREC_CACHE_DB", default=2)):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_location,
                          "KEY_PREFIX": "facerec"}}
else:  # a non-Redis broker: counters are then per process
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth, i18n, static, media -----------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
FACEREC_ADMIN_USERNAME = env.str("FACEREC_ADMIN_USERNAME", default="admin")
FACEREC_ADMIN_PASSWORD = env.str("FACEREC_ADMIN_PASSWORD", default="")
FACEREC_ADMIN_EMAIL = env.str("FACEREC_ADMIN_EMAIL", default="admin@localhost")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))  # made by collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Not the manifest variant: pages must render before `collectstatic` ran (tests, manage.py).
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Face photos are biometric data: MEDIA_ROOT is private storage, never served by URL.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# ... and encrypted at rest (identities/storage.py): Fernet keys, comma-separated, current
# first (the others only decrypt, until `manage.py rotate_photo_keys` has run). A site
# only reachable locally generates one into var/photo_keys; a public site must set them.
# FACEREC_PHOTO_ENCRYPTION=false (a deployment encrypting the disk itself) writes new photos
# as plain images, which FACEREC_MEDIA_ACCEL_REDIRECT lets the web server send; the keys
# are then optional and only decrypt files encrypted before.
FACEREC_PHOTO_ENCRYPTION = env.bool("FACEREC_PHOTO_ENCRYPTION", default=True)
FACEREC_PHOTO_KEYS = load_photo_keys(env.list("FACEREC_PHOTO_KEYS", default=[]), key_file=VAR_DIR / "photo_keys",
                                     local_only=all(is_loopback(h) for h in ALLOWED_HOSTS),
                                     required=FACEREC_PHOTO_ENCRYPTION)
# The photo view hands plain files to nginx with `X-Accel-Redirect: <this prefix><storage name>` (an
# `internal` location aliasing MEDIA_ROOT/private/, see README); Django sends encrypted ones (and all if empty).
FACEREC_MEDIA_ACCEL_REDIRECT = env.str("FACEREC_MEDIA_ACCEL_REDIRECT", default="")

REST_FRAMEWORK = {
    # Tokens first: an anonymous API call gets 401 with `WWW-Authenticate: Bearer realm="api"`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON with a nesting limit and no non-finite numbers; uploads name MultiPartParser themselves.
    "DEFAULT_PARSER_CLASSES": ["facerec_site.parsers.LimitedJSONParser"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Rates are read per request from the FACEREC_API_*_RATE settings below.
    "DEFAULT_THROTTLE_CLASSES": [
        "facerec_site.throttling.UserRateThrottle",
        "facerec_site.throttling.AnonRateThrottle",
        "facerec_site.throttling.RecognitionRateThrottle",
    ],
    # Reverse proxies appending to X-Forwarded-For; 0 trusts only REMOTE_ADDR (DRF's None lets a client pick).
    "NUM_PROXIES": env.int("FACEREC_NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "facerec API",
    "DESCRIPTION": "People, consent, enrollment photos, review and the audit log. Authenticate with a session "
                   "or an API token (`Authorization: Bearer <token>`, made by an administrator). "
                   "Errors are {\"error\": {\"code\", \"message\", \"fields\"}}.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # Swagger UI from drf-spectacular-sidecar's static files, so /api/docs/ works offline
    # and under the site's Content-Security-Policy (script-src 'self').
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation documents 429 (throttled) and 503 (database unavailable) with Retry-After.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "facerec_site.schema.document_retry_responses"],
    "ENUM_NAME_OVERRIDES": {
        "IdentityStatusEnum": "identities.models.Identity.Status",
        "PhotoStatusEnum": "identities.models.EnrollmentImage.Status",
        "ConsentGivenByEnum": "identities.models.Consent.GivenBy",
        "ReportKindEnum": "evaluation.models.EvaluationReport.Kind",
        "ReportStatusEnum": "evaluation.models.EvaluationReport.Status",
        "ReenrollmentStatusEnum": "reenrollment.models.ReenrollmentRequest.Status",
        "ReenrollmentReasonEnum": "reenrollment.models.ReenrollmentRequest.Reason",
        "ApiTokenStateEnum": "accounts.models.ApiToken.State",
    },
}

# --- Security: secure defaults whenever DEBUG is off -----------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)  # usually the proxy's job
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE_S", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=True)
# No JavaScript reads the CSRF cookie: forms carry {% csrf_token %}, Swagger UI gets the token in its init script.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
# HSTS is only sent on HTTPS responses, so it is harmless on a local http site.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sent on every response by facerec_site.security.SecurityHeadersMiddleware. Inline styles
# stay allowed: templates use style="" attributes and Swagger UI sets styles at run time;
# no inline script anywhere (Swagger UI's init script is its own URL).
FACEREC_CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "img-src 'self' data:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'self'",
])
FACEREC_PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=()"
# Login lockout (facerec_site.security): this many failed logins for one username, or from
# one client address, within the window refuse further attempts until the window ends.
FACEREC_LOGIN_MAX_FAILURES = env.int("FACEREC_LOGIN_MAX_FAILURES", default=5)
FACEREC_LOGIN_MAX_FAILURES_PER_IP = env.int("FACEREC_LOGIN_MAX_FAILURES_PER_IP", default=FACEREC_LOGIN_MAX_FAILURES)
FACEREC_LOGIN_LOCKOUT_S = env.int("FACEREC_LOGIN_LOCKOUT_S", default=900)
# API throttles (facerec_site.throttling), "<count>/<sec|min|hour|day>": per user or token,
# per client address for anonymous calls, and per user for identify/verify (model work).
FACEREC_API_RATE = env.str("FACEREC_API_RATE", default="120/min")
FACEREC_API_ANON_RATE = env.str("FACEREC_API_ANON_RATE", default="30/min")
FACEREC_API_RECOGNITION_RATE = env.str("FACEREC_API_RECOGNITION_RATE", default="30/min")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

# --- Face recognition ------------------------------------------------------------
# The values these may take, and the check that refuses others at start-up: recognition.configuration.
FACEREC_DEVICE = env.str("FACEREC_DEVICE", default="auto")  # auto, cpu or cuda
FACEREC_WEIGHTS = env.str("FACEREC_WEIGHTS", default="casia-webface")
FACEREC_MODELS_DIR = Path(env.str("FACEREC_MODELS_DIR", default=str(VAR_DIR / "models")))
FACEREC_EMBEDDING_BACKEND = env.str("FACEREC_EMBEDDING_BACKEND", default="auto")  # auto, torch, onnx, onnx-int8
FACEREC_EMBEDDING_BATCH_SIZE = env.int("FACEREC_EMBEDDING_BATCH_SIZE", default=32)
# MTCNN box crop: margin 32 px at 160 px, measured best on LFW View 1 (see issue 3 notes).
FACEREC_CROP_SIZE = env.int("FACEREC_CROP_SIZE", default=160)
FACEREC_CROP_MARGIN = env.int("FACEREC_CROP_MARGIN", default=32)
# Smallest face (px) MTCNN's image pyramid looks for. Unset: derived from the quality
# minimum below (28.2 px for 40), so detection skips the pyramid levels that would only find
# faces too small to enroll or to identify reliably, about a third of its work.
FACEREC_MIN_DETECT_FACE_PX = env.float("FACEREC_MIN_DETECT_FACE_PX", default=None)  # 12 or more
# Enrollment quality limits (recognition.pipeline.quality.QualityThresholds; defaults
# calibrated on LFW and ORL, see that module).
FACEREC_QUALITY = {
    "min_face_px": env.float("FACEREC_QUALITY_MIN_FACE_PX", default=40.0),
    "min_probability": env.float("FACEREC_QUALITY_MIN_PROBABILITY", default=0.95),
    "min_sharpness": env.float("FACEREC_QUALITY_MIN_SHARPNESS", default=15.0),
    "max_roll_deg": env.float("FACEREC_QUALITY_MAX_ROLL_DEG", default=25.0),
    "max_yaw_ratio": env.float("FACEREC_QUALITY_MAX_YAW_RATIO", default=0.40),
    # review: a photo with several people goes to review with the face most likely the person's
    # chosen, and the reviewer may pick another; single: such a photo is refused; largest: the largest.
    "policy": env.str("FACEREC_QUALITY_FACE_POLICY", default="review"),
}
# Passive liveness: off, report or enforce (recognition.configuration.LIVENESS_POLICIES says what each does).
FACEREC_LIVENESS = env.str("FACEREC_LIVENESS", default="report")
# Score at or above which a face counts as live; unset: the default calibrated on LFW and ORL.
FACEREC_LIVENESS_THRESHOLD = env.float("FACEREC_LIVENESS_THRESHOLD", default=None)
# Consent withdrawal deactivates templates at once; erasure follows after this many days.
FACEREC_ERASE_AFTER_WITHDRAWAL_DAYS = env.int("FACEREC_ERASE_AFTER_WITHDRAWAL_DAYS", default=0)
# /healthz turns unhealthy when a queue's oldest message has waited longer than this.
FACEREC_QUEUE_MAX_WAIT_S = env.int("FACEREC_QUEUE_MAX_WAIT_S", default=600)
# The recovery sweep also re-queues photos pending (their message lost: the broker was down at
# upload) or processing (a hung worker) for longer than this.
FACEREC_REQUEUE_PENDING_AFTER_S = env.int("FACEREC_REQUEUE_PENDING_AFTER_S", default=300)
FACEREC_REQUEUE_PROCESSING_AFTER_S = env.int("FACEREC_REQUEUE_PROCESSING_AFTER_S", default=900)
# ... unless it was stuck in processing this many times: then it is set aside as failed
# (processing_crashed), so a photo that kills the worker is not sent to it forever.
FACEREC_MAX_PROCESSING_ATTEMPTS = env.int("FACEREC_MAX_PROCESSING_ATTEMPTS", default=3)
# Verify and identify thresholds apply to calibrated scores (recognition/pipeline/calibration.py):
# with no value set here (and none applied from a report), they come from the impostor
# distribution shipped with the weights: verify at FACEREC_TARGET_FAR per comparison (a
# claimed person's several templates accounted for), identify at FACEREC_TARGET_FPIR
# whatever the gallery's size. A value set here is used instead, on the same scale.
# Weights without a calibration score plain cosine similarity (recognition.selectors.UNCALIBRATED_THRESHOLD).
FACEREC_VERIFY_THRESHOLD = env.float("FACEREC_VERIFY_THRESHOLD", default=None)
FACEREC_IDENTIFY_THRESHOLD = env.float("FACEREC_IDENTIFY_THRESHOLD", default=None)
# pgvector's hnsw.ef_search for identify's nearest-template search (recall against latency).
# Unset: from the gallery's size (recognition.selectors.hnsw_ef_search): 100 up to 100,000
# templates, 100 more per 100,000 beyond, at most 400.
FACEREC_HNSW_EF_SEARCH = env.int("FACEREC_HNSW_EF_SEARCH", default=None)  # 1 to 1000
FACEREC_MIN_PHOTOS_PER_IDENTITY = env.int("FACEREC_MIN_PHOTOS_PER_IDENTITY", default=2)
# Retrains are debounced: one runs once approvals have paused this long, or at the latest
# FACEREC_RETRAIN_MAX_WAIT_S after the first request it serves (a bulk enrollment trains
# once or a few times, not once per approval). An erasure retrains at once.
FACEREC_RETRAIN_DELAY_S = env.int("FACEREC_RETRAIN_DELAY_S", default=30)
FACEREC_RETRAIN_MAX_WAIT_S = env.int("FACEREC_RETRAIN_MAX_WAIT_S", default=600)
FACEREC_CLASSIFIERS_DIR = Path(env.str("FACEREC_CLASSIFIERS_DIR", default=str(MEDIA_ROOT / "classifiers")))
FACEREC_MAX_UPLOAD_BYTES = env.int("FACEREC_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
FACEREC_MAX_IMAGE_PIXELS = env.int("FACEREC_MAX_IMAGE_PIXELS", default=40_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = FACEREC_MAX_UPLOAD_BYTES + 1024 * 1024
# Photos in one upload, on the pages and through the API.
FACEREC_MAX_PHOTOS_PER_UPLOAD = env.int("FACEREC_MAX_PHOTOS_PER_UPLOAD", default=20)
# The largest request body, refused from its Content-Length before any of it is read
# (core.upload_limits): a full photo upload (FACEREC_MAX_PHOTOS_PER_UPLOAD files of
# FACEREC_MAX_UPLOAD_BYTES) and 1 MiB for the other fields and the framing.
FACEREC_MAX_REQUEST_BYTES = env.int("FACEREC_MAX_REQUEST_BYTES",
                                    default=FACEREC_MAX_PHOTOS_PER_UPLOAD * FACEREC_MAX_UPLOAD_BYTES + 1024 * 1024)

# --- Video files: the largest upload (refused while received), frames looked at per second, days kept
FACEREC_MAX_VIDEO_BYTES = env.int("FACEREC_MAX_VIDEO_BYTES", default=512 * 1024 * 1024)
FACEREC_VIDEO_SAMPLE_FPS = env.float("FACEREC_VIDEO_SAMPLE_FPS", default=5.0)
FACEREC_VIDEO_RESULT_DAYS = env.int("FACEREC_VIDEO_RESULT_DAYS", default=30)

# --- Re-enrollment policy (per-identity overrides in the admin) ----------------------
FACEREC_REENROLL_MAX_TEMPLATE_AGE_DAYS = env.int("FACEREC_REENROLL_MAX_TEMPLATE_AGE_DAYS", default=730)
FACEREC_REENROLL_MIN_ACTIVE_PHOTOS = env.int("FACEREC_REENROLL_MIN_ACTIVE_PHOTOS", default=2)
# After a re-enrollment the newest this many approved photos stay templates; older ones retire.
FACEREC_REENROLL_MAX_ACTIVE_PHOTOS = env.int("FACEREC_REENROLL_MAX_ACTIVE_PHOTOS", default=5)
FACEREC_REENROLL_DUE_DAYS = env.int("FACEREC_REENROLL_DUE_DAYS", default=30)
# Drift: the median of an identity's last DRIFT_WINDOW successful match similarities
# falling more than DRIFT_MARGIN below the median similarity between its own templates.
FACEREC_DRIFT_WINDOW = env.int("FACEREC_DRIFT_WINDOW", default=10)
FACEREC_DRIFT_MARGIN = env.float("FACEREC_DRIFT_MARGIN", default=0.15)
FACEREC_CONSENT_EXPIRY_GRACE_DAYS = env.int("FACEREC_CONSENT_EXPIRY_GRACE_DAYS", default=30)
# Audit log checkpoints (manage.py verify_audit_log): signed with this key (empty: one derived from
# SECRET_KEY) and kept in this file, outside the database, so a cut tail or rewritten chain shows.
FACEREC_AUDIT_KEY = env.str("FACEREC_AUDIT_KEY", default="")
FACEREC_AUDIT_CHECKPOINT = Path(env.str("FACEREC_AUDIT_CHECKPOINT", default=str(VAR_DIR / "audit_checkpoint.json")))

# Notices to people (re-enrollment, consent expiry): the console by default; SMTP (EMAIL_HOST...) in production.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="facerec@localhost")

# --- Target rates -----------------------------------------------------------------
# The default verify threshold keeps one claim's false accept rate at FACEREC_TARGET_FAR,
# the default identify threshold the share of strangers answered as someone at
# FACEREC_TARGET_FPIR (0.5%: measured on a few hundred strangers, a 1% target would come
# out above 1% half the time); reports recommend thresholds for the same rates.
FACEREC_TARGET_FAR = env.float("FACEREC_TARGET_FAR", default=1e-3)
FACEREC_TARGET_FPIR = env.float("FACEREC_TARGET_FPIR", default=5e-3)
# Benchmark reports read datasets only under these roots (../shared/data: the development set).
FACEREC_DATASET_ROOTS = env.list("FACEREC_DATASET_ROOTS", default=[
    str(path) for path in (VAR_DIR / "datasets", BASE_DIR.parent / "shared" / "data") if path.is_dir()])

LOGGING = logging_config(level=env.str("LOG_LEVEL", default="INFO"))
