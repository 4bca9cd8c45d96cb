"""What civicdesk shares between processes through Redis: login rate limits and WeChat access tokens.

A throwaway redis-server (Debian's, installed by ``make test`` through scripts/ensure-redis.sh) is started here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from service import create_app, migrations
from service.wechat import build_gateway
from service.wechat.fake import FakeWeChatServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is missing: `make test` installs it (scripts/ensure-redis.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    directory = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def fake() -> Iterator[FakeWeChatServer]:
    with FakeWeChatServer() as server:
        yield server


def _tokens_issued(fake: FakeWeChatServer) -> int:
    response = requests.get(f"{fake.base_url}__fake__/stats", timeout=5)
    response.raise_for_status()
    issued: int = response.json()["tokens_issued"]
    return issued


def test_login_attempts_count_across_web_processes(redis_url: str, tmp_path: Path) -> None:
    """Two app instances (two gunicorn workers, or two machines) share one login limit through Redis."""
    settings = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}", "REDIS_URL": redis_url,
                "LOGIN_RATE_LIMIT": "3 per minute", "UPLOAD_DIR": str(tmp_path / "uploads")}
    first = create_app(settings, "testing")
    migrations.upgrade(first)
    second = create_app(settings, "testing")
    attempt = {"username": "nobody", "password": "wrong-password-here"}
    statuses = [app.test_client().post("/console/v1/auth/login", json=attempt).status_code
                for app in (first, second, first, second)]

    assert statuses == [401, 401, 401, 429]
    limits = redis.Redis.from_url(redis_url)
    try:
        assert limits.keys("LIMITS:LIMITER/*/console_auth.login/*"), "the counter lives in Redis"
    finally:
        limits.close()


def test_web_and_worker_gateways_share_one_access_token(redis_url: str, fake: FakeWeChatServer) -> None:
    """The web process and the worker use the token kept in Redis: neither fetches one of its own, and the
    token one of them renews after WeChat rejected it is the one the other uses next."""
    app_id = f"wx-redis-{uuid.uuid4().hex[:8]}"
    settings = {"WECHAT_APP_ID": app_id, "WECHAT_APP_SECRET": "fake-secret", "WECHAT_BASE_URL": fake.base_url,
                "WECHAT_TIMEOUT": 5, "REDIS_URL": redis_url}
    store = redis.Redis.from_url(redis_url, decode_responses=True)
    before = _tokens_issued(fake)
    try:
        with build_gateway(settings) as web, build_gateway(settings) as worker:
            assert isinstance(web.send_subscribe_message("o-redis", "tpl-redis", {"thing1": "web"}), int)
            assert isinstance(worker.send_subscribe_message("o-redis", "tpl-redis", {"thing1": "worker"}), int)
            assert _tokens_issued(fake) == before + 1
            keys = [key for key in store.keys("civicdesk-wechat*") if app_id in key]
            assert keys, "the token lives in Redis"
            first = {key: store.get(key) for key in keys}

            requests.post(f"{fake.base_url}__fake__/expire-tokens", timeout=5).raise_for_status()
            assert isinstance(worker.send_subscribe_message("o-redis", "tpl-redis", {"thing1": "renewed"}), int)
            assert _tokens_issued(fake) == before + 2
            assert {key: store.get(key) for key in keys} != first

            assert isinstance(web.send_subscribe_message("o-redis", "tpl-redis", {"thing1": "shared"}), int)
            assert _tokens_issued(fake) == before + 2, "the web process used the worker's new token"
    finally:
        store.close()
