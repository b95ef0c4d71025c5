"""The connection status badge: what a live panel tells the user about where its data comes from."""

from __future__ import annotations

import enum
import html
from dataclasses import dataclass

__all__ = ["Health", "StatusView", "badge_html"]


class Health(enum.Enum):
    """What a live object's data stream is doing right now (the badge's ``data-status``)."""

    CONNECTING = "connecting"  #: first connection attempt in progress, nothing received yet
    LIVE = "live"  #: connected and subscribed; data is flowing
    RECONNECTING = "reconnecting"  #: the connection dropped; a new one is being made
    RESYNCING = "resyncing"  #: connected, but a book is re-fetching its snapshot after a gap
    UNREACHABLE = "unreachable"  #: the exchange cannot be reached; retrying
    STOPPED = "stopped"  #: stopped by the user (or the kernel); no tasks, no sockets


_COLOURS = {
    Health.CONNECTING: "#8a6d00",
    Health.LIVE: "#1a7f37",
    Health.RECONNECTING: "#b35900",
    Health.RESYNCING: "#b35900",
    Health.UNREACHABLE: "#b42318",
    Health.STOPPED: "#57606a",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusView:
    """Everything the badge shows; built by the live object, rendered by :func:`badge_html`."""

    health: Health
    url: str
    simulated: bool
    detail: str = ""
    msg_rate: float | None = None
    protocol: str = "classic"  #: which of KuCoin's WebSocket protocols the data comes over
    notice: str = ""  #: shown whatever the health: what the panel left out and why (an unknown symbol)


def _hint(view: StatusView) -> str:
    if view.health is Health.UNREACHABLE:
        return (
            f"Cannot reach {view.url}; retrying. No network? Start the embedded exchange with "
            "<code>kunb.sim.start()</code> and run the cell again."
        )
    return html.escape(view.detail)


def badge_html(view: StatusView) -> str:
    """The badge as HTML with stable hooks for browser tests.

    ``span.kunb-status[data-status]`` holds the health word, ``span.kunb-source[data-simulated]`` the
    data source, ``span.kunb-protocol[data-protocol]`` the protocol (``classic`` or ``uta``),
    ``span.kunb-rate`` the message rate, ``div.kunb-notice`` what the panel left out and why.
    """
    colour = _COLOURS[view.health]
    word = view.health.value
    source = "simulated" if view.simulated else "live exchange"
    parts = [
        f'<span class="kunb-status" data-status="{word}" style="background:{colour};color:#fff;'
        f'border-radius:8px;padding:1px 8px;font-weight:600">{word}</span>',
        f'<span class="kunb-source" data-simulated="{str(view.simulated).lower()}" style="margin-left:8px;'
        f'{"color:#8250df;font-weight:600" if view.simulated else "color:#57606a"}">{source}</span>',
        f'<span class="kunb-url" style="margin-left:8px;color:#57606a">{html.escape(view.url)}</span>',
        f'<span class="kunb-protocol" data-protocol="{html.escape(view.protocol)}" style="margin-left:8px;'
        f'color:#57606a">{html.escape(view.protocol.upper())}</span>',
    ]
    if view.msg_rate is not None:
        parts.append(
            f'<span class="kunb-rate" data-rate="{view.msg_rate:.1f}" style="margin-left:8px">'
            f"{view.msg_rate:,.1f} msg/s</span>"
        )
    hint = _hint(view)
    if hint:
        parts.append(f'<span class="kunb-detail" style="margin-left:8px">{hint}</span>')
    if view.notice:
        parts.append(
            '<div class="kunb-notice" style="margin-top:3px;color:#8a4b00;background:#fff8c5;'
            f'border-radius:4px;padding:1px 6px;display:inline-block">{html.escape(view.notice)}</div>'
        )
    return '<div class="kunb-badge">' + "".join(parts) + "</div>"
