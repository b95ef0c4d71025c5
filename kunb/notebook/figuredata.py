"""The kernel's copy of a live figure's trace arrays: numeric columns as float64, extended and trimmed.

A :class:`~kunb.notebook.figure.LiveFigure` sends only what changed to the browser (plotly.js
``extendTraces`` semantics: append, then keep the last ``max_points``) and keeps the same arrays here, so
that a page opened or reloaded later gets the current window in the widget's state. Every column travels
as little-endian float64 (a binary buffer, never a JSON list); dates become epoch milliseconds, the
number a plotly.js date axis reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..exceptions import ConfigurationError

__all__ = ["Columns", "TraceColumns", "as_column", "split_columns"]

Columns = dict[str, np.ndarray]

_F8 = np.dtype("<f8")


def as_column(values: Any, *, name: str = "column") -> np.ndarray:
    """``values`` as a 1-D little-endian float64 array (a copy the caller cannot change afterwards).

    Numbers and booleans convert as they are; ``datetime64`` values (NumPy arrays, pandas Series or
    indexes, tz-aware ones included) become epoch milliseconds (UTC); NaT and NaN stay NaN (a gap).

    Raises:
        ConfigurationError: the values are not one-dimensional, or not numbers or dates (strings,
            objects), so they cannot travel as float64.
    """
    dtype = getattr(values, "dtype", None)
    if getattr(dtype, "kind", None) == "M":  # NumPy's datetime64 and pandas' tz-aware dtype alike
        return _epoch_ms(values, name)
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{name}: cannot make an array of {type(values).__name__}") from exc
    if array.dtype.kind == "M":
        return _epoch_ms(array, name)
    if array.ndim != 1:
        raise ConfigurationError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ConfigurationError(
            f"{name} must hold numbers or dates (it travels as float64), got dtype {array.dtype}"
        )
    return np.array(array, dtype=_F8, copy=True)


def _epoch_ms(values: Any, name: str) -> np.ndarray:
    # pandas here, not at the top: the panels send epoch ms already, and their first draw should not wait
    # for pandas' import (~0.3 s); dates from a user's frame mean pandas is loaded anyway
    import pandas as pd

    stamps = pd.DatetimeIndex(np.asarray(values) if not hasattr(values, "tz") else values)
    if stamps.tz is not None:
        stamps = stamps.tz_convert("UTC").tz_localize(None)
    if stamps.ndim != 1:
        raise ConfigurationError(f"{name} must be one-dimensional")
    ns = stamps.as_unit("ns").asi8.astype(_F8)
    ns[np.asarray(stamps.isna())] = np.nan
    return ns / 1e6


class TraceColumns:
    """The numeric columns (``x``, ``y``, ``open``, ``marker.color``...) of every trace of one figure."""

    def __init__(self, traces: int) -> None:
        self._columns: list[Columns] = [{} for _ in range(traces)]

    def __len__(self) -> int:
        return len(self._columns)

    def columns(self, trace: int) -> Columns:
        """Trace ``trace``'s columns (read-only views: the arrays are replaced, never written in place)."""
        return dict(self._columns[self._index(trace)])

    def replace(self, trace: int, columns: Mapping[str, Any]) -> Columns:
        """Set the given columns of ``trace``; returns them as float64 (what is sent)."""
        index = self._index(trace)
        new = self._convert(index, columns)
        self._columns[index].update(new)
        return new

    def extend(
        self, trace: int, columns: Mapping[str, Any], max_points: int | None, replace_last: int = 0
    ) -> Columns:
        """Drop the last ``replace_last`` points of the given columns of ``trace``, append the new ones and
        keep the last ``max_points`` of each.

        The columns given together must be equally long (they are points: x with its y). ``replace_last``
        sends a point again that changed since it was sent (the forming candle). Returns the appended
        float64 arrays (what is sent: the browser applies the same drop, append and trim).
        """
        index = self._index(trace)
        if max_points is not None and (isinstance(max_points, bool) or int(max_points) != max_points):
            raise ConfigurationError(f"max_points must be a whole number or None, got {max_points!r}")
        if max_points is not None and max_points < 1:
            raise ConfigurationError(f"max_points must be >= 1, got {max_points!r}")
        drop: object = replace_last  # checked at run time: a notebook user may pass anything
        if isinstance(drop, bool) or not isinstance(drop, int) or drop < 0:
            raise ConfigurationError(f"replace_last must be a whole number >= 0, got {replace_last!r}")
        new = self._convert(index, columns)
        lengths = {key: len(value) for key, value in new.items()}
        if len(set(lengths.values())) > 1:
            raise ConfigurationError(f"trace {index}: columns extended together differ in length: {lengths}")
        current = self._columns[index]
        for key, added in new.items():
            kept = current.get(key, np.empty(0, _F8))
            if replace_last:
                kept = kept[: max(len(kept) - replace_last, 0)]
            joined = np.concatenate((kept, added))
            current[key] = joined[-max_points:] if max_points is not None else joined
        return new

    def append_trace(self) -> int:
        self._columns.append({})
        return len(self._columns) - 1

    def snapshot(self) -> list[Columns]:
        """Every trace's columns (for the widget state a reloaded page draws from)."""
        return [dict(c) for c in self._columns]

    def _index(self, trace: int) -> int:
        if isinstance(trace, bool) or not isinstance(trace, int | np.integer):
            raise ConfigurationError(f"trace must be an index (int), got {type(trace).__name__}")
        if not -len(self._columns) <= trace < len(self._columns):
            raise ConfigurationError(f"no trace {trace}: the figure has {len(self._columns)} traces")
        return int(trace) % len(self._columns)

    @staticmethod
    def _convert(index: int, columns: Mapping[str, Any]) -> Columns:
        given: object = columns  # checked at run time: a notebook user may pass anything
        if not isinstance(given, Mapping) or not given:
            raise ConfigurationError(f"trace {index}: give the columns as a non-empty mapping name -> values")
        return {
            _column_name(index, key): as_column(values, name=f"trace {index} column {key!r}")
            for key, values in columns.items()
        }


def _column_name(index: int, key: object) -> str:
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ConfigurationError(f"trace {index}: a column name is an attribute path ('x', 'marker.color')")
    return key


def split_columns(attributes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate a trace's top-level arrays of numbers or dates (its columns) from its other attributes.

    Lists of strings (``text``, ``hovertext``) and everything else stay attributes and travel as JSON.
    """
    columns: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in attributes.items():
        (columns if _is_numeric_array(value) else rest)[key] = value
    return rest, columns


def _is_numeric_array(value: Any) -> bool:
    if not isinstance(value, list | tuple) and not hasattr(value, "__array__"):
        return False
    dtype = getattr(value, "dtype", None)
    if getattr(dtype, "kind", None) == "M":  # pandas' tz-aware dates too (np.asarray makes them objects)
        return True
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return False
    return array.ndim == 1 and array.dtype.kind in "biufM"
