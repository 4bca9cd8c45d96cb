"""The WeChat gateway (wechatpy underneath) against the fake WeChat server, over real HTTP."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

from service.wechat import WeChatError, WeChatGateway, build_gateway
from service.wechat.fake import FakeWeChatServer

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET = "fake-secret"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeChatServer]:
    with FakeWeChatServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_leftover_failures(fake: FakeWeChatServer) -> Iterator[None]:
    yield
    requests.delete(f"{fake.base_url}__fake__/failures", timeout=5).raise_for_status()


@pytest.fixture
def app_id() -> str:
    # One appid per test: the fake is shared by the module, its tokens are per appid.
    return f"wx-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def gateway(fake: FakeWeChatServer, app_id: str) -> Iterator[WeChatGateway]:
    with WeChatGateway(app_id, SECRET, fake.base_url) as gateway:
        yield gateway


def _stats(fake: FakeWeChatServer) -> dict[str, int]:
    response = requests.get(f"{fake.base_url}__fake__/stats", timeout=5)
    response.raise_for_status()
    stats: dict[str, int] = response.json()
    return stats


def _messages(fake: FakeWeChatServer, touser: str) -> list[dict[str, Any]]:
    url = f"{fake.base_url}__fake__/subscribe-messages"
    response = requests.get(url, params={"touser": touser}, timeout=5)
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _inject_failures(fake: FakeWeChatServer, errcode: int, errmsg: str, count: int) -> None:
    response = requests.post(
        f"{fake.base_url}__fake__/failures",
        json={"errcode": errcode, "errmsg": errmsg, "count": count},
        timeout=5,
    )
    response.raise_for_status()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _openid() -> str:
    return f"o-{uuid.uuid4().hex[:12]}"


def test_dev_code_yields_openid_and_session_key(fake: FakeWeChatServer, gateway: WeChatGateway) -> None:
    before = _stats(fake)

    session = gateway.code_to_session("dev-alice")

    assert session.openid == "o-alice"
    assert len(base64.b64decode(session.session_key, validate=True)) == 16
    assert session.unionid is None
    after = _stats(fake)
    assert after["code2session_calls"] == before["code2session_calls"] + 1
    # code2session takes no access token, so logging in must not fetch one.
    assert after["tokens_issued"] == before["tokens_issued"]


def test_each_login_gets_a_new_session_key(gateway: WeChatGateway) -> None:
    first, second = gateway.code_to_session("dev-bob_2"), gateway.code_to_session("dev-bob_2")

    assert first.openid == second.openid == "o-bob_2"
    assert first.session_key != second.session_key


@pytest.mark.parametrize("code", ["", "alice", "dev-", "dev-" + "a" * 65, "dev-al ice", "DEV-alice"])
def test_bad_code_raises_wechat_error_40029(gateway: WeChatGateway, code: str) -> None:
    with pytest.raises(WeChatError) as caught:
        gateway.code_to_session(code)

    assert caught.value.errcode == 40029
    assert caught.value.errmsg == "invalid code"


def test_gateways_sharing_storage_fetch_one_stable_token(fake: FakeWeChatServer, app_id: str) -> None:
    storage = MemoryStorage()
    before = _stats(fake)

    with (
        WeChatGateway(app_id, SECRET, fake.base_url, token_storage=storage) as first,
        WeChatGateway(app_id, SECRET, fake.base_url, token_storage=storage) as second,
    ):
        first.send_subscribe_message(_openid(), "tpl-shared", {"thing1": "one"})
        second.send_subscribe_message(_openid(), "tpl-shared", {"thing1": "two"})
        token = storage.get(f"{app_id}_access_token")
        assert _stats(fake)["tokens_issued"] == before["tokens_issued"] + 1

        # A plain /cgi-bin/token call revokes the previous plain token but never a stable one, so the
        # gateway's token must survive it (it would not if the gateway used /cgi-bin/token).
        plain = requests.get(
            f"{fake.base_url}cgi-bin/token",
            params={"grant_type": "client_credential", "appid": app_id, "secret": SECRET},
            timeout=5,
        ).json()
        assert plain["access_token"] != token
        first.send_subscribe_message(_openid(), "tpl-shared", {"thing1": "three"})

    after = _stats(fake)
    assert after["tokens_issued"] == before["tokens_issued"] + 2
    assert after["sends"] == before["sends"] + 3
    assert storage.get(f"{app_id}_access_token") == token


def test_subscribe_message_is_recorded(fake: FakeWeChatServer, gateway: WeChatGateway, app_id: str) -> None:
    openid = _openid()
    started = time.time()

    msgid = gateway.send_subscribe_message(
        openid,
        "tpl-request-status",
        {"thing1": "Pothole on Elm Street", "phrase2": "Accepted"},
        page="pages/requests/detail?id=42",
    )

    items = _messages(fake, openid)
    assert len(items) == 1
    [message] = items
    assert message["msgid"] == msgid
    assert message["touser"] == openid
    assert message["appid"] == app_id
    assert message["template_id"] == "tpl-request-status"
    assert message["page"] == "pages/requests/detail?id=42"
    assert message["data"] == {"thing1": {"value": "Pothole on Elm Street"}, "phrase2": {"value": "Accepted"}}
    assert datetime.fromisoformat(message["received_at"]).timestamp() >= started - 1


def test_message_list_filters_by_touser_and_can_be_cleared(
    fake: FakeWeChatServer, gateway: WeChatGateway
) -> None:
    alice, bob = _openid(), _openid()
    first = gateway.send_subscribe_message(alice, "tpl-a", {"thing1": "a"})
    second = gateway.send_subscribe_message(bob, "tpl-b", {"thing1": "b"})

    assert second != first
    assert [m["msgid"] for m in _messages(fake, alice)] == [first]
    assert [m["msgid"] for m in _messages(fake, bob)] == [second]

    requests.delete(f"{fake.base_url}__fake__/subscribe-messages", timeout=5).raise_for_status()
    assert _messages(fake, alice) == []
    assert requests.get(f"{fake.base_url}__fake__/subscribe-messages", timeout=5).json() == {"items": []}


def test_injected_failures_surface_as_wechat_error(fake: FakeWeChatServer, gateway: WeChatGateway) -> None:
    openid = _openid()
    _inject_failures(fake, 43101, "user refuse to accept the msg", count=2)

    for _ in range(2):
        with pytest.raises(WeChatError) as caught:
            gateway.send_subscribe_message(openid, "tpl-x", {"thing1": "refused"})
        assert (caught.value.errcode, caught.value.errmsg) == (43101, "user refuse to accept the msg")
    assert _messages(fake, openid) == []

    msgid = gateway.send_subscribe_message(openid, "tpl-x", {"thing1": "accepted"})
    assert [m["msgid"] for m in _messages(fake, openid)] == [msgid]


def test_invalid_cached_token_is_refreshed_once(fake: FakeWeChatServer, app_id: str) -> None:
    storage = MemoryStorage()
    storage.set(f"{app_id}_access_token", "bogus-token")
    openid = _openid()
    before = _stats(fake)

    with WeChatGateway(app_id, SECRET, fake.base_url, token_storage=storage) as gateway:
        msgid = gateway.send_subscribe_message(openid, "tpl-retry", {"thing1": "after refresh"})

    assert [m["msgid"] for m in _messages(fake, openid)] == [msgid]
    assert storage.get(f"{app_id}_access_token") not in (None, "bogus-token")
    after = _stats(fake)
    assert after["sends"] == before["sends"] + 2  # the rejected attempt and the retry
    assert after["tokens_issued"] == before["tokens_issued"] + 1


def test_expired_token_is_refreshed_once(fake: FakeWeChatServer, gateway: WeChatGateway, app_id: str) -> None:
    gateway.send_subscribe_message(_openid(), "tpl-expiry", {"thing1": "before expiry"})
    old_token = gateway.token_storage.get(f"{app_id}_access_token")
    requests.post(f"{fake.base_url}__fake__/expire-tokens", timeout=5).raise_for_status()
    before = _stats(fake)

    openid = _openid()
    msgid = gateway.send_subscribe_message(openid, "tpl-expiry", {"thing1": "after expiry"})

    assert [m["msgid"] for m in _messages(fake, openid)] == [msgid]
    assert gateway.token_storage.get(f"{app_id}_access_token") != old_token
    after = _stats(fake)
    assert after["sends"] == before["sends"] + 2
    assert after["tokens_issued"] == before["tokens_issued"] + 1


def test_token_rejected_again_after_refresh_is_not_retried_forever(
    fake: FakeWeChatServer, gateway: WeChatGateway
) -> None:
    _inject_failures(fake, 40001, "invalid credential", count=5)
    before = _stats(fake)

    with pytest.raises(WeChatError) as caught:
        gateway.send_subscribe_message(_openid(), "tpl-loop", {"thing1": "never delivered"})

    assert caught.value.errcode == 40001
    after = _stats(fake)
    assert after["sends"] == before["sends"] + 2
    assert after["pending_failures"] == 3


def test_unreachable_wechat_is_errcode_minus_one(app_id: str) -> None:
    with WeChatGateway(app_id, SECRET, f"http://127.0.0.1:{_free_port()}", timeout=2) as gateway:
        with pytest.raises(WeChatError) as login:
            gateway.code_to_session("dev-alice")
        with pytest.raises(WeChatError) as send:
            gateway.send_subscribe_message(_openid(), "tpl", {"thing1": "x"})

    assert login.value.errcode == send.value.errcode == -1
    assert "ConnectionError" in login.value.errmsg


def test_build_gateway_from_settings(fake: FakeWeChatServer, app_id: str) -> None:
    settings = {
        "WECHAT_APP_ID": app_id,
        "WECHAT_APP_SECRET": SECRET,
        "WECHAT_BASE_URL": fake.base_url.rstrip("/"),
        "REDIS_URL": "",
    }

    with build_gateway(settings) as gateway:
        assert gateway.base_url == fake.base_url
        assert isinstance(gateway.token_storage, MemoryStorage)
        assert gateway.code_to_session("dev-dora").openid == "o-dora"
        assert isinstance(gateway.send_subscribe_message(_openid(), "tpl-settings", {"thing1": "ok"}), int)


def test_build_gateway_keeps_tokens_in_redis_when_configured(fake: FakeWeChatServer, app_id: str) -> None:
    settings = {
        "WECHAT_APP_ID": app_id,
        "WECHAT_APP_SECRET": SECRET,
        "WECHAT_BASE_URL": fake.base_url,
        "WECHAT_TIMEOUT": 3,
        "REDIS_URL": "redis://127.0.0.1:6399/5",
    }

    with build_gateway(settings) as gateway:
        storage = gateway.token_storage
        assert isinstance(storage, RedisStorage)
        assert storage.prefix == "civicdesk-wechat"
        assert storage.redis.connection_pool.connection_kwargs["db"] == 5
        storage.redis.close()


def test_fake_runs_as_a_module() -> None:
    port = _free_port()
    command = [sys.executable, "-m", "service.wechat.fake", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base_url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                stats = requests.get(f"{base_url}__fake__/stats", timeout=1).json()
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert stats["tokens_issued"] == 0
        with WeChatGateway("wx-module", SECRET, base_url) as gateway:
            assert gateway.code_to_session("dev-erin").openid == "o-erin"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)

    assert f"listening on {base_url}" in stderr
