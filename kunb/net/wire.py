"""The wire tap: an optional observer of everything a connection or a REST client sends and receives.

:class:`~kunb.net.connection.ConnectWebsocket` and the REST clients (:mod:`kunb.net.rest`) take
``wire=`` (``None`` by default: nothing is tapped, and the hot path is the same closure as without it).
With a tap, the frames of every read are handed over at once with the read's local receive time in ns,
as they came off the socket (bytes, before decoding; one call per read, not per frame: at a busy feed's
rate a call per frame is most of what recording costs the event loop), every frame sent as its text,
every REST answer with its URL and body, and the opening and end of each link.
:class:`kunb.record.RawLog` is the tap kunb ships (it only queues;
encoding, secret removal and compression run on its writer thread); anything with these methods works.

A tap is called on the event loop (REST answers of the blocking clients: on the caller's thread) and must
return at once: no I/O, no blocking. The URLs and texts it gets may hold a token or a signature: a tap
that keeps them must remove the secrets itself (RawLog does).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["WireTap"]


class WireTap(Protocol):
    """What a connection or REST client tells a tap (see the module docstring)."""

    def received(self, connection: str, received_ns: int, frames: tuple[bytes | str, ...]) -> None:
        """The frames one read took off the socket, in order, at ``received_ns`` (wall clock)."""
        ...

    def sent(self, connection: str, sent_ns: int, frame: bytes | str) -> None:
        """A frame written to the socket."""
        ...

    def rest(
        self, connection: str, received_ns: int, method: str, url: str, status: int, body: bytes | str
    ) -> None:
        """A REST answer (bullet token, book snapshot, account list...) received at ``received_ns``."""
        ...

    def opened(self, connection: str, ns: int, url: str) -> None:
        """A link is open (``url`` may hold a token)."""
        ...

    def closed(self, connection: str, ns: int, code: int | None = None, reason: str = "") -> None:
        """A link ended (``reason``: why, without secrets)."""
        ...
