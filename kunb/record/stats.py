"""What a recording has written so far, both layers at a glance (``kunb record``'s progress line, the
notebook's record toggle, the badge)."""

from __future__ import annotations

from dataclasses import dataclass

from .raw import RawStats
from .worker import WriterState
from .writer import RecorderStats

__all__ = ["RecordingStats", "combined", "worst"]

_SEVERITY = (WriterState.FAILED, WriterState.CLOSING, WriterState.RUNNING, WriterState.CLOSED)


@dataclass(frozen=True)
class RecordingStats:
    """Both layers at a glance."""

    state: WriterState  #: the worst of the writers' states
    events: int  #: normalized events accepted
    frames: int  #: raw records written (frames, REST answers, opens and closes)
    dropped: int  #: events and raw records refused because a queue was full (each on record as overflow)
    files: int  #: closed files (Parquet files written, raw files closed)
    bytes: int  #: bytes on disk, both layers (closed and open files)
    error: str | None

    def describe(self) -> str:
        """One line: ``2,310 events, 4,620 frames, 7 files, 1.2 MB`` (and drops and errors when any)."""
        size = self.bytes / 1e6
        text = f"{self.events:,} events, {self.frames:,} frames, {self.files} files, {size:,.1f} MB"
        if self.dropped:
            text += f", {self.dropped:,} dropped (queue full)"
        if self.error:
            text += f", failed: {self.error}"
        return text


def worst(*states: WriterState) -> WriterState:
    """The state that says most about trouble (failed, closing, running, closed)."""
    return next(state for state in _SEVERITY if state in states)


def combined(recorder: RecorderStats, raw: RawStats | None) -> RecordingStats:
    """One recording's stats from its recorder's and raw log's."""
    errors = [e for e in (recorder.error, raw.error if raw is not None else None) if e]
    return RecordingStats(
        worst(recorder.state, *((raw.state,) if raw is not None else ())),
        recorder.events,
        raw.records if raw is not None else 0,
        recorder.dropped + (raw.dropped if raw is not None else 0),
        recorder.files + (raw.files if raw is not None else 0),
        recorder.bytes + (raw.bytes if raw is not None else 0),
        "; ".join(errors) or None,
    )
