"""The embedded exchange's REST server: a starlette app (``app``) over a narrow backend (``backend``).

Handlers (``public``, ``private``, ``orders``, ``uta``, ``admin``) read and change the exchange only through
:class:`~kunb.sim.rest.backend.RestBackend`; signed routes verify KuCoin's signature first (``signed``,
``auth``). Imports :mod:`kunb.sim.core` and :mod:`kunb.sim.wire`, never the feed or the composition.
"""
