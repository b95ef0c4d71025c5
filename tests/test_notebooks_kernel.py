"""With a real ipykernel: cells run while data streams, a re-run cell replaces its object, stop() cleans up.

The exchange runs in the test process; the kernel reaches it through ``KUNB_URL``. Cells are sent as
JupyterLab sends them, with the cell's id in the request metadata (``cellId``).
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from jupyter_client.manager import AsyncKernelManager
from nbrun import UNTIL, kernel_env
from support import until


class Kernel:
    def __init__(self, km: AsyncKernelManager) -> None:
        self.km = km
        self.kc = km.client()

    async def run(self, code: str, *, cell_id: str | None = None, within: float = 30) -> tuple[dict, str]:
        """Execute one cell; return (execute_reply content, stdout text)."""
        msg = self.kc.session.msg(
            "execute_request",
            {"code": code, "silent": False, "store_history": True, "user_expressions": {}},
            metadata={"cellId": cell_id} if cell_id else {},
        )
        self.kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        stdout: list[str] = []
        async with asyncio.timeout(within):
            while True:
                reply = await self.kc.get_shell_msg()
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            while True:  # drain outputs of this request up to its idle status
                io = await self.kc.get_iopub_msg()
                if io["parent_header"].get("msg_id") != msg_id:
                    continue
                if io["msg_type"] == "stream":
                    stdout.append(io["content"]["text"])
                elif io["msg_type"] == "error":
                    stdout.append("\n".join(io["content"]["traceback"]))
                elif io["msg_type"] == "status" and io["content"]["execution_state"] == "idle":
                    break
        content = reply["content"]
        assert content["status"] == "ok", "".join(stdout)
        return content, "".join(stdout)

    async def json(self, code: str, **kw) -> object:
        _, out = await self.run(code, **kw)
        return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
async def kernel(exchange):
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel(env=kernel_env(KUNB_URL=exchange.url, KUNB_SIMULATED="1"))
    k = Kernel(km)
    k.kc.start_channels()
    try:
        await k.kc.wait_for_ready(timeout=60)
        await k.run("import kunb, kunb.notebook\n" + UNTIL)
        yield k
    finally:
        k.kc.stop_channels()
        await km.shutdown_kernel(now=True)


async def test_the_next_cell_runs_while_data_streams(kernel):
    """live_ticker returns at once (before it could have connected: the kernel's loop does not run while a
    cell's code does, so a blocking call would come back live); the following cell runs, and messages keep
    arriving between cells. No wall-clock bound: it would fail on a busy machine without a bug."""
    cell = "t = kunb.live_ticker(['BTC-USDT'])\nimport json\n"
    cell += "print(json.dumps([t.health.value, t.model.messages]))"
    at_return = await kernel.json(cell)
    assert at_return == ["connecting", 0]
    await kernel.run("n0 = t.model.messages")
    grown = await kernel.json(
        "await _until(lambda: t.model.messages >= n0 + 5 and t.panel.frames >= 2)\n"
        "import json; print(json.dumps([t.model.messages - n0, t.health.value, t.simulated]))"
    )
    assert grown[0] >= 5 and grown[1] == "live" and grown[2] is True


async def test_rerunning_a_cell_ten_times_leaves_one_live_connection(kernel, exchange):
    """The same cell (same cellId) run ten times, even with other symbols, keeps exactly one connection."""
    cell = str(uuid.uuid4())
    for i in range(10):
        symbol = "BTC-USDT" if i % 2 else "ETH-USDT"
        await kernel.run(f"t = kunb.live_ticker(['{symbol}'])\nt", cell_id=cell)
        await kernel.run("await _until(lambda: t.health.value == 'live')")  # each run really connects
    await until(lambda: exchange.stats()["connections"] == 1)
    objects = await kernel.json("import json; print(json.dumps(len(kunb.notebook.live_objects())))")
    assert objects == 1
    assert exchange.stats()["connections_total"] >= 10  # every run connected, then was replaced
    assert exchange.stats()["connections"] == 1


async def test_stop_leaves_no_task_and_no_socket(kernel, exchange):
    """After stop(), no kunb task is left in the kernel and no socket to the exchange is open."""
    await kernel.run("t = kunb.live_ticker(['BTC-USDT', 'ETH-USDT'])")
    await kernel.run("await _until(lambda: t.health.value == 'live')")
    await until(lambda: exchange.stats()["connections"] == 1)
    ports = {int(u.rsplit(":", 1)[1].split("/")[0]) for u in (exchange.url, exchange.ws_url)}
    left = await kernel.json(
        "t.stop()\nawait t.wait_stopped()\nimport asyncio, json, os, psutil\n"
        f"ports = {sorted(ports)!r}\n"
        "socks = [c for c in psutil.Process(os.getpid()).net_connections()\n"
        "         if c.raddr and c.raddr.port in ports and c.status == 'ESTABLISHED']\n"
        "print(json.dumps([[x.get_name() for x in asyncio.all_tasks() if x.get_name().startswith('kunb-')],"
        " len(socks), t.health.value]))"
    )
    assert left == [[], 0, "stopped"]
    await until(lambda: exchange.stats()["connections"] == 0)


async def test_kernel_restart_leaves_no_connection_behind(kernel, exchange):
    """Restarting the kernel while a live ticker streams closes its connection at the exchange."""
    await kernel.run("t = kunb.live_ticker(['BTC-USDT'])\nawait _until(lambda: t.health.value == 'live')")
    await until(lambda: exchange.stats()["connections"] == 1)
    await kernel.km.restart_kernel(now=False)
    await until(lambda: exchange.stats()["connections"] == 0)
