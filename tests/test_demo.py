"""``kunb demo`` starts the exchange and JupyterLab on the quick-start notebook and stops both on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import psutil
import pytest


def _read_url(proc: subprocess.Popen[str], within: float) -> tuple[str, list[str]]:
    lines: list[str] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            break  # the process ended
        lines.append(line.rstrip())
        if "kunb demo: open " in line:
            return line.split("kunb demo: open ", 1)[1].strip(), lines
    raise AssertionError(f"no URL printed: {lines}")


def test_demo_serves_the_quickstart_on_the_exchange_and_stops_cleanly(tmp_path):
    """The printed URL opens the quick-start with a token; kernels get KUNB_URL, KUNB_SIMULATED and the UTA
    sockets; SIGTERM stops everything."""
    names = ("KUNB_URL", "KUNB_SIMULATED", "KUNB_UTA_URL", "KUNB_UTA_PRIVATE_URL")
    env = {k: v for k, v in os.environ.items() if k not in names}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kunb.cli", "demo", "--no-browser", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    children: list[psutil.Process] = []
    try:
        url, lines = _read_url(proc, within=90)
        children += psutil.Process(proc.pid).children(recursive=True)
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.path == "/lab/tree/01-quickstart.ipynb"
        token = parse_qs(parts.query)["token"][0]
        base = f"{parts.scheme}://{parts.netloc}"
        sim_url = next(x for x in lines if "simulated exchange at" in x).rsplit(" ", 1)[1]
        with httpx.Client(timeout=10) as http:
            assert http.get(f"{base}/api/status", params={"token": token}).status_code == 200
        with httpx.Client(timeout=10) as anonymous:  # no login cookie from the token request above
            assert anonymous.get(f"{base}/api/contents").status_code == 403  # the token is required
        with httpx.Client(timeout=10) as http:
            nb = http.get(f"{base}/api/contents/01-quickstart.ipynb", params={"token": token})
            assert nb.status_code == 200 and nb.json()["type"] == "notebook"
            assert http.get(f"{sim_url}/api/v1/timestamp").json()["code"] == "200000"
        assert (tmp_path / "01-quickstart.ipynb").is_file()
        with httpx.Client(timeout=10) as http:  # JupyterLab's news question is answered: no toast
            news = http.get(
                f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification",
                params={"token": token},
            ).json()
            assert news["settings"]["fetchNews"] == "false", news
        # git ignores the folder, whatever repository it is in
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
        status = subprocess.run(
            ["git", "-C", str(tmp_path), "status", "--porcelain", "--untracked-files=all"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert status == "", status
        assert children, "JupyterLab runs as a child process"
        lab = children[0].environ()  # its kernels inherit it: kunb's clients there use the exchange
        assert (lab["KUNB_URL"], lab["KUNB_SIMULATED"]) == (sim_url, "1")
        assert (
            lab["KUNB_UTA_URL"].startswith("ws://127.0.0.1:")
            and lab["KUNB_UTA_PRIVATE_URL"] != lab["KUNB_UTA_URL"]
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(40) == 0
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive
        with pytest.raises(httpx.HTTPError), httpx.Client(timeout=2) as http:
            http.get(f"{sim_url}/api/v1/timestamp")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(40)
        for child in children:  # JupyterLab runs in its own session; never leave it behind
            if child.is_running():
                child.kill()
