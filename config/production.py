"""Production: every secret must come from the environment (``CIVICDESK_SECRET_KEY`` …)."""

SECRET_KEY = ""
WECHAT_BASE_URL = "https://api.weixin.qq.com/"
WECHAT_APP_ID = ""
WECHAT_APP_SECRET = ""
DEMO_PASSWORD = ""
