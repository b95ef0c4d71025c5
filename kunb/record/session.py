"""One recording directory with both layers: what ``Stream(record_to=...)``, ``kunb record`` and the
notebook's record toggle open.

A :class:`Recording` pairs a :class:`~kunb.record.writer.Recorder` (the normalized events, a sink) with a
:class:`~kunb.record.raw.RawLog` (every frame and REST answer, a wire tap of :mod:`kunb.net.wire`), both
writing under the same directory on threads of their own. A driver (:class:`kunb.Stream`,
:class:`kunb.Account`) hands the recorder its events and the raw log to its source's connections; several
drivers may share one recording (a market stream and an account recorded together).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from ..exceptions import RecordingError
from .raw import RawLog
from .worker import WriterState
from .writer import Recorder

__all__ = ["Recording", "RecordingStats"]

_SEVERITY = (WriterState.FAILED, WriterState.CLOSING, WriterState.RUNNING, WriterState.CLOSED)


@dataclass(frozen=True)
class RecordingStats:
    """Both layers at a glance (the progress line of ``kunb record``, the notebook's record toggle)."""

    state: WriterState  #: the worse of the two writers' states
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


class Recording:
    """Records to ``out``: normalized tables (:attr:`recorder`) and the raw layer (:attr:`raw`).

    Args:
        out: the recording directory (created if missing).
        raw: keep the raw layer too (``False``: the normalized tables only; a replay needs the raw layer).
        flush_interval: seconds between flushes of both layers (the most a killed process loses).
        rotate_seconds: seconds between conversions of the journals to Parquet (see :class:`Recorder`).
        capacity: events (per type) and raw records each queue holds before dropping and counting.
        snapshot_every: seconds between the book snapshots the recorder writes from the deltas.

    Raises:
        ConfigurationError: a bad argument, or another recorder is writing to ``out``.
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        raw: bool = True,
        flush_interval: float = 1.0,
        rotate_seconds: float | None = 60.0,
        capacity: int = 1_000_000,
        snapshot_every: float | None = 60.0,
    ) -> None:
        self.out = Path(out)
        self.recorder = Recorder(
            out,
            flush_interval=flush_interval,
            rotate_seconds=rotate_seconds,
            capacity=capacity,
            snapshot_every=snapshot_every,
        )
        try:
            self.raw: RawLog | None = (
                RawLog(out, flush_interval=flush_interval, capacity=capacity) if raw else None
            )
        except BaseException:
            self.recorder.close()
            raise

    def __repr__(self) -> str:
        return f"<Recording {self.out} {self.stats().describe()}>"

    @property
    def state(self) -> WriterState:
        states = {self.recorder.state} | ({self.raw.state} if self.raw is not None else set())
        return next(state for state in _SEVERITY if state in states)

    def stats(self) -> RecordingStats:
        rec = self.recorder.stats()
        raw = self.raw.stats() if self.raw is not None else None
        errors = [e for e in (rec.error, raw.error if raw is not None else None) if e]
        return RecordingStats(
            self.state,
            rec.events,
            raw.records if raw is not None else 0,
            rec.dropped + (raw.dropped if raw is not None else 0),
            rec.files + (raw.files if raw is not None else 0),
            rec.bytes + (raw.bytes if raw is not None else 0),
            "; ".join(errors) or None,
        )

    def flush(self, timeout: float | None = 30.0) -> None:
        """Block until everything queued so far is durable in both layers (journals and raw files).

        Raises:
            RecordingError: writing failed, or it took longer than ``timeout``.
        """
        self.recorder.flush(timeout)
        if self.raw is not None:
            self.raw.flush(timeout)

    def close(self, timeout: float | None = 60.0) -> None:
        """Write what is queued, close every file and compact (idempotent). Both layers are closed even
        when one fails.

        Raises:
            RecordingError: a layer failed to write (the first failure; the cause is chained).
        """
        errors: list[BaseException] = []
        for writer in (self.recorder, self.raw):
            if writer is None:
                continue
            try:
                writer.close(timeout)
            except RecordingError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    async def aclose(self) -> None:
        """:meth:`close` without blocking the event loop."""
        await asyncio.to_thread(self.close)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
