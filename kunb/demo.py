"""``kunb demo``: the embedded exchange plus JupyterLab on the quick-start notebook, stopped together.

The notebooks are copied into a folder of their own (``./kunb-notebooks`` by default) that ignores itself
for git (a ``.gitignore`` of ``*``), so running the demo inside a clone leaves ``git status`` clean.
JupyterLab keeps the demo's settings in that folder, starting with its news question answered "no": its
toast would cover the panels.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import webbrowser
from pathlib import Path

import httpx

import kunb.sim

__all__ = ["add_arguments", "find_notebooks", "run"]

QUICKSTART = "01-quickstart.ipynb"
_READY_TIMEOUT = 90.0  # JupyterLab's first start on a slow machine builds its caches
_SETTINGS = ".jupyter-settings"  # the demo's JupyterLab user settings, inside the notebook folder
# "Would you like to get notified about official Jupyter news?" asks while fetchNews is "none"
_NEWS = Path("@jupyterlab", "apputils-extension", "notification.jupyterlab-settings")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        default="kunb-notebooks",
        help="folder for the demo notebooks; missing ones are copied in, yours are never overwritten; "
        "git ignores the folder (default: ./kunb-notebooks)",
    )
    parser.add_argument("--port", type=int, default=0, help="JupyterLab port (default: any free)")
    parser.add_argument("--no-browser", action="store_true", help="only print the URL (headless machines)")
    parser.add_argument("--seed", type=int, default=0, help="market seed of the embedded exchange")


def find_notebooks() -> Path:
    """The shipped demo notebooks: inside the wheel, or ``notebooks/`` of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_notebooks", here.parent / "notebooks"):
        if (candidate / QUICKSTART).is_file():
            return candidate
    raise FileNotFoundError(f"kunb's demo notebooks ({QUICKSTART}) are not installed")


def _prepare(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    ignore = target / ".gitignore"
    if not ignore.exists():
        # the folder, its checkpoints and settings stay out of git, wherever it is
        ignore.write_text("# written by `kunb demo`: git ignores this folder\n*\n")
    for source in sorted(find_notebooks().glob("*.ipynb")):
        dest = target / source.name
        if not dest.exists():
            shutil.copyfile(source, dest)
    news = target / _SETTINGS / _NEWS
    if not news.exists():  # the user's own answer, once given in the demo, is kept
        news.parent.mkdir(parents=True, exist_ok=True)
        news.write_text('{"fetchNews": "false"}\n')
    return target


def _free_port() -> int:
    # port_retries=0 makes JupyterLab fail loudly instead of drifting to another port
    # (jupyter.md#widget-view-output), so kunb picks the port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(base: str, token: str, server: subprocess.Popen[bytes], stop: threading.Event) -> bool:
    deadline = time.monotonic() + _READY_TIMEOUT
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline and not stop.is_set():
            if server.poll() is not None:
                return False
            try:
                if http.get(f"{base}/api/status", params={"token": token}).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            stop.wait(0.25)  # poll interval while the server boots
    return False


def _terminate(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()  # JupyterLab shuts its kernels down on SIGTERM
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def run(args: argparse.Namespace) -> int:
    """Start the exchange and JupyterLab, print the URL, and run until Ctrl-C or SIGTERM."""
    try:
        root = _prepare(Path(args.dir).expanduser().resolve())
    except (OSError, FileNotFoundError) as exc:
        print(f"kunb demo: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    sim = kunb.sim.start(seed=args.seed)
    server: subprocess.Popen[bytes] | None = None
    try:
        port = args.port or _free_port()
        token = secrets.token_urlsafe(24)
        # what kunb's clients read in the kernels: REST, the UTA sockets, and "this is simulated"
        env = {
            **os.environ,
            "KUNB_URL": sim.url,
            "KUNB_SIMULATED": "1",
            "KUNB_UTA_URL": sim.uta_url,
            "KUNB_UTA_PRIVATE_URL": sim.uta_private_url,
        }
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",  # not the `jupyter lab` front command: its pid is not the server's
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={root / _SETTINGS}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        # its own session: Ctrl-C reaches only us, and we stop the server (no "shut down? y/n" prompt)
        server = subprocess.Popen(cmd, env=env, cwd=root, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        if not _wait_ready(base, token, server, stop):
            if stop.is_set():
                return 0
            print("kunb demo: JupyterLab did not start (see its messages above)", file=sys.stderr)
            return 1
        url = f"{base}/lab/tree/{QUICKSTART}?token={token}"
        print(f"kunb demo: simulated exchange at {sim.url}", flush=True)
        print(f"kunb demo: open {url}", flush=True)
        print("kunb demo: Ctrl-C stops JupyterLab and the exchange", flush=True)
        if not args.no_browser:
            webbrowser.open(url)
        while not stop.wait(0.5):
            if server.poll() is not None:
                print(f"kunb demo: JupyterLab exited ({server.returncode})", file=sys.stderr)
                return 1
        return 0
    finally:
        if server is not None:
            _terminate(server)
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
