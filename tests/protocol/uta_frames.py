"""Test helper (not a test module): the UTA golden frames of tests/data/uta, read with orjson."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

DATA = Path(__file__).resolve().parent.parent / "data" / "uta"


def raw(name: str) -> bytes:
    """The golden frame ``name`` as the bytes a binary WebSocket frame would carry."""
    return (DATA / f"{name}.json").read_bytes().strip()


def golden(name: str) -> dict[str, Any]:
    """The golden frame ``name``, parsed (big integers stay exact ints)."""
    return orjson.loads(raw(name))


def names() -> list[str]:
    """Every golden frame's name."""
    return sorted(p.stem for p in DATA.glob("*.json"))
