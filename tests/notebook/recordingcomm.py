"""A comm that records what widgets publish, installed through the comm package's ``create_comm`` hook."""

from __future__ import annotations

from typing import Any, ClassVar

import comm
import pytest
from comm.base_comm import BaseComm

from kunb.notebook import plotlyjs

__all__ = ["RecordingComm", "record_comms"]


class RecordingComm(BaseComm):
    log: ClassVar[list[dict[str, Any]]] = []

    def publish_msg(self, msg_type: str, data=None, metadata=None, buffers=None, **keys: Any) -> None:
        RecordingComm.log.append(
            {"comm_id": self.comm_id, "type": msg_type, "data": data, "buffers": list(buffers or [])}
        )


def record_comms(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """From now on (for the test), every widget's comm records what it publishes into the returned list;
    the kernel's plotly.js library starts afresh."""
    RecordingComm.log = []
    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    monkeypatch.setattr(plotlyjs, "_shared", {})
    return RecordingComm.log
