"""KuCoin's REST envelope (``classic-protocol.md#rest-envelope``): ``{"code":
"200000", "data": ...}`` or an error.

Success is HTTP 200 with ``code`` the string ``"200000"``; errors are ``{"code": "...", "msg": "..."}``
with KuCoin's codes (404000 unknown path, 400100 bad or missing parameter, 900001 unknown symbol).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from kunb.exceptions import ApiError

__all__ = ["error", "ok", "param_error"]


class _Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ok(data: Any) -> Response:
    """KuCoin's success envelope (4.1): ``code`` is the string ``"200000"``."""
    return _Json({"code": "200000", "data": data})


def error(code: str, msg: str, status: int = 400) -> Response:
    """KuCoin's error envelope (4.1)."""
    return _Json({"code": code, "msg": msg}, status_code=status)


def param_error(msg: str = "Parameter Error") -> ApiError:
    """A 400100 to raise from a handler."""
    return ApiError("400100", msg, 400)
