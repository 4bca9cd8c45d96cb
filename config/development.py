"""Local development: SQLite file under var/, the fake WeChat on 127.0.0.1:8001."""

SECRET_KEY = "development-only-secret"
LOG_JSON = False
