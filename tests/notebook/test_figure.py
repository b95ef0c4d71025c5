"""LiveFigure's kernel side: what goes over the comm, as a front end would receive it.

A recording comm stands in for the kernel's (``comm.create_comm`` is the documented hook): every
``comm_open`` / ``comm_msg`` a widget publishes is kept with its binary buffers, and messages from "the
page" are delivered through the comm's own ``handle_msg``.
"""

from __future__ import annotations

import gzip
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pytest
from recordingcomm import record_comms

from kunb.exceptions import ClosedError, ConfigurationError
from kunb.notebook import plotlyjs
from kunb.notebook.figure import LiveFigure
from kunb.notebook.plotlyjs import PlotlyLibrary, shared_library


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What widgets publish during the test (see recordingcomm)."""
    return record_comms(monkeypatch)


def _customs(log: list[dict[str, Any]], widget: Any) -> list[dict[str, Any]]:
    return [
        m
        for m in log
        if m["comm_id"] == widget.model_id and m["type"] == "comm_msg" and m["data"]["method"] == "custom"
    ]


def _from_page(widget: Any, content: dict[str, Any]) -> None:
    widget.comm.handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def _figure(**kw: Any) -> LiveFigure:
    t = 1.7e12 + np.arange(5) * 100.0
    traces = [
        {"type": "scatter", "mode": "lines", "name": "price", "x": t, "y": np.linspace(1, 2, 5)},
        go.Scatter(name="depth", x=t, y=np.ones(5), fill="tozeroy"),
    ]
    return LiveFigure(traces, {"xaxis": {"type": "date"}, "title": {"text": "demo"}}, **kw)


def _f64(buffer: Any) -> list[float]:
    view = memoryview(buffer)
    assert view.nbytes % 8 == 0
    return np.frombuffer(view.cast("B"), dtype="<f8").tolist()


# ---- plotly.js once per kernel ------------------------------------------------------------------


def test_the_bundle_goes_once_per_kernel_as_one_gzip_binary_message(sent):
    """Several figures: one library widget, whose only bundle message carries the installed
    plotly.min.js gzip-compressed as a binary buffer; no figure's state carries plotly.js."""
    figures = [_figure() for _ in range(3)]
    libraries = [m for m in sent if m["type"] == "comm_open" and m["data"]["state"].get("_role") == "library"]
    assert len(libraries) == 1
    library = shared_library()
    bundles = [m for m in _customs(sent, library) if m["data"]["content"]["type"] == "bundle"]
    assert len(bundles) == 1 and library.pushes == 1
    (buffer,) = bundles[0]["buffers"]
    source = (Path(plotlyjs.__file__).parent / "static" / "plotly-finance.min.js").read_bytes()
    assert gzip.decompress(bytes(buffer)) == source  # the panels' traces need only the finance bundle
    assert bundles[0]["data"]["content"]["version"] == library.version
    # the push came before `pushed` turned true: a page restoring the widget later asks instead
    assert library.pushed is True
    for fig in figures:
        opened = next(m for m in sent if m["comm_id"] == fig.model_id and m["type"] == "comm_open")
        size = len(json.dumps(opened["data"])) + sum(memoryview(b).nbytes for b in opened["buffers"])
        assert size < 50_000, size  # the ESM, layout, template and 2 x 2 x 5 points; plotly.js is 4.8 MB
        assert opened["data"]["state"]["_library"] == f"IPY_MODEL_{library.model_id}"


def test_the_finance_bundle_registers_exactly_the_trace_types_kunb_sends_it_for() -> None:
    """FINANCE_TRACES must match what the shipped file registers: a type it lacks would leave a chart
    blank in the page with no error in the kernel."""
    source = (Path(plotlyjs.__file__).parent / "static" / "plotly-finance.min.js").read_text()
    registered = set(re.findall(r'moduleType:"trace",name:"([a-z0-9]+)"', source))
    assert registered == plotlyjs.FINANCE_TRACES
    assert plotlyjs.version("finance").endswith("-finance") and plotlyjs.version("full") != plotlyjs.version()


def test_a_trace_type_outside_the_finance_bundle_gets_the_full_bundle(sent):
    """A user's heatmap: its figure references a second library widget carrying the installed plotly
    package's full plotly.min.js; finance-only figures keep the small one."""
    small = LiveFigure([{"type": "scatter", "x": [1], "y": [2]}, {"type": "candlestick"}])
    big = LiveFigure([{"type": "heatmap", "z": [[1, 2], [3, 4]]}])
    assert small._library.name == "finance" and big._library.name == "full"
    assert big._library is not small._library
    (bundle_msg,) = [m for m in _customs(sent, big._library) if m["data"]["content"]["type"] == "bundle"]
    full = resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()
    assert gzip.decompress(bytes(bundle_msg["buffers"][0])) == full
    assert bundle_msg["data"]["content"]["version"] == plotlyjs.version("full")


def test_a_page_that_missed_the_push_gets_it_on_request(sent):
    _figure()
    library = shared_library()
    _from_page(library, {"type": "request", "version": library.version})
    assert library.requests == 1 and library.pushes == 2
    _from_page(library, {"type": "request", "version": "0.0.0-other"})  # another plotly.js: not ours
    assert library.requests == 2 and library.pushes == 2


def test_a_closed_library_is_replaced_and_pushed_again(sent):
    first = shared_library()
    first.close()
    second = _figure()._library
    assert second is not first and second.comm is not None and second.pushes == 1


# ---- state: what a page draws when it opens or reloads ------------------------------------------


def test_state_holds_layout_attributes_and_binary_columns(sent):
    fig = _figure()
    state = fig.get_state()
    snapshot = state["_snapshot_state"]
    assert snapshot["seq"] == 0
    assert snapshot["layout"]["xaxis"] == {"type": "date"}
    assert snapshot["layout"]["template"]  # plotly's default template, as go.Figure applies it
    price, depth = snapshot["traces"]
    assert price["attributes"]["name"] == "price" and "x" not in price["attributes"]
    assert depth["attributes"]["fill"] == "tozeroy"
    assert isinstance(price["columns"]["x"], memoryview)  # binary in the state, never a JSON list
    assert _f64(price["columns"]["y"]) == np.linspace(1, 2, 5).tolist()
    assert len(state["_esm"]) < 30_000  # the front end only: plotly.js is not in any figure's state


def test_the_widget_layout_stays_the_css_layout(sent):
    """``layout`` is every ipywidget's CSS layout (width, height in a box); the plotly layout has its
    own name, so ``fig.layout.width = "100%"`` works and the state references a Layout model."""
    fig = _figure()
    fig.layout.width = "100%"
    assert fig.get_state()["layout"] == f"IPY_MODEL_{fig.layout.model_id}"
    assert fig.plotly_layout["title"]["text"] == "demo"


def test_state_is_current_after_updates(sent):
    """A page reloaded after streaming gets the current window and the number of the last message."""
    fig = _figure()
    fig.extend(0, {"x": [1.7e12 + 500], "y": [9.0]}, max_points=3)
    fig.relayout({"title.text": "later"})
    snapshot = fig.get_state()["_snapshot_state"]
    assert snapshot["seq"] == 2
    assert snapshot["layout"]["title"]["text"] == "later"
    assert _f64(snapshot["traces"][0]["columns"]["y"]) == [1.75, 2.0, 9.0]


# ---- updates -------------------------------------------------------------------------------------


def test_extend_sends_only_the_new_points_as_float64_buffers(sent):
    fig = _figure()
    before = len(_customs(sent, fig))
    fig.extend(0, {"x": np.array([1.7e12 + 500, 1.7e12 + 600]), "y": [3, 4]}, max_points=5)
    (msg,) = _customs(sent, fig)[before:]
    content = msg["data"]["content"]
    assert content == {
        "type": "ops",
        "seq": 1,
        "ops": [{"op": "extend", "trace": 0, "columns": {"x": 0, "y": 1}, "max_points": 5}],
    }
    x, y = msg["buffers"]
    assert isinstance(x, memoryview) and x.nbytes == 16  # 2 points, not the 5-point window
    assert _f64(y) == [3.0, 4.0]
    assert fig.columns(0)["y"].tolist() == [1.5, 1.75, 2.0, 3.0, 4.0]


def test_extend_with_replace_last_sends_the_replaced_point_again_not_the_window(sent):
    fig = _figure()
    before = len(_customs(sent, fig))
    fig.extend(0, {"x": [1.7e12 + 400], "y": [9.5]}, max_points=5, replace_last=1)
    (msg,) = _customs(sent, fig)[before:]
    (op,) = msg["data"]["content"]["ops"]
    assert op == {"op": "extend", "trace": 0, "columns": {"x": 0, "y": 1}, "max_points": 5, "replace_last": 1}
    assert [memoryview(b).nbytes for b in msg["buffers"]] == [8, 8]
    assert fig.columns(0)["y"].tolist() == [1.0, 1.25, 1.5, 1.75, 9.5]


def test_batch_is_one_message_for_many_updates(sent):
    fig = _figure()
    before = len(_customs(sent, fig))
    with fig.batch():
        fig.extend(0, {"x": [1.0], "y": [1.0]})
        fig.extend(1, {"x": [1.0], "y": [2.0]})
        with fig.batch():  # nested batches join the outer one
            fig.replace(1, {"y": [5, 6]})
            fig.restyle(1, {"line.color": "red"})
        fig.relayout({"xaxis.range": [0, 1]})
    (msg,) = _customs(sent, fig)[before:]
    ops = msg["data"]["content"]["ops"]
    assert [op["op"] for op in ops] == ["extend", "extend", "replace", "restyle", "relayout"]
    assert ops[3] == {"op": "restyle", "trace": 1, "update": {"line.color": "red"}}
    assert ops[4] == {"op": "relayout", "update": {"xaxis.range": [0, 1]}}
    assert len(msg["buffers"]) == 5 and all(isinstance(b, memoryview) for b in msg["buffers"])
    assert fig.messages_sent == 1
    assert fig.trace_attributes(1)["line"]["color"] == "red"


def test_an_error_inside_a_batch_still_sends_what_was_applied(sent):
    fig = _figure()
    before = len(_customs(sent, fig))
    with pytest.raises(ConfigurationError), fig.batch():
        fig.extend(0, {"y": [7.0]})
        fig.relayout({"xaxis.rnge": 1})
    (msg,) = _customs(sent, fig)[before:]
    assert [op["op"] for op in msg["data"]["content"]["ops"]] == ["extend"]
    assert fig.columns(0)["y"][-1] == 7.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.relayout({"xaxis.rnge": [0, 1]}), "Did you mean|rnge"),
        (lambda f: f.restyle(0, {"line.colr": "red"}), "colr"),
        (lambda f: f.restyle(0, {"x": np.arange(3)}), "arrays are columns"),
        (lambda f: f.extend(5, {"y": [1]}), "no trace 5"),
        (lambda f: f.extend(0, {"y": ["a"]}), "numbers or dates"),
        (lambda f: f.relayout({}), "non-empty"),
    ],
)
def test_bad_updates_raise_configuration_errors_and_send_nothing(sent, call, message):
    fig = _figure()
    before = len(_customs(sent, fig))
    with pytest.raises(ConfigurationError, match=message):
        call(fig)
    assert _customs(sent, fig)[before:] == []


def test_bad_construction_is_a_configuration_error(sent):
    with pytest.raises(ConfigurationError, match="colr"):
        LiveFigure([{"type": "scatter", "line": {"colr": "red"}}])
    with pytest.raises(ConfigurationError, match="draw_budget"):
        _figure(draw_budget=0)


def test_fill_tozeroy_with_numpy_arrays_never_touches_plotly_truth_values(sent):
    """The class of plotly's "truth value of an array is ambiguous" errors: numpy arrays on a filled
    trace, replaced and extended repeatedly."""
    fig = _figure()
    for i in range(3):
        fig.replace(1, {"x": np.arange(4.0) + i, "y": np.full(4, float(i))})
        fig.extend(1, {"x": np.array([9.0]), "y": np.array([1.0])}, max_points=4)
    assert fig.columns(1)["x"].tolist() == [3.0, 4.0, 5.0, 9.0]


def test_a_closed_figure_refuses_updates(sent):
    fig = _figure()
    fig.close()
    with pytest.raises(ClosedError):
        fig.extend(0, {"y": [1.0]})


# ---- nothing comes back from the page --------------------------------------------------------------


def test_the_page_writes_no_state_and_only_asks_for_a_resync(sent):
    """No echo: LiveFigure has no trait the front end sets (FigureWidget's _js2py_* traits are where its
    per-redraw messages back to the kernel and the ValueErrors came from). The only message the page
    sends is a resync request, answered with the whole figure; anything else is ignored."""
    fig = _figure()
    assert not [k for k in fig.keys if k.startswith("_js2py") or k.startswith("_py2js")]
    assert set(fig.keys) - set(PlotlyLibrary().keys) <= {"_library", "_key", "_snapshot_state"}
    fig.extend(0, {"y": [5.0]})
    before = len(_customs(sent, fig))
    _from_page(fig, {"type": "traceDeltas", "deltas": [{"x": [1, 2]}]})
    assert _customs(sent, fig)[before:] == []
    _from_page(fig, {"type": "sync"})
    (reply,) = _customs(sent, fig)[before:]
    content = reply["data"]["content"]
    assert content["type"] == "snapshot" and content["seq"] == 1 and fig.syncs == 1
    y_ref = content["traces"][0]["columns"]["y"]
    assert _f64(reply["buffers"][y_ref])[-1] == 5.0
