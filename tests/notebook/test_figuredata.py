"""The kernel's copy of a live figure's columns: float64 only, extendTraces semantics, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kunb.exceptions import ConfigurationError
from kunb.notebook.figuredata import TraceColumns, as_column, split_columns


def test_numbers_become_a_float64_copy():
    source = np.arange(4, dtype=np.int64)
    column = as_column(source)
    assert column.dtype == np.dtype("<f8") and column.tolist() == [0.0, 1.0, 2.0, 3.0]
    source[0] = 99  # the caller's array is not shared
    assert column[0] == 0.0
    assert as_column([True, False]).tolist() == [1.0, 0.0]


def test_dates_become_epoch_milliseconds_utc():
    naive = np.array(["2026-01-02T03:04:05.678", "NaT"], dtype="datetime64[ns]")
    ms = as_column(naive)
    assert ms[0] == pd.Timestamp("2026-01-02T03:04:05.678", tz="UTC").value / 1e6
    assert np.isnan(ms[1])
    aware = pd.Series(pd.to_datetime(["2026-01-02 04:04:05.678"]).tz_localize("Europe/Berlin"))
    # the same instant: 04:04 in Berlin (UTC+1 in January) is 03:04 UTC
    assert as_column(aware)[0] == pd.Timestamp("2026-01-02T03:04:05.678", tz="UTC").value / 1e6
    assert as_column(pd.DatetimeIndex(naive[:1]))[0] == ms[0]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["a", "b"], "numbers or dates"),
        (np.zeros((2, 2)), "one-dimensional"),
        ([{"a": 1}], "numbers or dates"),
    ],
)
def test_what_cannot_travel_as_float64_is_refused(values, message):
    with pytest.raises(ConfigurationError, match=message):
        as_column(values, name="trace 0 column 'y'")


def test_extend_appends_and_keeps_the_last_max_points():
    cols = TraceColumns(2)
    cols.replace(0, {"x": [1, 2, 3], "y": [10, 20, 30]})
    added = cols.extend(0, {"x": [4, 5], "y": [40, 50]}, max_points=4)
    assert {k: v.tolist() for k, v in added.items()} == {"x": [4.0, 5.0], "y": [40.0, 50.0]}
    assert cols.columns(0)["x"].tolist() == [2.0, 3.0, 4.0, 5.0]
    assert cols.columns(0)["y"].tolist() == [20.0, 30.0, 40.0, 50.0]
    # more new points than max_points: only the newest stay
    cols.extend(1, {"y": np.arange(10)}, max_points=3)
    assert cols.columns(1)["y"].tolist() == [7.0, 8.0, 9.0]
    # no max_points: unbounded, like plotly.js extendTraces without maxPoints
    cols.extend(1, {"y": [10]}, max_points=None)
    assert cols.columns(1)["y"].tolist() == [7.0, 8.0, 9.0, 10.0]


def test_columns_extended_together_must_be_equally_long():
    cols = TraceColumns(1)
    with pytest.raises(ConfigurationError, match="differ in length"):
        cols.extend(0, {"x": [1, 2], "y": [1]}, max_points=None)
    assert cols.columns(0) == {}  # nothing half-applied


@pytest.mark.parametrize("max_points", [0, -1, 2.5, True])
def test_bad_max_points_is_refused(max_points):
    with pytest.raises(ConfigurationError, match="max_points"):
        TraceColumns(1).extend(0, {"y": [1]}, max_points=max_points)


@pytest.mark.parametrize("trace", [2, -3, "0", 1.0])
def test_bad_trace_index_is_refused(trace):
    with pytest.raises(ConfigurationError, match="trace"):
        TraceColumns(2).replace(trace, {"y": [1]})


def test_column_names_are_attribute_paths():
    cols = TraceColumns(1)
    cols.replace(-1, {"marker.color": [1, 2]})
    assert list(cols.columns(0)) == ["marker.color"]
    for bad in ("", "marker.", 3):
        with pytest.raises(ConfigurationError, match="attribute path"):
            cols.replace(0, {bad: [1]})
    with pytest.raises(ConfigurationError, match="non-empty mapping"):
        cols.replace(0, {})


def test_split_columns_keeps_strings_and_scalars_as_attributes():
    attrs, columns = split_columns(
        {"type": "scatter", "x": np.arange(3), "y": [1.0, 2.0], "text": ["a", "b"], "line": {"width": 2}}
    )
    assert set(columns) == {"x", "y"}
    assert attrs == {"type": "scatter", "text": ["a", "b"], "line": {"width": 2}}


def test_extend_can_replace_the_last_points_first():
    """A point sent again (the forming candle): the last ``replace_last`` points are dropped, then the new
    ones appended and the window trimmed, as the page does."""
    cols = TraceColumns(1)
    cols.replace(0, {"x": [1, 2, 3], "y": [10, 20, 30]})
    added = cols.extend(0, {"x": [3, 4], "y": [35, 40]}, max_points=3, replace_last=1)
    assert added["y"].tolist() == [35.0, 40.0]
    assert cols.columns(0)["x"].tolist() == [2.0, 3.0, 4.0]
    assert cols.columns(0)["y"].tolist() == [20.0, 35.0, 40.0]
    # more to replace than there are points: all of them go
    cols.extend(0, {"x": [9], "y": [90]}, max_points=None, replace_last=10)
    assert cols.columns(0)["y"].tolist() == [90.0]


@pytest.mark.parametrize("replace_last", [-1, 1.5, True, "1"])
def test_bad_replace_last_is_refused(replace_last):
    with pytest.raises(ConfigurationError, match="replace_last"):
        TraceColumns(1).extend(0, {"y": [1]}, max_points=None, replace_last=replace_last)
