"""Rate limits (flask-limiter): in memory on one machine, Redis when ``CIVICDESK_REDIS_URL`` is set."""

from __future__ import annotations

import time

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Rate-limit headers only on the 429 itself (see service.core.errors): a Retry-After on every login response
# would tell clients to wait when they need not.
limiter = Limiter(key_func=get_remote_address, headers_enabled=False)


def retry_after_seconds() -> int | None:
    """Seconds until the limit the current request broke resets."""
    current = limiter.current_limit
    if current is None:
        return None
    return max(1, int(current.reset_at - time.time()))


def init_rate_limits(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    limiter.init_app(app)
