"""The panels' HTML tables: one look (padding, aligned numbers, a light rule) and stable test hooks.

A table is a list of :class:`Column` and rows of :class:`Cell`; numbers are right-aligned in tabular
figures so digits line up, every cell carries its class (``td.kunb-<name>``) and, for numbers, the raw
value in ``data-value`` for scripts and browser tests reading the page. The look is :data:`TABLE_CSS`,
rules by class that the page gets once (:class:`~kunb.notebook.livehtml.LiveHTML` adds them to the
document), so cells stay small on the wire. Text is escaped; a cell's ``style`` is trusted (the panels
build it).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["TABLE_CSS", "Cell", "Column", "caption", "table"]

# Rules by class, once per page: the cells carry only their class, so a table re-sent a few times a second
# stays small (inline styles on every cell were most of its bytes), and no <style> element comes with each
# table (adding one to the document makes the browser restyle the whole page, JupyterLab's included).
TABLE_CSS = (
    "table.kunb-table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:12.5px;"
    "line-height:1.45;margin:2px 0 6px 0}"
    "table.kunb-table th{padding:3px 10px;border-bottom:1px solid #d0d7de;font-weight:600;color:#57606a;"
    "white-space:nowrap;text-align:left}"
    "table.kunb-table td{padding:2px 10px;border-bottom:1px solid #f0f2f4;white-space:nowrap;text-align:left}"
    "table.kunb-table .n{text-align:right}"
)


@dataclass(frozen=True, slots=True)
class Column:
    """A column: its class name (``td.kunb-<name>``), header, and whether it holds numbers."""

    name: str
    header: str
    numeric: bool = True


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell: the text shown, the raw number behind it (``data-value``) and extra CSS."""

    text: str
    value: float | str | None = None
    style: str = ""


_NUM = ' class="n"'


def caption(text: str) -> str:
    return (
        f'<div class="kunb-caption" style="font-weight:600;margin:6px 0 2px 0;font-size:13px">'
        f"{html.escape(text)}</div>"
    )


def _value(value: float | str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(repr(value) if isinstance(value, float) else str(value))


def _td(column: Column, cell: Cell) -> str:
    kind = f"kunb-{column.name} n" if column.numeric else f"kunb-{column.name}"
    style = f' style="{cell.style}"' if cell.style else ""
    return f'<td class="{kind}" data-value="{_value(cell.value)}"{style}>{html.escape(cell.text)}</td>'


def table(
    css_class: str,
    columns: Sequence[Column],
    rows: Sequence[tuple[Mapping[str, str], Sequence[Cell]]],
    *,
    empty: str = "nothing yet",
) -> str:
    """``<table class="css_class">``: one ``<tr>`` per row, with the row's attributes (``data-symbol``...)."""
    head = "".join(f"<th{_NUM if c.numeric else ''}>{html.escape(c.header)}</th>" for c in columns)
    body = []
    for attributes, cells in rows:
        attrs = "".join(f' {k}="{html.escape(v)}"' for k, v in attributes.items())
        tds = "".join(_td(col, cell) for col, cell in zip(columns, cells, strict=True))
        body.append(f"<tr{attrs}>{tds}</tr>")
    if not body:
        body.append(
            f'<tr class="kunb-empty"><td colspan="{len(columns)}" style="color:#57606a">'
            f"{html.escape(empty)}</td></tr>"
        )
    # a table wider than the output scrolls inside its own box instead of being clipped
    return (
        '<div style="overflow-x:auto;max-width:100%">'
        f'<table class="kunb-table {html.escape(css_class)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )
