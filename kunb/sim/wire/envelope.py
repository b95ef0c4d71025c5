"""Classic protocol envelopes: the push message around every channel's ``data``, and the bullet answer.

Pure. ``classic-protocol.md#per-symbol-topics`` (push envelope) and 1.1 (bullet
``data``; ``encrypt`` is JSON null for
``ws://``, section 5, because the official SDK passes it to websockets as ``ssl=``).
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["bullet", "message"]


def message(topic: str, subject: str, data: Any) -> bytes:
    """The push envelope (1.6), serialised."""
    return orjson.dumps({"type": "message", "topic": topic, "subject": subject, "data": data})


def bullet(token: str, endpoint: str, *, ping_interval_ms: int, ping_timeout_ms: int) -> dict[str, Any]:
    """``data`` of a bullet response (1.1): the token and one instance server."""
    return {
        "token": token,
        "instanceServers": [
            {
                "endpoint": endpoint,
                "encrypt": None,
                "protocol": "websocket",
                "pingInterval": ping_interval_ms,
                "pingTimeout": ping_timeout_ms,
            }
        ],
    }
