"""Argon2 password hashing (argon2-cffi), with the cost taken from the settings."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_LENGTH = 10


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(time_cost=int(config["ARGON2_TIME_COST"]),
                          memory_cost=int(config["ARGON2_MEMORY_COST_KIB"]))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


_DUMMY: dict[str, str] = {}


def burn_time(password: str) -> None:
    """Spend the time a real verification takes, so unknown usernames can't be told apart by timing."""
    key = f"{current_app.config['ARGON2_TIME_COST']}:{current_app.config['ARGON2_MEMORY_COST_KIB']}"
    if key not in _DUMMY:
        _DUMMY[key] = hash_password("civicdesk-dummy-password")
    verify_password(_DUMMY[key], password)
