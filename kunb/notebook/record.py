"""The record toggle of a live panel: a button that records what the panel streams, and a label saying how
much is on disk.

``RecordToggle(live)`` is self-contained: a panel places ``toggle.widget`` where it wants it. Pressing the
button calls :meth:`kunb.notebook.live.LiveObject.record` (both layers, into ``recordings/<kind>-<UTC
time>`` beside the notebook unless the panel was given a directory), which restarts the panel's driver so
the recording holds its connection from the first frame (a replay needs the subscriptions and the book
snapshots); pressing it again stops recording the same way and closes the files. The label is fed by the
recording's stats (files, size, events; drops when a queue overflowed) each time the panel redraws.

Hooks for browser tests: ``.kunb-record`` (the box), ``.kunb-record-toggle`` (the button),
``span.kunb-record-state[data-recording]`` (``true``/``false``), ``[data-files]``, ``[data-bytes]`` and
``[data-dropped]`` on it.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Protocol

import ipywidgets as widgets

if TYPE_CHECKING:  # pragma: no cover
    from ..record.session import Recording, RecordingStats

__all__ = ["RecordToggle", "Recordable", "record_label_html"]


class Recordable(Protocol):
    """What the toggle drives (a :class:`kunb.notebook.live.LiveObject`)."""

    @property
    def recording(self) -> Recording | None: ...

    def record(self) -> Recording: ...

    def stop_recording(self) -> None: ...


def record_label_html(stats: RecordingStats | None, where: str = "") -> str:
    """The label: ``recording: 7 files, 1.2 MB (2,310 events) in <dir>``, or ``not recording``."""
    if stats is None:
        return (
            '<span class="kunb-record-state" data-recording="false" data-files="0" data-bytes="0" '
            'data-dropped="0" style="color:#57606a">not recording</span>'
        )
    dropped = (
        f', <b style="color:#b42318">{stats.dropped:,} dropped</b> (queue full)' if stats.dropped else ""
    )
    failed = f', <b style="color:#b42318">failed: {html.escape(stats.error)}</b>' if stats.error else ""
    return (
        f'<span class="kunb-record-state" data-recording="true" data-files="{stats.files}" '
        f'data-bytes="{stats.bytes}" data-dropped="{stats.dropped}">'
        f'<span style="color:#b42318">&#9679;</span> recording: {stats.files} files, '
        f"{stats.bytes / 1e6:,.1f} MB ({stats.events:,} events){dropped}{failed} in "
        f"<code>{html.escape(where)}</code></span>"
    )


class RecordToggle:
    """A record button and its label for one live panel (see the module docstring)."""

    def __init__(self, live: Recordable) -> None:
        self.live = live
        self.toggle = widgets.ToggleButton(
            value=live.recording is not None,
            description="record",
            icon="circle",
            tooltip="record this panel's stream to Parquet and raw frames (kunb.record)",
            layout=widgets.Layout(width="auto"),
        )
        self.toggle.add_class("kunb-record-toggle")
        self.label = widgets.HTML()
        self.widget = widgets.HBox([self.toggle, self.label], layout=widgets.Layout(align_items="center"))
        self.widget.add_class("kunb-record")
        self.toggle.observe(self._toggled, names="value")
        self.refresh()

    def _toggled(self, change: dict[str, Any]) -> None:
        if change["new"] and self.live.recording is None:
            self.live.record()
        elif not change["new"] and self.live.recording is not None:
            self.live.stop_recording()
        self.refresh()

    def refresh(self) -> None:
        """Redraw the label from the recording's stats (and keep the button in step with it)."""
        recording = self.live.recording
        on = recording is not None
        if self.toggle.value != on:
            self.toggle.value = on
        stats = recording.stats() if recording is not None else None
        text = record_label_html(stats, str(recording.out) if recording is not None else "")
        if self.label.value != text:
            self.label.value = text
