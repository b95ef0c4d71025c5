"""The one reconnect policy: how long to wait before the next attempt, and whether to try again at all.

Every retry loop in kunb (WebSocket dials, book snapshot fetches, account re-seeds) asks the same two
questions, answered here once, in the style of websockets' ``backoff()`` and ``process_exception``:

* :func:`backoff` yields the delays: ``first`` for the first retry, then doubling up to ``cap``, each with
  "equal jitter" (between half and all of the nominal delay) so that many clients dropped at once do not
  redial in lockstep;
* :func:`retryable` says whether an error can go away by itself (the network, a timeout, an overloaded
  exchange, a snapshot older than the buffered pushes) or not (bad credentials, a bad argument, a closed
  object), in which case retrying only hides the cause;
* :func:`gives_up` says when a *first* connection stops trying: one that was never live is most likely
  pointed at the wrong place (a typo in the URL, no exchange running, TLS to a plain server), so after
  :data:`FIRST_DIAL_GRACE` seconds of failed dials it fails with the cause instead of redialing quietly.
  A connection that was live once keeps redialing through any outage.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from ..exceptions import (
    ApiError,
    AuthenticationError,
    ClosedError,
    ConfigurationError,
    KunbError,
    RateLimitError,
)

__all__ = ["FIRST_DIAL_GRACE", "backoff", "gives_up", "retryable"]

FIRST_DIAL_GRACE = 2.0
"""Seconds after its first failed dial that a connection which was never live gives up (a short hiccup
is still ridden out: with the default 1 s backoff that is two or three dials)."""


def backoff(
    first: float = 1.0, cap: float = 60.0, *, factor: float = 2.0, rand: Callable[[], float] = random.random
) -> Iterator[float]:
    """Delays in seconds before each retry: ``first``, ``first * factor``, ... up to ``cap``, jittered.

    Args:
        first: the nominal delay before the first retry.
        cap: the longest nominal delay.
        factor: the growth per retry.
        rand: a source of uniform numbers in [0, 1) (tests pass a constant).
    """
    delay = first
    while True:
        yield delay / 2 + rand() * delay / 2  # "equal jitter"
        delay = min(delay * factor, cap)


def retryable(error: BaseException) -> bool:
    """True when ``error`` may go away by itself, so the operation should be tried again later.

    Retryable: network and timeout errors (kunb's :class:`~kunb.exceptions.TransportError`, ``OSError``,
    ``TimeoutError``), a server that broke the protocol, KuCoin's error frames, 5xx answers and rate limits.
    Fatal: refused credentials, a wrong argument or set-up, a closed object, a 4xx answer to the request
    itself (an unknown symbol: the same request fails the same way next time), and anything that is not
    one of kunb's or the network's errors (a bug must surface, not be retried forever).
    """
    if isinstance(error, (AuthenticationError, ConfigurationError, ClosedError)):
        return False
    if isinstance(error, ApiError):
        return isinstance(error, RateLimitError) or error.status is None or error.status >= 500
    return isinstance(error, (KunbError, OSError, TimeoutError))


def gives_up(first_failure: float, now: float, next_delay: float, grace: float | None) -> bool:
    """True when a connection that was never live should stop trying: waiting ``next_delay`` more seconds
    before the next dial would end past ``grace`` seconds after its ``first_failure`` (``None``: never).

    Deciding before the wait means it fails at its last failed dial, never after a pointless sleep.
    """
    return grace is not None and now + next_delay - first_failure > grace
