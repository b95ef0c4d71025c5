"""``LiveFigure``: a plotly chart for streaming data that sends only what changed, as binary float64.

Compared with plotly's ``FigureWidget`` (jupyter.md#the-plotly-bundle):

* plotly.js is not in the figure's state: the kernel's one :class:`~kunb.notebook.plotlyjs.PlotlyLibrary`
  brings it to the page once, and every figure's own front end is a few KB;
* :meth:`LiveFigure.extend` sends the new points only and the page applies plotly.js ``extendTraces``
  semantics (append, keep the last ``max_points``; optionally replacing the last few points first, for
  a forming candle), so bytes per second follow the update rate, not the window; :meth:`replace`,
  :meth:`restyle` and :meth:`relayout` cover the rest, and :meth:`batch` makes many of them one message
  and one redraw;
* the page never sends trace or layout changes back (no echo), and a figure that is not visible
  (another tab, scrolled away, collapsed) keeps its data current but draws only once it is visible again;
* the layout the kernel gave is handed to plotly.js on every draw, so an axis declared ``type="date"``
  stays a date axis with float64 epoch-ms x (the trap in jupyter.md#date-axis cannot happen).

The kernel keeps the current arrays and layout, and the widget's state is built from them whenever it
is read: a reloaded page or a second tab draws the current window at once. Each message carries a
sequence number; a page that finds a gap asks for the whole state again.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import anywidget
import numpy as np
import plotly.graph_objects as go
import traitlets
from ipywidgets import widget_serialization

from ..exceptions import ClosedError, ConfigurationError
from .figuredata import Columns, TraceColumns, split_columns
from .plotlyjs import ESM, PlotlyLibrary, bundle_for, shared_library

__all__ = ["DEFAULT_DRAW_BUDGET", "LiveFigure"]

# issue 15: <= 10 % of the main thread per visible streaming panel; what a panel's page spends besides
# drawing (its widget messages, tables, badge) was 1.5-2.5 points in bench/panels_browser.py
DEFAULT_DRAW_BUDGET = 0.07

# a dict of plotly attributes (``{"type": "scatter", ...}``) or a plotly trace object (``go.Scatter``)
TraceSpec: TypeAlias = Any


def _snapshot_json(_value: Any, figure: LiveFigure) -> dict[str, Any]:
    # ipywidgets reads a trait's state through its ``to_json``: the state is built from the kernel's
    # current arrays each time it is read (comm open, a page's request_states after a reload)
    return figure._snapshot()


class LiveFigure(anywidget.AnyWidget):
    """A plotly figure whose data streams to the page as binary deltas.

    Args:
        traces: plotly traces, as attribute dicts (``{"type": "scatter", "x": ..., "y": ...}``) or plotly
            trace objects (``go.Scatter(...)``). Top-level arrays of numbers or dates (``x``, ``y``,
            ``open``...) become the trace's columns and travel as float64 (dates as epoch ms).
        layout: plotly layout (dict or ``go.Layout``). Declare date axes (``xaxis={"type": "date"}``)
            when x holds epoch ms. Unless it names a template, plotly's default template applies, as
            for ``go.Figure``.
        config: plotly.js config (``{"displayModeBar": False}``...).
        draw_budget: the share of the page's main thread each view of this figure may spend drawing
            (default 0.07): a view measures what a draw costs (script, style, layout, paint) and waits
            ``cost / draw_budget`` before the next one, coalescing the updates that arrive meanwhile. A fast
            browser draws every update; a slow one draws less often, never behind. ``None``: no limit.

    Raises:
        ConfigurationError: a trace or layout attribute plotly does not know, or a column that is not
            numbers or dates.
    """

    _esm = ESM
    _role = traitlets.Unicode("figure").tag(sync=True)
    # joins the page's model-level data with its views (anywidget gives them different model proxies)
    _key = traitlets.Unicode().tag(sync=True)
    _library = traitlets.Instance(PlotlyLibrary).tag(sync=True, **widget_serialization)
    _snapshot_state = traitlets.Any(None).tag(sync=True, to_json=_snapshot_json)

    def __init__(
        self,
        traces: Sequence[TraceSpec] = (),
        layout: Mapping[str, Any] | go.Layout | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        draw_budget: float | None = DEFAULT_DRAW_BUDGET,
    ) -> None:
        budget: object = draw_budget  # checked at run time: a notebook user may pass anything
        if budget is not None and not (isinstance(budget, int | float) and 0 < budget <= 1):
            raise ConfigurationError(f"draw_budget must be in (0, 1] or None, got {draw_budget!r}")
        self._draw_budget = float(draw_budget or 0.0)
        # first: the page starts evaluating plotly.js (seconds, the bulk of a first chart) while the
        # kernel validates this figure
        plain = [_plain(trace) for trace in traces]
        library = shared_library(bundle_for(str(trace.get("type") or "scatter") for trace in plain))
        attributes: list[dict[str, Any]] = []
        columns: list[dict[str, Any]] = []
        for trace in plain:
            attrs, cols = split_columns(trace)
            attributes.append(attrs)
            columns.append(cols)
        try:
            self._figure = go.Figure(data=attributes, layout=layout)
        except ValueError as exc:
            raise ConfigurationError(f"LiveFigure: {_first_paragraph(exc)}") from exc
        self._config = dict(config or {})
        self._columns = TraceColumns(len(attributes))
        for index, cols in enumerate(columns):
            if cols:
                self._columns.replace(index, cols)
        self._seq = 0  # number of the last message sent (the state says which messages it includes)
        self._batch_depth = 0
        self._ops: list[dict[str, Any]] = []
        self._buffers: list[memoryview] = []
        self.messages_sent = 0
        self.syncs = 0
        super().__init__(_library=library, _key=uuid.uuid4().hex)
        self.on_msg(self._on_message)

    # ---- reading -------------------------------------------------------------------------------

    @property
    def trace_count(self) -> int:
        return len(self._columns)

    def columns(self, trace: int) -> Columns:
        """The kernel's current float64 columns of ``trace`` (what a page opened now would draw)."""
        return self._columns.columns(trace)

    @property
    def plotly_layout(self) -> dict[str, Any]:
        """The current plotly layout as JSON (a copy). ``layout`` stays the widget's CSS layout
        (``fig.layout.width = "100%"``), as for every ipywidget."""
        layout: dict[str, Any] = self._figure.layout.to_plotly_json()
        return layout

    def trace_attributes(self, trace: int) -> dict[str, Any]:
        """``trace``'s attributes other than its columns, as plotly JSON (a copy)."""
        attributes: dict[str, Any] = self._figure.data[self._trace_index(trace)].to_plotly_json()
        return attributes

    # ---- updating ------------------------------------------------------------------------------

    def extend(
        self,
        trace: int,
        columns: Mapping[str, Any],
        *,
        max_points: int | None = None,
        replace_last: int = 0,
    ) -> None:
        """Append points to ``trace`` and keep its last ``max_points`` (plotly.js ``extendTraces``).

        Only the new points are sent. ``columns`` maps attribute names to equally long arrays
        (``{"x": t_ms, "y": price}``). ``replace_last`` first drops that many of the trace's last points:
        a point that changed since it was sent (the forming candle) is sent again, not the whole window.
        """
        self._check_open()
        added = self._columns.extend(trace, columns, max_points, replace_last)
        index = self._trace_index(trace)
        op: dict[str, Any] = {"op": "extend", "trace": index, "columns": self._refs(added)}
        op["max_points"] = max_points
        if replace_last:
            op["replace_last"] = replace_last
        self._queue(op)

    def replace(self, trace: int, columns: Mapping[str, Any]) -> None:
        """Set whole columns of ``trace`` (the depth chart's new book, a reset window)."""
        self._check_open()
        new = self._columns.replace(trace, columns)
        self._queue({"op": "replace", "trace": self._trace_index(trace), "columns": self._refs(new)})

    def restyle(self, trace: int, update: Mapping[str, Any]) -> None:
        """Set attributes of ``trace`` other than its columns, by path (``{"line.color": "red"}``)."""
        self._check_open()
        index = self._trace_index(trace)
        sent = _assign(self._figure.data[index], update, f"trace {index}")
        self._queue({"op": "restyle", "trace": index, "update": sent})

    def relayout(self, update: Mapping[str, Any]) -> None:
        """Set layout attributes by path (``{"title.text": "BTC-USDT", "xaxis.range": [t0, t1]}``)."""
        self._check_open()
        sent = _assign(self._figure.layout, update, "layout")
        self._queue({"op": "relayout", "update": sent})

    @contextlib.contextmanager
    def batch(self) -> Iterator[LiveFigure]:
        """Collect every update made inside into one message (one redraw in the page)."""
        self._batch_depth += 1
        try:
            yield self
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self._flush()  # also after an error: the kernel's copy already holds what was applied

    # ---- internals -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.comm is None:
            raise ClosedError("this LiveFigure was closed")

    def _trace_index(self, trace: int) -> int:
        self._columns.columns(trace)  # validates the index (ConfigurationError)
        return int(trace) % len(self._columns)

    def _refs(self, columns: Columns) -> dict[str, int]:
        refs = {}
        for key, array in columns.items():
            refs[key] = len(self._buffers)
            self._buffers.append(np.ascontiguousarray(array).data)
        return refs

    def _queue(self, op: dict[str, Any]) -> None:
        self._ops.append(op)
        if self._batch_depth == 0:
            self._flush()

    def _flush(self) -> None:
        if not self._ops:
            return
        ops, buffers = self._ops, self._buffers
        self._ops, self._buffers = [], []
        self._seq += 1
        self.send({"type": "ops", "seq": self._seq, "ops": ops}, buffers=buffers)
        self.messages_sent += 1

    def _snapshot(self, buffers: list[memoryview] | None = None) -> dict[str, Any]:
        """The whole figure: layout, config, each trace's attributes and columns, and the last message's
        number. Columns are memoryviews (binary in the widget state) or, with ``buffers``, indexes
        into it (a custom message)."""
        traces = []
        for index, trace in enumerate(self._figure.data):
            cols: dict[str, Any] = {}
            for key, array in self._columns.columns(index).items():
                view = np.ascontiguousarray(array).data
                if buffers is None:
                    cols[key] = view
                else:
                    cols[key] = len(buffers)
                    buffers.append(view)
            traces.append({"attributes": trace.to_plotly_json(), "columns": cols})
        return {
            "seq": self._seq,
            "layout": self._figure.layout.to_plotly_json(),
            "config": self._config,
            "draw_budget": self._draw_budget,
            "traces": traces,
        }

    def _on_message(self, _widget: Any, content: Any, _buffers: list[Any]) -> None:
        # the page's only message: it missed an update (a gap in the numbers) and wants the whole state;
        # nothing a redraw does is ever sent back
        if isinstance(content, dict) and content.get("type") == "sync" and self.comm is not None:
            self._flush()
            buffers: list[memoryview] = []
            snapshot = self._snapshot(buffers)
            self.send({"type": "snapshot", **snapshot}, buffers=buffers)
            self.syncs += 1


def _plain(trace: TraceSpec) -> dict[str, Any]:
    if hasattr(trace, "to_plotly_json"):
        return dict(trace.to_plotly_json())
    if isinstance(trace, Mapping):
        return dict(trace)
    raise ConfigurationError(f"a trace is a dict of plotly attributes or a plotly trace, got {type(trace)}")


def _assign(target: Any, update: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Validate ``update`` (attribute paths) through plotly, apply it to ``target``; returns the JSON sent."""
    given: object = update  # checked at run time: a notebook user may pass anything
    if not isinstance(given, Mapping) or not given:
        raise ConfigurationError(f"{what}: give a non-empty mapping of attribute paths to values")
    sent: dict[str, Any] = {}
    for path, value in update.items():
        if isinstance(value, np.ndarray):
            raise ConfigurationError(f"{what}: {path!r} is an array; arrays are columns (extend/replace)")
        try:
            target[path] = value
            stored = target[path]
        except (ValueError, KeyError) as exc:
            raise ConfigurationError(f"{what}: {_first_paragraph(exc)}") from exc
        sent[path] = stored.to_plotly_json() if hasattr(stored, "to_plotly_json") else _jsonable(stored)
    return sent


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _first_paragraph(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.split("\n\n", 1)[0].replace("\n", " ")
