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

Two bundles: plotly.js's own *finance* partial bundle (``static/plotly-finance.min.js``, MIT, shipped
with kunb; 1.3 MB against the full bundle's 4.8 MB) has every trace type the panels draw, and the page
evaluates it in about a quarter of the time, which is most of the time to a first chart
(jupyter.md#the-plotly-bundle). A figure with any other trace type (a user's heatmap) gets the installed
plotly package's full ``plotly.min.js`` on its own library widget; the page keys the two by version.
"""

from __future__ import annotations

import functools
import gzip
import logging
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import anywidget
import traitlets
from plotly.offline import get_plotlyjs_version

__all__ = ["ESM", "FINANCE_TRACES", "BundleName", "PlotlyLibrary", "bundle", "bundle_for", "shared_library"]

_log = logging.getLogger(__name__)

# The front end of the library widget and of every LiveFigure: one module, dispatching on ``_role``.
ESM = Path(__file__).with_name("static") / "livefigure.js"

# Level 6 is within 0.3 % of level 9's size at ~3/4 of its time (4.8 MB -> 1.47 MB on plotly.js 4.1).
_GZIP_LEVEL = 6


BundleName = Literal["finance", "full"]
# The trace types plotly.js's finance bundle registers (its dist/README; checked against the file in tests)
FINANCE_TRACES = frozenset(
    {"bar", "candlestick", "funnel", "funnelarea", "histogram", "indicator", "ohlc", "pie", "scatter"}
    | {"waterfall"}
)
_FINANCE_FILE = Path(__file__).with_name("static") / "plotly-finance.min.js"


def bundle_for(trace_types: Iterable[str]) -> BundleName:
    """The smallest bundle that draws every one of ``trace_types`` (plotly's default type is scatter)."""
    return "finance" if set(trace_types) <= FINANCE_TRACES else "full"


@functools.cache
def _source(name: BundleName) -> tuple[str, bytes]:
    if name == "finance":
        source = _FINANCE_FILE.read_bytes()
        found = re.search(rb"plotly\.js \(finance - minified\) v(\d+\.\d+\.\d+)", source[:300])
        if found is None:  # a packaging mistake, not a user's: say which file
            raise RuntimeError(f"kunb: no plotly.js version in the header of {_FINANCE_FILE}")
        return f"{found.group(1).decode()}-finance", source
    full = resources.files("plotly").joinpath("package_data", "plotly.min.js")
    return get_plotlyjs_version(), full.read_bytes()


def version(name: BundleName = "finance") -> str:
    """The version the page files ``name``'s bundle under (``4.1.0-finance``; the full bundle's own)."""
    return _source(name)[0]


@functools.cache
def bundle(name: BundleName = "finance") -> tuple[str, bytes]:
    """``(version, gzip-compressed bundle)`` of the finance bundle or the installed full one (cached)."""
    version, source = _source(name)
    # mtime=0: the same bytes for the same bundle, so a re-push is byte-identical
    return version, gzip.compress(source, compresslevel=_GZIP_LEVEL, mtime=0)


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

    def __init__(self, name: BundleName = "finance", **kwargs: Any) -> None:
        super().__init__(version=version(name), **kwargs)
        self.name: BundleName = name
        self.pushes = 0
        self.requests = 0
        self.on_msg(self._on_message)

    def push(self) -> None:
        """Send the bundle to every connected page (one binary message), then mark it pushed."""
        tag, data = bundle(self.name)
        self.send({"type": "bundle", "version": tag, "encoding": "gzip"}, buffers=[data])
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


_shared: dict[BundleName, PlotlyLibrary] = {}


def shared_library(name: BundleName = "finance") -> PlotlyLibrary:
    """This kernel's library widget for ``name``, created (and its bundle pushed) on first use or after it
    was closed."""
    library = _shared.get(name)
    if library is None or library.comm is None:
        library = _shared[name] = PlotlyLibrary(name)
        library.push()
    return library
