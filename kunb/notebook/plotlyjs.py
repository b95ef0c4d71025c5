"""plotly.js for the browser, once per kernel session: one small carrier widget pushes the bundle once.

plotly's own FigureWidget puts the whole plotly.js bundle (~5 MB) into every figure's state, so each
figure sends it and the page imports it again (jupyter.md#the-plotly-bundle, "The bundle travels with every
figure"). Here the bundle is the installed plotly package's ``plotly.min.js`` (no CDN: it works
offline), gzip-compressed once per kernel process, and travels as ONE binary comm message on a single
:class:`PlotlyLibrary` widget per kernel, never in any widget's state (a notebook saved with widget
state stays small). The page keeps the evaluated library in a registry keyed by plotly.js version, so
every figure of every notebook in that page shares one copy.

A page that was not connected when the bundle was pushed (reloaded, opened in a second tab) sees
``pushed == True`` in the library's state and asks for it once; the kernel answers on the same comm.
"""

from __future__ import annotations

import functools
import gzip
import logging
from importlib import resources
from pathlib import Path
from typing import Any

import anywidget
import traitlets
from plotly.offline import get_plotlyjs_version

__all__ = ["ESM", "PlotlyLibrary", "bundle", "shared_library"]

_log = logging.getLogger(__name__)

# The front end of the library widget and of every LiveFigure: one module, dispatching on ``_role``.
ESM = Path(__file__).with_name("static") / "livefigure.js"

# Level 6 is within 0.3 % of level 9's size at ~3/4 of its time (4.8 MB -> 1.47 MB on plotly.js 4.1).
_GZIP_LEVEL = 6


@functools.cache
def bundle() -> tuple[str, bytes]:
    """``(plotly.js version, gzip-compressed plotly.min.js)`` from the installed plotly package (cached)."""
    source = resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()
    # mtime=0: the same bytes for the same bundle, so a re-push is byte-identical
    return get_plotlyjs_version(), gzip.compress(source, compresslevel=_GZIP_LEVEL, mtime=0)


class PlotlyLibrary(anywidget.AnyWidget):
    """Delivers plotly.js to the page: pushed once after creation, re-sent only when a page asks.

    Never displayed; figures reference it (``LiveFigure._library``) so the page creates its model first.
    ``pushes`` and ``requests`` count what was sent and asked for (tests and benchmarks read them).
    """

    _esm = ESM
    _role = traitlets.Unicode("library").tag(sync=True)
    version = traitlets.Unicode().tag(sync=True)
    # False until the bundle was pushed: a page restoring this widget later reads True and asks for it
    pushed = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(version=get_plotlyjs_version(), **kwargs)
        self.pushes = 0
        self.requests = 0
        self.on_msg(self._on_message)

    def push(self) -> None:
        """Send the bundle to every connected page (one binary message), then mark it pushed."""
        version, data = bundle()
        self.send({"type": "bundle", "version": version, "encoding": "gzip"}, buffers=[data])
        self.pushes += 1
        self.pushed = True

    def _on_message(self, _widget: Any, content: Any, _buffers: list[Any]) -> None:
        # the page's only message: "I have no plotly.js for this version" (after a reload)
        if isinstance(content, dict) and content.get("type") == "request":
            self.requests += 1
            if content.get("version") == self.version:
                self.push()
            else:
                _log.warning(
                    "kunb: the page asked for plotly.js %r; this kernel has %r",
                    content.get("version"),
                    self.version,
                )


_shared: PlotlyLibrary | None = None


def shared_library() -> PlotlyLibrary:
    """This kernel's library widget, created (and its bundle pushed) on first use or after it was closed."""
    global _shared
    if _shared is None or _shared.comm is None:
        _shared = PlotlyLibrary()
        _shared.push()
    return _shared
