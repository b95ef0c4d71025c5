"""How kunb's charts look: colours, axes and the shared layout of every panel's plotly figure.

Axes write numbers the way :mod:`kunb.notebook.formats` does in tables (separators, the symbol's
decimals, no SI suffixes) and times in UTC with their date; series sharing an axis get a legend. Every
axis skips plotly.js's tick-label overflow check (``ticklabeloverflow="allow"``), which measures each
label after every redraw: the margins leave room, and a redraw gets cheaper. Figures take the width of
their output (no fixed width; the page redraws them when it changes).
"""

from __future__ import annotations

from typing import Any

import plotly.colors as pc

from .formats import price_tickformat, size_tickformat

__all__ = [
    "BUY",
    "LEGEND",
    "MUTED",
    "SELL",
    "base_layout",
    "colour",
    "price_axis",
    "size_axis",
    "time_axis",
    "value_axis",
]

BUY = "#1a7f37"  #: bids, buys, up candles
SELL = "#b42318"  #: asks, sells, down candles
MUTED = "#57606a"

TIME_HOVER = "%Y-%m-%d %H:%M:%S.%L UTC"

#: a horizontal legend above the plot area, right-aligned (it never covers data)
LEGEND: dict[str, Any] = {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0}


def colour(i: int) -> str:
    """The i-th colour of plotly's default palette: a symbol keeps its colour in every subplot."""
    palette: list[str] = pc.qualitative.Plotly
    return palette[i % len(palette)]


def _axis(**extra: Any) -> dict[str, Any]:
    return {"ticklabeloverflow": "allow", "exponentformat": "none", "separatethousands": True, **extra}


def time_axis(*, title: bool = True, **extra: Any) -> dict[str, Any]:
    """A date axis for float64 epoch-ms x: UTC, hover with date, time and zone."""
    axis = _axis(type="date", hoverformat=TIME_HOVER, **extra)
    if title:
        axis["title"] = {"text": "time (UTC)", "standoff": 4}
    return axis


def price_axis(precision: int | None, *, title: str | None = None, **extra: Any) -> dict[str, Any]:
    """A price axis: the symbol's decimals on ticks and in the hover."""
    fmt = price_tickformat(precision)
    axis = _axis(tickformat=fmt, hoverformat=fmt, **extra)
    if title:
        axis["title"] = {"text": title}
    return axis


def size_axis(precision: int | None, *, title: str | None = None, **extra: Any) -> dict[str, Any]:
    """A size or volume axis: separators, trailing zeros dropped, never scientific notation."""
    fmt = size_tickformat(precision)
    axis = _axis(tickformat=fmt, hoverformat=fmt, rangemode="tozero", **extra)
    if title:
        axis["title"] = {"text": title}
    return axis


def value_axis(decimals: int = 2, *, title: str | None = None, **extra: Any) -> dict[str, Any]:
    """An axis of amounts in a quote currency or of basis points (fixed decimals)."""
    fmt = f",.{decimals}f"
    axis = _axis(tickformat=fmt, hoverformat=fmt, **extra)
    if title:
        axis["title"] = {"text": title}
    return axis


def base_layout(title: str, *, height: int, legend: bool = False, top: int = 64) -> dict[str, Any]:
    """What every panel's figure shares: the title, margins, a legend when series share an axis, the
    user's zoom kept across redraws (``uirevision``), autosized to the output's width."""
    return {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        "height": height,
        "autosize": True,
        "margin": {"l": 72, "r": 24, "t": top, "b": 40},
        "showlegend": legend,
        "legend": LEGEND,
        "hovermode": "x unified" if legend else "closest",
        "uirevision": "kunb",
        "font": {"size": 12},
    }
