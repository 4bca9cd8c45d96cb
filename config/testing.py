"""Test runs: the fixtures give the database URL and the fake WeChat's address."""

SECRET_KEY = "testing-secret"
DATABASE_URL = "sqlite://"
LOGIN_RATE_LIMIT = "1000 per minute"
LOG_LEVEL = "WARNING"
LOG_JSON = True
# Cheap hashes keep the suite fast; production keeps argon2-cffi's recommended cost.
ARGON2_TIME_COST = 1
ARGON2_MEMORY_COST_KIB = 1024
