"""``LiveHTML``: HTML for the panels' tables and badges that the page writes only while it is visible.

An ``ipywidgets.HTML`` rewrites its element on every update, seen or not: parsing, style and layout on
the page's main thread for a hidden tab or a panel scrolled away. A LiveHTML's front end writes the
newest HTML at most once per animation frame while the element is on screen, and once more when it comes
into view. The kernel still sends each change (``value``, a synced string), so a page opened later shows
the current HTML. The tables' rules (``css``, :data:`~kunb.notebook.htmltable.TABLE_CSS`) go into the
document once per page, not with every table. The page patches the elements it shows (text and attributes
that changed) rather than replacing them, so the browser restyles and lays out only what changed.

:meth:`LiveHTML.show` sends at most one new HTML per ``min_interval`` seconds (the newest one, at the end
of the interval at the latest): the panels refresh their tables more slowly than their charts, which is
most of what a table costs the page (issue 15: <= 10 % of the main thread per visible panel).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .htmltable import TABLE_CSS

__all__ = ["LiveHTML"]


class LiveHTML(anywidget.AnyWidget):
    """``value``: the HTML shown (trusted: the panels build it, escaping what they did not write); ``css``:
    style rules the page adds to the document once (the first view that brings them)."""

    _esm = Path(__file__).with_name("static") / "livehtml.js"
    value = traitlets.Unicode("").tag(sync=True)
    css = traitlets.Unicode(TABLE_CSS).tag(sync=True)

    def __init__(self, value: str = "", *, min_interval: float = 0.0, **kwargs: Any) -> None:
        super().__init__(value=value, **kwargs)
        self.min_interval = min_interval
        self._sent_at = -float("inf")  # time.monotonic() of the last value sent
        self._pending: str | None = None  # newer HTML held back by min_interval
        self._flush_handle: asyncio.TimerHandle | None = None

    @property
    def newest(self) -> str:
        """The newest HTML given to :meth:`show` (``value`` once it was sent)."""
        return self.value if self._pending is None else self._pending

    def show(self, value: str, *, urgent: bool = False) -> None:
        """Show ``value``: at once when the previous HTML went at least ``min_interval`` seconds ago or
        ``urgent`` (a state change the page must not show late), else at the end of that interval (held
        back, replaced by any newer value meanwhile). Unchanged HTML sends nothing."""
        now = time.monotonic()
        if value == self.value:
            self._pending = None  # what the page shows is current again
            return
        if urgent or now - self._sent_at >= self.min_interval:
            self._put(value, now)
            return
        self._pending = value
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop in this thread (a script, a test): nothing could send it later
                self._put(value, now)
                return
            self._flush_handle = loop.call_later(self._sent_at + self.min_interval - now, self._flush)

    def _put(self, value: str, now: float) -> None:
        self._pending = None
        self._sent_at = now
        self.value = value

    def _flush(self) -> None:
        self._flush_handle = None
        if self._pending is not None and self.comm is not None:  # not closed meanwhile
            self._put(self._pending, time.monotonic())
