"""One recording directory with both layers: what ``Stream(record_to=...)``, ``kunb record`` and the
notebook's record toggle open.

A :class:`Recording` pairs a :class:`~kunb.record.writer.Recorder` (the normalized events, a sink) with a
:class:`~kunb.record.raw.RawLog` (every frame and REST answer, a wire tap of :mod:`kunb.net.wire`), both
writing under the same directory on threads of their own, or in a process of its own
(:mod:`kunb.record.process`). A driver (:class:`kunb.Stream`, :class:`kunb.Account`) hands
:attr:`~Recording.sink` its events and :attr:`~Recording.tap` to its source's connections; several
drivers may share one recording (a market stream and an account recorded together).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Self

from ..events import Event
from ..exceptions import RecordingError
from .process import Shipper
from .raw import RawLog
from .stats import RecordingStats, combined
from .worker import WriterState
from .writer import Recorder

__all__ = ["Recording", "RecordingStats"]


class Recording:
    """Records to ``out``: normalized tables and the raw layer (see the module docstring).

    Args:
        out: the recording directory (created if missing).
        raw: keep the raw layer too (``False``: the normalized tables only; a replay needs the raw layer).
        flush_interval: seconds between flushes of both layers (the most a killed process loses).
        rotate_seconds: seconds between conversions of the journals to Parquet (see :class:`Recorder`).
        capacity: events (per type) and raw records each queue holds before dropping and counting.
        snapshot_every: seconds between the book snapshots the recorder writes from the deltas.
        process: write in a process of its own (:mod:`kunb.record.process`): the feed's interpreter then
            only queues and ships, and the normalized events are rebuilt there from the raw frames by the
            same decoders (the drivers' integrity events are forwarded). For busy feeds and long headless
            runs (``kunb record`` uses it); starting takes a second or so.
        writer_nice: with ``process=True``, how much lower the writer process's scheduling priority is
            than the feed's (an ``os.nice`` increment; 0, the default: the same). A lower priority lets a
            feed keep its CPU on a machine with no core free while the writer catches up later; its
            backlog stays bounded by ``capacity`` (overflow counted, never silent).

    Raises:
        ConfigurationError: a bad argument, or another recorder is writing to ``out``.
        RecordingError: the writer process did not start.
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
        process: bool = False,
        writer_nice: int = 0,
    ) -> None:
        self.out = Path(out)
        self.process = process
        self.recorder: Recorder | None = None
        """The normalized layer's writer (``None`` with ``process=True``: it runs in the writer process)."""
        self.raw: RawLog | None = None
        """The raw layer's writer (``None`` with ``process=True``, or without the raw layer)."""
        self._shipper: Shipper | None = None
        options = {
            "flush_interval": flush_interval,
            "rotate_seconds": rotate_seconds,
            "capacity": capacity,
            "snapshot_every": snapshot_every,
        }
        if process:
            self._shipper = Shipper(out, {**options, "raw": raw, "nice": writer_nice}, capacity=capacity)
            return
        self.recorder = Recorder(
            out,
            flush_interval=flush_interval,
            rotate_seconds=rotate_seconds,
            capacity=capacity,
            snapshot_every=snapshot_every,
        )
        try:
            self.raw = RawLog(out, flush_interval=flush_interval, capacity=capacity) if raw else None
        except BaseException:
            self.recorder.close()
            raise

    def __repr__(self) -> str:
        return f"<Recording {self.out} {self.stats().describe()}>"

    @property
    def sink(self) -> Callable[[Event], None]:
        """What a driver calls with every event it applied (:meth:`kunb.Stream.add_sink`)."""
        if self._shipper is not None:
            return self._shipper
        assert self.recorder is not None
        return self.recorder

    @property
    def tap(self) -> RawLog | Shipper | None:
        """The wire tap a driver's source hands its connections and REST clients (``None``: no raw
        layer)."""
        return self._shipper if self._shipper is not None else self.raw

    @property
    def queued(self) -> int:
        """Events and records waiting for a writer: here, and with ``process=True`` also the frames the
        writer process has read and not written yet (as of its latest report, at most 0.1 s old)."""
        if self._shipper is not None:
            return self._shipper.queued
        assert self.recorder is not None
        return self.recorder.queued + (self.raw.queued if self.raw is not None else 0)

    @property
    def state(self) -> WriterState:
        if self._shipper is not None:
            return self._shipper.state
        return self.stats().state

    def stats(self) -> RecordingStats:
        if self._shipper is not None:
            report = self._shipper.stats()
            return RecordingStats(
                self._shipper.state
                if self._shipper.state is not WriterState.RUNNING
                else WriterState(report.get("state", "running")),
                report.get("events", 0),
                report.get("frames", 0),
                report.get("dropped", 0),
                report.get("files", 0),
                report.get("bytes", 0),
                report.get("error"),
            )
        assert self.recorder is not None
        return combined(self.recorder.stats(), self.raw.stats() if self.raw is not None else None)

    def flush(self, timeout: float | None = 30.0) -> None:
        """Block until everything queued so far is durable in both layers (journals and raw files).

        Raises:
            RecordingError: writing failed, or it took longer than ``timeout``.
        """
        if self._shipper is not None:
            self._shipper.flush(timeout)
            return
        assert self.recorder is not None
        self.recorder.flush(timeout)
        if self.raw is not None:
            self.raw.flush(timeout)

    def close(self, timeout: float | None = 60.0) -> None:
        """Write what is queued, close every file and compact (idempotent). Both layers are closed even
        when one fails.

        Raises:
            RecordingError: a layer failed to write (the first failure; the cause is chained).
        """
        if self._shipper is not None:
            self._shipper.close(timeout)
            return
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
