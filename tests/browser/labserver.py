"""JupyterLab for the browser tests: started on 127.0.0.1 with a token over temp copies of the notebooks.

The server follows jupyter-notes.md 6: ``python -m jupyterlab`` (its pid is the server's), a token,
``port_retries=0``, a temp root dir holding copies of the shipped notebooks (nothing is written back to
``notebooks/``), and ``expose_app_in_browser`` so the page's ``window.jupyterapp`` runs commands.
The shipped notebooks start the embedded exchange inside their kernel (``kunb.sim.start()``, which is the
kernel's default over ``KUNB_URL``), so the tests read that exchange's URL from the panel's badge and talk
to the very exchange the panel shows.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "RUN_MARKER",
    "SCREENSHOTS",
    "JupyterServer",
    "marked_processes",
    "reap",
    "start_jupyter",
]

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "screenshots"
NOTEBOOKS = (
    "01-quickstart.ipynb",
    "02-order-book.ipynb",
    "03-account-and-trading.ipynb",
    "04-candles-and-trades.ipynb",
)

# python.md "Known to work": without the background-networking flags Chromium keeps trying (and failing)
# to reach Google's hosts through this machine's closed network. Playwright adds --headless and a fresh
# empty --user-data-dir itself.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Every process the browser tests start carries this variable (inherited by kernels and by Chromium's
# helpers, which re-parent themselves away from pytest), so the final check finds it wherever it went.
RUN_MARKER = "KUNB_BROWSER_TEST_RUN"

_READY_TIMEOUT = 60.0  # a first JupyterLab start on a busy 2-core machine
_STOP_TIMEOUT = 20.0

# JupyterLab's "get notified about news?" toast would cover panels in screenshots (jupyter-notes.md 6)
_LAB_SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"}}


@dataclass
class JupyterServer:
    """A running JupyterLab (which also serves Notebook 7 under ``/notebooks/``)."""

    base: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def warnings(self) -> list[str]:
        """The server's warning and error lines so far (shown when a page check fails)."""
        return [
            line
            for line in self.log.read_text(errors="replace").splitlines()
            if line.startswith(("[W", "[E"))
        ]

    def url(self, path: str, *, reset: bool = False) -> str:
        """``path`` with the token; ``reset`` starts JupyterLab with a fresh workspace (Lab only)."""
        return f"{self.base}/{path.lstrip('/')}?token={self.token}{'&reset' if reset else ''}"

    def _api(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, params={"token": self.token}, timeout=10.0)

    def kernels(self) -> list[dict[str, Any]]:
        with self._api() as api:
            return api.get("/api/kernels").raise_for_status().json()

    def shutdown_kernels(self) -> None:
        """Shut down every session and kernel (each notebook's kernel runs its own exchange: free the CPU)."""
        with self._api() as api:
            for session in api.get("/api/sessions").raise_for_status().json():
                api.delete(f"/api/sessions/{session['id']}").raise_for_status()
            for kernel in api.get("/api/kernels").raise_for_status().json():
                api.delete(f"/api/kernels/{kernel['id']}").raise_for_status()


def reap(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait for ``procs`` to end, killing those still alive after ``timeout``; returns the ones that lived."""
    _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        proc.kill()
    psutil.wait_procs(alive, timeout=5)
    return alive


def marked_processes(run_id: str) -> list[psutil.Process]:
    """Processes whose environment has ``RUN_MARKER=run_id``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(RUN_MARKER) == run_id:
                found.append(proc)
        except psutil.Error:  # gone meanwhile, a zombie, or not ours to read
            continue
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(tmp: Path, run_id: str) -> tuple[Path, dict[str, str]]:
    """Notebook copies and Lab settings under ``tmp``; the server's environment."""
    root = tmp / "notebooks"
    root.mkdir()
    for name in NOTEBOOKS:
        shutil.copyfile(REPO / "notebooks" / name, root / name)
    for rel, value in _LAB_SETTINGS.items():
        path = tmp / "lab-settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = {k: v for k, v in os.environ.items() if k not in ("KUNB_URL", "KUNB_SIMULATED")}
    # private config and runtime dirs: the user's own Jupyter and IPython settings cannot change the result
    env |= {
        RUN_MARKER: run_id,
        "IPYTHONDIR": str(tmp / "ipython"),
        "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime"),
    }
    return root, env


@contextmanager
def start_jupyter(tmp: Path, run_id: str) -> Iterator[JupyterServer]:
    """JupyterLab on 127.0.0.1 with a token over ``tmp``; on exit it is stopped and its kernels are gone.

    Its processes carry ``RUN_MARKER=run_id`` in their environment.

    Raises:
        AssertionError: the server did not come up within 60 s, or a kernel outlived it.
    """
    root, env = _prepare(tmp, run_id)
    port = _free_port()
    token = secrets.token_urlsafe(24)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",  # not `jupyter lab`: that front command's pid is not the server's (jupyter-notes.md 6)
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",  # fail loudly instead of drifting to another port
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
        f"--LabApp.user_settings_dir={tmp / 'lab-settings'}",
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = tmp / "jupyter.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        kernels: list[psutil.Process] = []
        try:
            _wait_ready(base, token, server, log_path)
            yield JupyterServer(base=base, token=token, root=root, process=server, log=log_path)
        finally:
            if server.poll() is None:
                kernels = psutil.Process(server.pid).children(recursive=True)
                server.terminate()  # JupyterLab shuts its kernels down on SIGTERM
                try:
                    server.wait(_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait(5)
        # a kernel whose server is gone is re-parented away from pytest: check each one by pid
        alive = reap(kernels, timeout=10)
        assert not alive, f"kernels left behind: {[p.pid for p in alive]}"


def _wait_ready(base: str, token: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    with httpx.Client(timeout=2.0) as http:
        while True:
            assert server.poll() is None, f"JupyterLab exited: {log.read_text()[-3000:]}"
            try:
                if http.get(f"{base}/api/status", params={"token": token}).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (
                f"JupyterLab did not answer /api/status within {_READY_TIMEOUT} s"
            )
            time.sleep(0.2)  # poll interval while the server boots (bounded by the deadline above)
