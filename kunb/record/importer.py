"""Import a cryptofeed text capture of KuCoin's classic protocol into a kunb recording.

cryptofeed's capture (what ``shared/recorded`` holds) is one text file per connection:
``<url> <-> <ts>`` a connect, ``<url> <- <ts>: <json>`` a frame sent, ``<ts>: <json>`` a frame received;
REST answers are ``<url> -> <ts>: <json body>`` lines (``*.http.*`` and the symbol list). Timestamps are
seconds with a fraction. Each frame goes to the raw layer as it is (tokens redacted) and through the
classic decoder into the normalized tables, in receive order, exactly as a live session would.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from ..events import Integrity
from ..exceptions import ConfigurationError, ProtocolError
from ..protocol.classic_decoder import ClassicDecoder
from .raw import RawLog
from .writer import Recorder

__all__ = ["ImportReport", "import_cryptofeed"]

_NS = Decimal(1_000_000_000)
_LEVEL2_SNAPSHOT = "/market/orderbook/level2"


@dataclass
class ImportReport:
    """What :func:`import_cryptofeed` read and wrote."""

    frames_received: int = 0
    frames_sent: int = 0
    rest_answers: int = 0
    events: int = 0
    snapshots: int = 0
    undecodable: int = 0


def _ns(stamp: str) -> int:
    """``'1619378326.3942132'`` -> ns since the epoch, exactly (no float rounding)."""
    return int(Decimal(stamp.strip()) * _NS)


def _lines(path: Path, connection: str) -> Iterator[tuple[int, int, str, str, Any]]:
    """(ns, line number, connection, kind, payload) for each record of one capture file."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("configuration:"):
                continue
            if " <-> " in line:
                url, _, stamp = line.partition(" <-> ")
                yield _ns(stamp), number, connection, "open", url
            elif " <- " in line:
                url, _, rest = line.partition(" <- ")
                stamp, _, body = rest.partition(": ")
                yield _ns(stamp), number, connection, "sent", body
            elif " -> " in line:
                head, _, body = line.partition(": ")
                url, _, stamp = head.partition(" -> ")
                yield _ns(stamp), number, connection, "rest", (url, body)
            else:
                stamp, _, body = line.partition(": ")
                yield _ns(stamp), number, connection, "recv", body


def _connection(path: Path) -> str:
    """``KUCOIN.ws.1.0`` -> ``ws-1``; ``KUCOIN.http.0.0`` -> ``http-0``; ``KUCOIN.0`` -> ``rest``."""
    parts = path.name.split(".")
    return f"{parts[1]}-{parts[2]}" if len(parts) >= 4 else "rest"


def import_cryptofeed(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    exchange: str = "KUCOIN",
    snapshot_every: float | None = 60.0,
) -> ImportReport:
    """Import every ``<exchange>.*`` capture file in ``source`` into the recording directory ``out``.

    REST level-2 snapshots become ``book_snapshots`` (full books); the symbol list goes to the raw
    layer only. Frames the decoder cannot read are counted (``undecodable``) and written as
    ``integrity`` rows of kind ``bad_message``, as a live driver would.

    Raises:
        ConfigurationError: no capture files in ``source``, or ``out`` is being recorded to.
        RecordingError: writing failed.
    """
    files = sorted(Path(source).glob(f"{exchange}.*"))
    if not files:
        raise ConfigurationError(f"no {exchange}.* capture files in {source}")
    report = ImportReport()
    decoder = ClassicDecoder()
    merged = heapq.merge(*(_lines(path, _connection(path)) for path in files))
    recorder = Recorder(out, rotate_seconds=None, snapshot_every=snapshot_every)
    raw = RawLog(out)
    try:
        for count, (ns, _number, connection, kind, payload) in enumerate(merged):
            if kind == "open":
                raw.opened(connection, ns, payload)
            elif kind == "sent":
                raw.sent(connection, ns, payload)
                report.frames_sent += 1
            elif kind == "rest":
                url, body = payload
                raw.rest(connection, ns, "GET", url, 200, body)
                report.rest_answers += 1
                if _LEVEL2_SNAPSHOT in url:
                    symbol = parse_qs(urlsplit(url).query)["symbol"][0]
                    recorder(decoder.book_snapshot(symbol, orjson.loads(body)["data"], ns))
                    report.snapshots += 1
            else:
                raw.received(connection, ns, (payload,))
                report.frames_received += 1
                _decode(decoder, recorder, report, payload, ns)
            if count % 50_000 == 49_999:  # an import must not overflow the queues: wait for the writers
                recorder.flush()
                raw.flush()
    finally:
        recorder.close()
        raw.close()
    return report


def _decode(decoder: ClassicDecoder, recorder: Recorder, report: ImportReport, body: str, ns: int) -> None:
    try:
        frame = orjson.loads(body)
        events = decoder.decode(frame, ns) if frame.get("type") == "message" else ()
    except (orjson.JSONDecodeError, ProtocolError, AttributeError) as exc:
        report.undecodable += 1
        recorder(Integrity("bad_message", "", str(exc)[:200], None, ns))
        return
    for event in events:
        recorder(event)
    report.events += len(events)
