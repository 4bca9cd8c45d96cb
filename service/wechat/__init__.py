"""WeChat integration: the gateway to WeChat's server API (the fake lives in ``service.wechat.fake``)."""

from service.wechat.client import (
    TOKEN_ERRCODES,
    WeChatError,
    WeChatGateway,
    WeChatSession,
    build_gateway,
)

__all__ = ["TOKEN_ERRCODES", "WeChatError", "WeChatGateway", "WeChatSession", "build_gateway"]
