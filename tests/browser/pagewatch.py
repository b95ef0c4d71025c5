"""What a page does besides drawing, as the browser tests watch it: scripts Chromium parses (plotly.js
bundles), comm messages the page sends, and what the kernel reports on iopub (errors, stderr)."""

from __future__ import annotations

from typing import Any

from notebookpage import NotebookPage

__all__ = ["BUNDLE_CHARS", "FIND", "IOPUB_PROBLEMS", "REGISTRY_STATS", "Watch", "watch_iopub"]

# plotly.js: 1.3 M characters (the finance bundle), 4.8 M (the full one); widget modules are far smaller
BUNDLE_CHARS = 1_000_000

# A page-script statement defining find(panel, sel): the element `sel` inside `panel`, its LiveHTML
# scrolled on screen first (the page writes a panel's tables and badge only while they are visible: what
# is off screen keeps the HTML of when it was last seen).
FIND = """const find = (panel, sel) => {
  const el = document.querySelector(panel + ' ' + sel);
  const host = el ? el.closest('.kunb-live-html') : document.querySelector(panel + ' .kunb-live-html');
  if (host && host.dataset.visible !== 'true') host.scrollIntoView({block: 'center'});
  return el;
};"""

REGISTRY_STATS = (
    "() => { const r = globalThis[Symbol.for('kunb.livefigure.v1')]; return r ? r.stats : null; }"
)

# every iopub message of the notebook's kernel that reports a problem: an error, or text on stderr (a
# traceback or a logged warning: what JupyterLab's log console shows)
_WATCH_IOPUB = """() => {
  const kernel = window.__kunbNb.sessionContext.session.kernel;
  window.__kunbIopub = [];
  kernel.iopubMessage.connect((_sender, msg) => {
    const type = msg.header.msg_type;
    const c = msg.content;
    if (type === 'error') window.__kunbIopub.push(`error: ${c.ename}: ${c.evalue}`);
    else if (type === 'stream' && c.name === 'stderr') window.__kunbIopub.push(`stderr: ${c.text}`);
  });
}"""
IOPUB_PROBLEMS = "() => window.__kunbIopub || []"


def watch_iopub(nb: NotebookPage) -> None:
    """From now on, collect the kernel's iopub errors and stderr text (read them with IOPUB_PROBLEMS)."""
    nb.eval(_WATCH_IOPUB)


class Watch:
    """What Chromium reports for the page: scripts parsed (CDP Debugger) and kernel messages it sent."""

    def __init__(self, nb: NotebookPage) -> None:
        self.bundles: list[str] = []  # urls of scripts the size of plotly.js
        self.comm_sent = 0  # page -> kernel comm messages over the kernel WebSocket
        cdp = nb.page.context.new_cdp_session(nb.page)
        cdp.on("Debugger.scriptParsed", self._parsed)
        cdp.send("Debugger.enable")
        self._cdp = cdp
        nb.page.on("websocket", lambda ws: ws.on("framesent", self._sent))

    def _parsed(self, event: dict[str, Any]) -> None:
        # widget modules are evaluated from blob: URLs (anywidget's, and LiveFigure's plotly.js); the
        # jupyterlab-plotly extension's own chunk (http:, parsed with every JupyterLab page whether or
        # not a figure is shown, never evaluated by kunb) is not a figure's doing
        url = event.get("url", "")
        if event.get("length", 0) > BUNDLE_CHARS and url.startswith("blob:"):
            self.bundles.append(url)

    def _sent(self, payload: str | bytes) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        self.comm_sent += b'"msg_type":"comm_msg"' in data.replace(b" ", b"")
