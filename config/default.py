"""Settings shared by every environment."""

import os

SECRET_KEY = "change-me"
# SQLAlchemy URL; SQLite for a single machine, ``postgresql+psycopg://…`` in production.
DATABASE_URL = "sqlite:///" + os.path.abspath("var/civicdesk.sqlite3")
SQLITE_BUSY_TIMEOUT_MS = 15000
# SQLite: write-ahead log pages after which a commit copies them into the database file.
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10000
# SQLite: page size in bytes of a database file when it is created (one that exists keeps its own).
SQLITE_PAGE_SIZE = 2048
# A pooled PostgreSQL connection idle for longer than this is pinged before use (0: every checkout).
DATABASE_PING_AFTER_IDLE_SECONDS = 2.0
# PostgreSQL: the direct statements (actions, submissions) are prepared once per connection, then only bound.
# Off behind a pooler that hands a transaction any server connection (PgBouncer's transaction mode).
DATABASE_PREPARED_STATEMENTS = True
TIME_ZONE = "Asia/Shanghai"
UPLOAD_DIR = os.path.abspath("var/uploads")
MAX_CONTENT_LENGTH = 20 * 1024 * 1024
# Largest uploaded file (413 above it); a material of a service may allow less.
ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024
REDIS_URL = ""
# Key of the pseudonyms residents get in the exported event log (OCEL); empty: derived from SECRET_KEY.
EXPORT_PSEUDONYM_KEY = ""

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
# Feeds of the published notices: their title and description, how many notices they hold by default, how long
# readers and proxies may cache them, and where a notice's page is ({base}: the site root, {id}: the notice's id).
FEED_TITLE = "civicdesk 政务公开"
FEED_DESCRIPTION = "通知公告、政策文件、政策解读和公示公告"
FEED_SIZE = 50
FEED_CACHE_SECONDS = 300
NOTICE_URL_TEMPLATE = "{base}mp/v1/notices/{id}"

# --- the worker (`civicdesk worker`): outbox delivery and scheduled jobs ---
# How often the worker looks for messages to deliver, and how many it takes at a time.
WORKER_POLL_SECONDS = 2.0
OUTBOX_BATCH_SIZE = 20
# A claimed message is the claimer's for this long; a worker that died gives it up when this runs out. A worker
# only starts a delivery while at least half of its claim is left (a staff channel call: a quarter), so two live
# workers never hold one message; delivery is still at least once (a takeover after a worker died mid-send).
OUTBOX_LEASE_SECONDS = 300
# Failed deliveries are retried after OUTBOX_BACKOFF_SECONDS, doubling each time up to OUTBOX_BACKOFF_MAX_SECONDS,
# and dead-lettered after OUTBOX_MAX_ATTEMPTS attempts (`civicdesk outbox retry` sends them again). An attempt is
# counted when a worker claims the message, so one whose workers die or hang on it is dead-lettered too.
OUTBOX_MAX_ATTEMPTS = 8
OUTBOX_BACKOFF_SECONDS = 30
OUTBOX_BACKOFF_MAX_SECONDS = 6 * 3600
# Delivered, skipped and refused messages are deleted after this many days (0: kept for ever), except deadline
# notices while their request is open and supervision reminders while it has an unresolved supervision.
OUTBOX_RETENTION_DAYS = 90
# How often reminders, overdue notices and escalations are looked for; publication of scheduled notices; clean-up.
REMINDER_INTERVAL_SECONDS = 300
NOTICE_PUBLICATION_INTERVAL_SECONDS = 60
CLEANUP_INTERVAL_SECONDS = 3600
# An overdue step is escalated to the department's supervisors at once, then one level up the department tree
# every ESCALATION_WORKING_DAYS working days it stays overdue.
ESCALATION_WORKING_DAYS = 2
# Where staff notifications go besides the console: "log" (the default), or "package.module:factory" of an
# adapter (SMS, e-mail) taking the settings and returning an object with send(recipient, notification, key).
STAFF_NOTIFICATION_CHANNEL = "log"
