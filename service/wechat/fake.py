"""Local fake of WeChat's server API (tokens, code2session, subscribe messages) for development and tests."""

from __future__ import annotations

import argparse
import base64
import itertools
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

logger = logging.getLogger(__name__)

TOKEN_TTL_SECONDS = 7200
_DEV_CODE = re.compile(r"dev-([A-Za-z0-9_-]{1,64})")


@dataclass
class _Token:
    appid: str
    expires_at: float


@dataclass
class _FakeState:
    credentials: Mapping[str, str] | None
    token_ttl: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, _Token] = field(default_factory=dict)
    # WeChat keeps the two token kinds apart: a new /cgi-bin/token never invalidates a stable token.
    plain_token: dict[str, str] = field(default_factory=dict)
    stable_token: dict[str, str] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    failures: deque[tuple[int, str]] = field(default_factory=deque)
    msgids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    tokens_issued: int = 0
    code2session_calls: int = 0
    sends: int = 0

    def issue_token(self, appid: str) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = _Token(appid, time.time() + self.token_ttl)
        self.tokens_issued += 1
        return token

    def is_live(self, token: str | None) -> bool:
        found = self.tokens.get(token or "")
        return found is not None and found.expires_at > time.time()


def _json_body() -> Any:
    # wechatpy posts JSON without a Content-Type header, which WeChat accepts.
    return request.get_json(force=True, silent=True)


def _error(errcode: int, errmsg: str) -> Response:
    # WeChat reports errors in the body with HTTP 200.
    return jsonify(errcode=errcode, errmsg=errmsg)


def _check_credentials(state: _FakeState, appid: str | None, secret: str | None) -> Response | None:
    if not appid:
        return _error(41002, "appid missing")
    if not secret:
        return _error(41004, "appsecret missing")
    if state.credentials is not None:
        if appid not in state.credentials:
            return _error(40013, "invalid appid")
        if state.credentials[appid] != secret:
            return _error(40125, "invalid appsecret")
    return None


def _token_response(state: _FakeState, token: str) -> Response:
    remaining = round(state.tokens[token].expires_at - time.time())
    return jsonify(access_token=token, expires_in=max(remaining, 0))


def _valid_subscribe_body(body: Any) -> Response | None:
    if not isinstance(body, dict):
        return _error(47001, "data format error")
    if not isinstance(body.get("touser"), str) or not body["touser"]:
        return _error(40003, "invalid openid")
    if not isinstance(body.get("template_id"), str) or not body["template_id"]:
        return _error(40037, "invalid template_id")
    data = body.get("data")
    if not isinstance(data, dict) or not all(
        isinstance(item, dict) and isinstance(item.get("value"), str) for item in data.values()
    ):
        return _error(47003, "argument invalid! data.value invalid")
    return None


def create_fake_app(
    credentials: Mapping[str, str] | None = None, token_ttl: int = TOKEN_TTL_SECONDS
) -> Flask:
    """Return a fresh fake with its own state; wechatpy talks to it as to ``https://api.weixin.qq.com/``.

    The ``/__fake__/*`` endpoints inspect it (messages, stats) and steer it (failures, token expiry).

    ``credentials`` maps appid to secret; when it is None every appid/secret pair is accepted.
    """
    app = Flask(__name__)
    state = _FakeState(
        credentials=dict(credentials) if credentials is not None else None, token_ttl=token_ttl
    )

    @app.get("/cgi-bin/token")
    def token() -> Response:
        args = request.args
        if args.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        appid, secret = args.get("appid"), args.get("secret")
        with state.lock:
            if (failed := _check_credentials(state, appid, secret)) is not None:
                return failed
            assert appid is not None
            previous = state.plain_token.get(appid)
            if previous is not None:
                state.tokens.pop(previous, None)
            new = state.plain_token[appid] = state.issue_token(appid)
            return _token_response(state, new)

    @app.post("/cgi-bin/stable_token")
    def stable_token() -> Response:
        body = _json_body()
        if not isinstance(body, dict):
            return _error(47001, "data format error")
        if body.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        appid, secret = body.get("appid"), body.get("secret")
        if not isinstance(appid, str) or not isinstance(secret, str):
            return _error(47001, "data format error")
        with state.lock:
            if (failed := _check_credentials(state, appid, secret)) is not None:
                return failed
            current = state.stable_token.get(appid)
            force_refresh = body.get("force_refresh") is True
            if current is not None and state.is_live(current) and not force_refresh:
                return _token_response(state, current)
            if current is not None and force_refresh:
                state.tokens.pop(current, None)
            new = state.stable_token[appid] = state.issue_token(appid)
            return _token_response(state, new)

    @app.get("/sns/jscode2session")
    def jscode2session() -> Response:
        args = request.args
        with state.lock:
            state.code2session_calls += 1
            if (failed := _check_credentials(state, args.get("appid"), args.get("secret"))) is not None:
                return failed
        if args.get("grant_type") != "authorization_code":
            return _error(40002, "invalid grant_type")
        match = _DEV_CODE.fullmatch(args.get("js_code", ""))
        if match is None:
            return _error(40029, "invalid code")
        session_key = base64.b64encode(secrets.token_bytes(16)).decode("ascii")
        return jsonify(openid=f"o-{match.group(1)}", session_key=session_key)

    @app.post("/cgi-bin/message/subscribe/send")
    def subscribe_send() -> Response:
        access_token = request.args.get("access_token")
        body = _json_body()
        with state.lock:
            state.sends += 1
            known = state.tokens.get(access_token or "")
            if known is None:
                return _error(40001, "invalid credential")
            if not state.is_live(access_token):
                return _error(42001, "access_token expired")
            if (invalid := _valid_subscribe_body(body)) is not None:
                return invalid
            if state.failures:
                return _error(*state.failures.popleft())
            msgid = next(state.msgids)
            state.messages.append(
                {
                    "msgid": msgid,
                    "appid": known.appid,
                    "touser": body["touser"],
                    "template_id": body["template_id"],
                    "page": body.get("page"),
                    "data": body["data"],
                    "miniprogram_state": body.get("miniprogram_state"),
                    "lang": body.get("lang"),
                    "received_at": datetime.now(UTC).isoformat(),
                }
            )
        return jsonify(errcode=0, errmsg="ok", msgid=msgid)

    @app.get("/__fake__/subscribe-messages")
    def list_messages() -> Response:
        touser = request.args.get("touser")
        with state.lock:
            items = [dict(m) for m in state.messages if touser is None or m["touser"] == touser]
        return jsonify(items=items)

    @app.delete("/__fake__/subscribe-messages")
    def clear_messages() -> tuple[str, int]:
        with state.lock:
            state.messages.clear()
        return "", 204

    @app.post("/__fake__/failures")
    def add_failures() -> Response | tuple[Response, int]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error="expected a JSON object"), 400
        errcode, errmsg = body.get("errcode"), body.get("errmsg", "injected failure")
        count = body.get("count", 1)
        if not isinstance(errcode, int) or errcode == 0 or not isinstance(errmsg, str):
            return jsonify(error="errcode must be a non-zero integer and errmsg a string"), 400
        if not isinstance(count, int) or count < 1:
            return jsonify(error="count must be a positive integer"), 400
        with state.lock:
            state.failures.extend([(errcode, errmsg)] * count)
            pending = len(state.failures)
        return jsonify(pending=pending)

    @app.delete("/__fake__/failures")
    def clear_failures() -> tuple[str, int]:
        with state.lock:
            state.failures.clear()
        return "", 204

    @app.post("/__fake__/expire-tokens")
    def expire_tokens() -> Response:
        with state.lock:
            for issued in state.tokens.values():
                issued.expires_at = 0.0
            expired = len(state.tokens)
        return jsonify(expired=expired)

    @app.get("/__fake__/stats")
    def stats() -> Response:
        with state.lock:
            return jsonify(
                tokens_issued=state.tokens_issued,
                code2session_calls=state.code2session_calls,
                sends=state.sends,
                messages=len(state.messages),
                pending_failures=len(state.failures),
            )

    return app


class FakeWeChatServer:
    """Serves a fake (``create_fake_app()`` unless given) over real HTTP in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, app: Flask | None = None) -> None:
        self.app = app if app is not None else create_fake_app()
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-wechat", daemon=True)
        self.host = host

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> FakeWeChatServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> FakeWeChatServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the fake WeChat API in the foreground.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = make_server(args.host, args.port, create_fake_app(), threaded=True)
    logger.info("fake WeChat API listening on http://%s:%d/", args.host, server.server_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
