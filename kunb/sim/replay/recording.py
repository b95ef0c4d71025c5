"""The raw layer of a kunb recording, read for a replay over the wire: records merged by local time.

The format is :mod:`kunb.record.raw`'s (one zstd-compressed JSON line per record, files under
``raw/date=YYYY-MM-DD/``, an open file's readable prefix in a hidden ``.*.tmp``); it is read here again
because the embedded exchange shares no code with the client (``tests/sim/test_sim_layers.py``). Only
what a replay serves is kept: the frames received (``recv``) and the REST answers (``rest``).
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import zstandard

from kunb.exceptions import ConfigurationError, RecordingError

__all__ = ["Record", "raw_paths", "read_records", "subscribed_symbols"]

_SUFFIX = ".jsonl.zst"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Record:
    """One recorded frame received (``kind`` ``recv``: ``text``) or REST answer (``rest``: ``url``,
    ``status``, ``text`` the body), at ``t`` ns of the recording's clock."""

    t: int
    kind: str
    text: str
    url: str = ""
    status: int = 0


def raw_paths(out: str | os.PathLike[str]) -> list[Path]:
    """The raw files of a recording, closed and open, per day in name order.

    Raises:
        ConfigurationError: ``out`` has no raw layer.
    """
    root = Path(out) / "raw"
    paths = sorted(
        path
        for folder in sorted(root.glob("date=*"))
        for path in folder.iterdir()
        if path.name.endswith((_SUFFIX, _SUFFIX + ".tmp"))
    )
    if not paths:
        raise ConfigurationError(f"{out} holds no raw layer (raw/date=.../*{_SUFFIX}) to replay")
    return paths


def _lines(path: Path) -> Iterator[bytes]:
    """The complete lines of one file, streamed (a torn last block or line is left out)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with below, in the generator
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc}") from exc
    with handle:
        reader = zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True)
        pending = b""
        while True:
            try:
                chunk = reader.read(_CHUNK)
            except zstandard.ZstdError:
                return  # a killed writer's torn block: what came before it is the recording
            if not chunk:
                return
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            yield from lines


def _records(path: Path, index: int) -> Iterator[tuple[int, int, Record]]:
    for line in _lines(path):
        if b'"k":"recv"' not in line and b'"k":"rest"' not in line:
            continue  # opens, closes, sent frames: the clients make their own
        try:
            value: dict[str, Any] = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise RecordingError(f"{path}: a line is not JSON") from exc
        text = value.get("d")
        if not isinstance(text, str):
            continue  # a binary frame: not the classic protocol
        if value["k"] == "recv":
            yield value["t"], index, Record(value["t"], "recv", text)
        else:
            yield (
                value["t"],
                index,
                Record(value["t"], "rest", text, str(value.get("u", "")), int(value["s"])),
            )


def read_records(out: str | os.PathLike[str]) -> Iterator[Record]:
    """Every frame received and REST answer of every connection, in the recording's time order.

    Raises:
        ConfigurationError: no raw layer. RecordingError: a file cannot be read.
    """
    merged = heapq.merge(*(_records(path, i) for i, path in enumerate(raw_paths(out))))
    for _t, _index, record in merged:
        yield record


def subscribed_symbols(out: str | os.PathLike[str]) -> list[str]:
    """The symbols the recording's classic subscriptions named (``sent`` subscribe frames), in order.

    Raises:
        ConfigurationError: no raw layer. RecordingError: a file cannot be read.
    """
    found: dict[str, None] = {}
    for path in raw_paths(out):
        for line in _lines(path):
            if b'"k":"sent"' not in line or b"subscribe" not in line:
                continue
            try:
                frame = orjson.loads(orjson.loads(line).get("d") or "null")
            except orjson.JSONDecodeError:
                continue
            topic = frame.get("topic") if isinstance(frame, dict) else None
            if frame is None or frame.get("type") != "subscribe" or not isinstance(topic, str):
                continue
            prefix, _, args = topic.partition(":")
            if not prefix.startswith(("/market/", "/spotMarket/level")):
                continue
            for arg in (a.strip() for a in args.split(",")):
                symbol = arg.rpartition("_")[0] if prefix == "/market/candles" else arg
                if symbol and symbol != "all":
                    found.setdefault(symbol, None)
    return list(found)
