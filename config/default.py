"""Settings shared by every environment."""

import os

SECRET_KEY = "change-me"
# SQLAlchemy URL; SQLite for a single machine, ``postgresql+psycopg://…`` in production.
DATABASE_URL = "sqlite:///" + os.path.abspath("var/civicdesk.sqlite3")
SQLITE_BUSY_TIMEOUT_MS = 15000
TIME_ZONE = "Asia/Shanghai"
UPLOAD_DIR = os.path.abspath("var/uploads")
MAX_CONTENT_LENGTH = 20 * 1024 * 1024
# Largest uploaded file (413 above it); a material of a service may allow less.
ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024
REDIS_URL = ""

WECHAT_APP_ID = "wx-civicdesk-dev"
WECHAT_APP_SECRET = "dev-secret"
WECHAT_BASE_URL = "http://127.0.0.1:8001/"
WECHAT_TIMEOUT = 5.0

TOKEN_TTL_SECONDS = 7 * 24 * 3600
STAFF_TOKEN_TTL_SECONDS = 12 * 3600
LOGIN_MAX_FAILURES = 5
LOGIN_LOCKOUT_SECONDS = 15 * 60
LOGIN_RATE_LIMIT = "30 per minute"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
# A retry finding its key still "processing" after this long may take it over (the first attempt died).
IDEMPOTENCY_LOCK_SECONDS = 60
PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100

LOG_LEVEL = "INFO"
LOG_JSON = True
DEMO_PASSWORD = "civicdesk-demo"

# Number of proxies in front of the app whose X-Forwarded-For to trust (0: none).
PROXY_FIX_X_FOR = 0
ARGON2_TIME_COST = 3
ARGON2_MEMORY_COST_KIB = 65536
# How often a worker checks whether administrators changed the working-day calendar.
CALENDAR_REFRESH_SECONDS = 5
# Working days a department has to answer a rating of 1 or 2 (差评整改).
FOLLOW_UP_WORKING_DAYS = 5
# How long a worker trusts its cached department directory (changes made by the worker itself show at once).
DIRECTORY_REFRESH_SECONDS = 5
# The department that answers residents' consultations (咨询) first; its code.
CONSULTATION_DEPARTMENT = "service-center"
# Subscribe-message templates (订阅消息) the mini program may ask residents to accept, by the event they announce:
# WeChat's template id and its title. The ids here are development placeholders; set the real ones with
# CIVICDESK_WECHAT_SUBSCRIBE_TEMPLATES as JSON ({"request_accepted": {"id": "…", "title": "…"}, …}).
WECHAT_SUBSCRIBE_TEMPLATES = {
    "request_accepted": {"id": "tmpl-request-accepted", "title": "办件受理通知"},
    "materials_requested": {"id": "tmpl-materials-requested", "title": "补正材料通知"},
    "request_completed": {"id": "tmpl-request-completed", "title": "办件办结通知"},
    "request_rejected": {"id": "tmpl-request-rejected", "title": "办件不予受理通知"},
    "consultation_answered": {"id": "tmpl-consultation-answered", "title": "咨询答复通知"},
    "follow_up_answered": {"id": "tmpl-follow-up-answered", "title": "差评整改反馈通知"},
}
# A claim (签收) lapses when the claimer has not acted for this many hours (0: claims never lapse).
CLAIM_TIMEOUT_HOURS = 24
