"""LiveHTML, the panels' tables and badges: the kernel sends each new HTML as the widget's ``value`` (a
page opened later shows the current one); the page writes it only while the element is on screen (the
browser tests check that half: tests/browser/test_panels.py)."""

from __future__ import annotations

from typing import Any

import pytest
from recordingcomm import record_comms

from kunb.notebook.htmltable import TABLE_CSS, Cell, Column, table
from kunb.notebook.livehtml import LiveHTML
from kunb.notebook.tradespanel import TradesPanel


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    return record_comms(monkeypatch)


def _updates(log: list[dict[str, Any]], widget: LiveHTML) -> list[str]:
    mine = [m for m in log if m["comm_id"] == widget.model_id and m["type"] == "comm_msg"]
    return [m["data"]["state"]["value"] for m in mine if "value" in m["data"].get("state", {})]


def test_each_new_value_is_sent_and_the_state_holds_the_latest(sent):
    """Setting value sends it (the page decides when to write it); the widget's state, what a reloaded page
    gets, holds the newest HTML; an unchanged value sends nothing."""
    html = LiveHTML("<b>1</b>")
    html.value = "<b>2</b>"
    html.value = "<b>2</b>"
    html.value = "<b>3</b>"
    assert _updates(sent, html) == ["<b>2</b>", "<b>3</b>"]
    assert html.get_state()["value"] == "<b>3</b>"


def test_the_front_end_writes_only_while_on_screen():
    """The ESM waits for the element to be on screen (IntersectionObserver, the page's visibility) before it
    writes, and writes once per animation frame at most."""
    esm = LiveHTML().get_state()["_esm"]
    assert "IntersectionObserver" in esm and "visibilityState" in esm and "requestAnimationFrame" in esm


def test_the_tape_and_its_badge_are_live_html(sent):
    """The trades panel's tape and badge are LiveHTML, so a hidden tape costs the page nothing."""
    panel = TradesPanel(["BTC-USDT"], rows=5, simulated=True)
    assert isinstance(panel.tape, LiveHTML) and isinstance(panel.badge, LiveHTML)


def test_the_table_rules_travel_once_per_widget_not_with_every_table():
    """A table is classes only (no <style> element, whose every insertion restyles the whole page); the
    rules for those classes are the LiveHTML's ``css``, which its front end adds to the document once."""
    html = table("kunb-x", [Column("price", "price")], [({}, [Cell("1.5", 1.5)])])
    assert "<style" not in html and 'class="kunb-table kunb-x"' in html and 'class="kunb-price n"' in html
    state = LiveHTML().get_state()
    assert state["css"] == TABLE_CSS and "table.kunb-table .n{text-align:right}" in TABLE_CSS
    assert "document.getElementById(CSS_ID)" in state["_esm"]


async def test_show_sends_at_most_one_html_per_interval_and_the_newest_at_its_end(sent):
    """``show`` (what the panels' tables use): the first HTML goes at once; within ``min_interval`` the
    newer ones are held back, and the newest of them goes when the interval ends (never lost, never a
    stale table); unchanged HTML sends nothing."""
    import asyncio

    html = LiveHTML(min_interval=0.2)
    html.show("<b>1</b>")
    html.show("<b>2</b>")
    html.show("<b>3</b>")
    assert _updates(sent, html) == ["<b>1</b>"]
    for _ in range(100):  # bounded wait for the flush at the interval's end
        if len(_updates(sent, html)) > 1:
            break
        await asyncio.sleep(0.02)
    assert _updates(sent, html) == ["<b>1</b>", "<b>3</b>"]
    html.show("<b>3</b>")
    assert _updates(sent, html) == ["<b>1</b>", "<b>3</b>"]


async def test_show_without_an_interval_sends_every_change(sent):
    html = LiveHTML()
    html.show("<b>1</b>")
    html.show("<b>2</b>")
    assert _updates(sent, html) == ["<b>1</b>", "<b>2</b>"]


def test_the_front_end_patches_what_changed_instead_of_replacing_the_html():
    """The ESM patches text and attributes in place (a new table each time made the browser restyle and
    lay out all of it); the browser tests check the page still shows each new value."""
    esm = LiveHTML().get_state()["_esm"]
    assert "function patch(" in esm and "el.innerHTML" not in esm


async def test_an_urgent_html_goes_at_once_within_the_interval(sent):
    """``urgent`` (a state change, a table's first rows) is not held back by ``min_interval``."""
    html = LiveHTML(min_interval=60.0)
    html.show("<b>waiting</b>")
    html.show("<b>first rows</b>", urgent=True)
    html.show("<b>later rows</b>")
    assert _updates(sent, html) == ["<b>waiting</b>", "<b>first rows</b>"]
    assert html.newest == "<b>later rows</b>" and html.value == "<b>first rows</b>"
    html.close()
