"""``LiveHTML``: HTML for the panels' tables and badges that the page writes only while it is visible.

An ``ipywidgets.HTML`` rewrites its element on every update, seen or not: parsing, style and layout on
the page's main thread for a hidden tab or a panel scrolled away. A LiveHTML's front end writes the
newest HTML at most once per animation frame while the element is on screen, and once more when it comes
into view. The kernel still sends each change (``value``, a synced string), so a page opened later shows
the current HTML. The tables' rules (``css``, :data:`~kunb.notebook.htmltable.TABLE_CSS`) go into the
document once per page, not with every table.
"""

from __future__ import annotations

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

    def __init__(self, value: str = "", **kwargs: Any) -> None:
        super().__init__(value=value, **kwargs)
