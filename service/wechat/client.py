"""Our gateway to WeChat's server API (mini-program login, subscribe messages), built on wechatpy."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import redis
import requests
from wechatpy import WeChatClient
from wechatpy.client.api.base import BaseWeChatAPI
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

logger = logging.getLogger(__name__)

WECHAT_API_BASE_URL = "https://api.weixin.qq.com/"
REDIS_KEY_PREFIX = "civicdesk-wechat"
NETWORK_ERRCODE = -1
# 40001 invalid credential, 40014 invalid access_token, 42001 access_token expired.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# wechatpy refreshes this long before the announced expiry too.
_TOKEN_MARGIN_SECONDS = 60

_T = TypeVar("_T")


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    session_key: str
    unionid: str | None


class WeChatError(Exception):
    """WeChat answered with an errcode, or could not be reached (errcode -1)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class _StableTokenClient(WeChatClient):
    """A WeChatClient aimed at ``base_url`` whose access token comes from ``cgi-bin/stable_token``.

    A stable token is the same for every caller until it expires, so several processes sharing an appid never
    invalidate each other's tokens as ``cgi-bin/token`` does.
    """

    def __init__(
        self, appid: str, secret: str, base_url: str, session: SessionStorage, timeout: float
    ) -> None:
        # wechatpy's own retry on token errors recurses without bound; the gateway retries once instead.
        super().__init__(appid, secret, session=session, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = f"{base_url}cgi-bin/"
        # WeChatClient.__new__ has already made one API object per client; rebase those with their own URL.
        # vars() rather than inspect.getmembers(): the latter would read the access_token property (a fetch).
        for api in vars(self).values():
            default = getattr(api, "API_BASE_URL", None) if isinstance(api, BaseWeChatAPI) else None
            if isinstance(default, str) and default.startswith(WECHAT_API_BASE_URL):
                api.API_BASE_URL = base_url + default.removeprefix(WECHAT_API_BASE_URL)

    @property
    def expires_at_key(self) -> str:
        return f"{self.appid}_access_token_expires_at"

    @property
    def access_token(self) -> str:
        # The expiry lives in the shared storage (not on this object) so that every client using it agrees.
        token = self.session.get(self.access_token_key)
        expires_at = self.session.get(self.expires_at_key)
        if token and (expires_at is None or float(expires_at) - time.time() > _TOKEN_MARGIN_SECONDS):
            return str(token)
        self.fetch_access_token()
        return str(self.session.get(self.access_token_key))

    def fetch_access_token(self) -> dict[str, Any]:
        return self._fetch_stable_token(force_refresh=False)

    def refresh_access_token(self) -> None:
        """Replace a token WeChat rejected; force a new one only if WeChat hands back the rejected one."""
        rejected = self.session.get(self.access_token_key)
        if self._fetch_stable_token(force_refresh=False)["access_token"] == rejected:
            # Forced refreshes are rationed by WeChat (a few a day), hence the ordinary fetch first.
            self._fetch_stable_token(force_refresh=True)

    def _fetch_stable_token(self, force_refresh: bool) -> dict[str, Any]:
        logger.info("fetching a WeChat stable access token (force_refresh=%s)", force_refresh)
        response = self._http.post(
            f"{self.API_BASE_URL}stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": force_refresh,
            },
            timeout=self.timeout,
        )
        if not response.ok:
            raise WeChatClientException(None, None, client=self, request=response.request, response=response)
        result = self._handle_result(response)
        if not isinstance(result, dict) or not isinstance(result.get("access_token"), str):
            raise WeChatError(NETWORK_ERRCODE, "stable_token answered without an access_token")
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.session.set(self.expires_at_key, time.time() + expires_in, expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result


def _normalise_base_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/"


class WeChatGateway:
    """The few WeChat calls civicdesk makes; every failure surfaces as ``WeChatError``."""

    def __init__(
        self,
        app_id: str,
        secret: str,
        base_url: str,
        token_storage: SessionStorage | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.app_id = app_id
        self.base_url = _normalise_base_url(base_url)
        self._client = _StableTokenClient(
            app_id,
            secret,
            self.base_url,
            token_storage if token_storage is not None else MemoryStorage(),
            timeout,
        )

    @property
    def token_storage(self) -> SessionStorage:
        return self._client.session

    def code_to_session(self, code: str) -> WeChatSession:
        # Params as a list, not a dict: wechatpy then adds no access_token, which code2session does not take
        # (and fetching one would make every login depend on the token endpoint).
        params = [
            ("appid", self.app_id),
            ("secret", self._client.secret),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ]
        result = self._call(
            lambda: self._client.get("sns/jscode2session", params=params, api_base_url=self.base_url)
        )
        openid, session_key = result.get("openid"), result.get("session_key")
        if not isinstance(openid, str) or not isinstance(session_key, str):
            raise WeChatError(NETWORK_ERRCODE, "jscode2session answered without openid/session_key")
        unionid = result.get("unionid")
        return WeChatSession(openid, session_key, unionid if isinstance(unionid, str) else None)

    def send_subscribe_message(
        self, openid: str, template_id: str, data: Mapping[str, str], page: str | None = None
    ) -> int:
        """Send a mini-program subscribe message and return its msgid."""
        payload = {key: {"value": value} for key, value in data.items()}

        def send() -> dict[str, Any]:
            return self._call(
                lambda: self._client.wxa.send_subscribe_message(openid, template_id, payload, page)
            )

        try:
            result = send()
        except WeChatError as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
            logger.info("WeChat rejected the access token (errcode %s); refreshing it once", exc.errcode)
            self._call(self._client.refresh_access_token)
            result = send()
        msgid = result.get("msgid")
        if not isinstance(msgid, int):
            raise WeChatError(NETWORK_ERRCODE, "subscribe/send answered without a msgid")
        return msgid

    def close(self) -> None:
        self._client._http.close()

    def __enter__(self) -> WeChatGateway:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @staticmethod
    def _call(call: Callable[[], _T]) -> _T:
        try:
            result = call()
        except WeChatClientException as exc:
            if exc.errcode is None:  # an HTTP error status, not an errcode in the body
                status = exc.response.status_code if exc.response is not None else "no response"
                raise WeChatError(NETWORK_ERRCODE, f"HTTP {status}") from exc
            raise WeChatError(int(exc.errcode), str(exc.errmsg)) from exc
        except requests.RequestException as exc:
            raise WeChatError(NETWORK_ERRCODE, f"{type(exc).__name__}: {exc}") from exc
        # wechatpy hands back the raw response when the body is not JSON.
        if isinstance(result, requests.Response):
            raise WeChatError(NETWORK_ERRCODE, f"unexpected non-JSON answer (HTTP {result.status_code})")
        return result


def build_gateway(config: Mapping[str, Any]) -> WeChatGateway:
    """Build the gateway from settings; tokens are shared through Redis when ``REDIS_URL`` is set."""
    redis_url = config.get("REDIS_URL")
    storage: SessionStorage
    if redis_url:
        storage = RedisStorage(redis.Redis.from_url(redis_url), prefix=REDIS_KEY_PREFIX)
    else:
        storage = MemoryStorage()
    return WeChatGateway(
        app_id=config["WECHAT_APP_ID"],
        secret=config["WECHAT_APP_SECRET"],
        base_url=config["WECHAT_BASE_URL"],
        token_storage=storage,
        timeout=float(config.get("WECHAT_TIMEOUT", 5.0)),
    )
