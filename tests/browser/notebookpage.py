"""A JupyterLab or Notebook 7 page driven through ``window.jupyterapp``: open, run cells, poll, screenshot.

jupyter-notes.md 6: the app is exposed to the page (``expose_app_in_browser``), so notebooks open and
run through the same commands the menus use; waits poll a condition in the page with a deadline, never
sleep; panels are scrolled into view before screenshots (JupyterLab 4.6 does not lay out off-screen
cells).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labserver import SCREENSHOTS, JupyterServer

__all__ = ["NotebookPage", "lab_page", "notebook7_page"]

MS = 1000  # playwright timeouts are in ms

_APP_EXPOSED = "() => !!window.jupyterapp"

_APP_READY = """async () => {
  await window.jupyterapp.started;
  await window.jupyterapp.restored;
}"""

_CAN_OPEN = "() => window.jupyterapp.commands.hasCommand('docmanager:open')"

# docmanager:open resolves with the notebook panel; it is kept on window for every later script
_OPEN = """async (path) => {
  const nb = await window.jupyterapp.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  window.__kunbNb = nb;
}"""

_ADOPT_CURRENT = """(path) => {
  const nb = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!nb || !nb.context || nb.context.path !== path || !nb.sessionContext) return false;
  window.__kunbNb = nb;
  return true;
}"""

# jupyter-notes.md 6 step 5: an idle badge is not enough; a run-all issued before these promises
# resolved once executed nothing
_KERNEL_READY = """async () => {
  const nb = window.__kunbNb;
  await nb.context.ready;
  await nb.sessionContext.ready;
  const kernel = nb.sessionContext.session.kernel;
  await kernel.info;
  return kernel.id;
}"""

_KERNEL_IDLE = """() => {
  const s = window.__kunbNb.sessionContext.session;
  return !!(s && s.kernel && s.kernel.status === 'idle');
}"""

_CELL_INDEX = """(needle) => window.__kunbNb.content.widgets.findIndex(
  c => c.model.type === 'code' && c.model.sharedModel.getSource().includes(needle))"""

# all cells, or (upto >= 0) the cells above cell `upto`, the way the Run menu does it
_RUN = """(upto) => {
  const nb = window.__kunbNb;
  if (upto < 0) { void window.jupyterapp.commands.execute('notebook:run-all-cells'); return; }
  nb.content.activeCellIndex = upto;
  void window.jupyterapp.commands.execute('notebook:run-all-above');
}"""

# every code cell meant to run has its execution count, and the kernel is idle again
_CELLS_DONE = """(upto) => {
  const nb = window.__kunbNb;
  const cells = upto < 0 ? nb.content.widgets : nb.content.widgets.slice(0, upto);
  const done = cells.filter(c => c.model.type === 'code').every(c => c.model.executionCount !== null);
  const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
  return done && !!kernel && kernel.status === 'idle';
}"""

_CELL_ERRORS = """() => {
  const out = [];
  for (const c of window.__kunbNb.content.widgets) {
    if (c.model.type !== 'code') continue;
    for (const o of c.model.outputs.toJSON()) {
      if (o.output_type === 'error') out.push(o.ename + ': ' + o.evalue);
    }
  }
  return out;
}"""

# code run in the notebook's kernel as if typed in a new cell (nothing is added to the notebook)
_EXECUTE = """async (code) => {
  const reply = await window.__kunbNb.sessionContext.session.kernel.requestExecute({code}).done;
  return reply.content.status;
}"""

# an expression evaluated in the notebook's kernel; its repr (text/plain) comes back
_EVALUATE = """async (expression) => {
  const kernel = window.__kunbNb.sessionContext.session.kernel;
  const reply = await kernel.requestExecute({code: '', user_expressions: {v: expression}}).done;
  const value = reply.content.user_expressions.v;
  if (value.status !== 'ok') throw new Error(value.ename + ': ' + value.evalue);
  return value.data['text/plain'];
}"""

_SAVE = "async () => { await window.__kunbNb.context.save(); }"

_CLOSE = """async () => {
  const nb = window.__kunbNb;
  window.__kunbNb = undefined;
  if (!nb) return;
  await nb.sessionContext.shutdown();
  nb.dispose();
}"""


class NotebookPage:
    """A Playwright page of one JupyterLab / Notebook 7 app.

    Console errors and uncaught page errors are collected: ``load_errors`` while the app loads,
    ``errors`` from the moment a notebook is opened (what kunb's panels can cause).
    """

    def __init__(self, page: Any) -> None:
        self.page = page
        self.load_errors: list[str] = []
        self.errors: list[str] = []
        self._loaded = False
        page.on(
            "console",
            lambda m: self._error(f"{m.text} ({m.location.get('url')})") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self._error(f"uncaught: {e}"))

    def _error(self, text: str) -> None:
        (self.errors if self._loaded else self.load_errors).append(text)

    def wait(self, expr: str, arg: Any = None, *, within: float, what: str) -> None:
        """Poll ``expr`` every 100 ms until truthy; AssertionError naming ``what`` after ``within`` s."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.page.wait_for_function(expr, arg=arg, polling=100, timeout=within * MS)
        except PlaywrightTimeout:
            raise AssertionError(f"not within {within:g} s: {what}") from None

    def eval(self, expr: str, arg: Any = None) -> Any:
        return self.page.evaluate(expr, arg)

    def start(self) -> None:
        """Wait until the app is exposed, started and restored (its plugins are active)."""
        self.wait(_APP_EXPOSED, within=60, what="the app is exposed as window.jupyterapp")
        self.eval(_APP_READY)

    # ---- notebooks ------------------------------------------------------------------------------

    def _kernel_ready(self) -> None:
        self.eval(_KERNEL_READY)
        self.wait(_KERNEL_IDLE, within=60, what="the notebook's kernel is idle")

    def open(self, path: str) -> None:
        """Open ``path`` in this (JupyterLab) app and wait until its kernel is really ready."""
        self._loaded = True
        self.errors.clear()
        self.eval(_OPEN, path)
        self._kernel_ready()

    def adopt(self, path: str) -> None:
        """Use the notebook the page opened itself (Notebook 7's ``/notebooks/<path>``)."""
        self.wait(_ADOPT_CURRENT, path, within=60, what=f"{path} is the current notebook")
        self._loaded = True
        self._kernel_ready()

    def cell_index(self, needle: str) -> int:
        index = self.eval(_CELL_INDEX, needle)
        assert index >= 0, f"no code cell contains {needle!r}"
        return int(index)

    def run(self, *, upto: int = -1, within: float = 60) -> None:
        """Run all cells (or those above cell ``upto``) as the Run menu does; no cell may raise."""
        self.eval(_RUN, upto)
        self.wait(_CELLS_DONE, upto, within=within, what="every cell ran")
        errors = self.eval(_CELL_ERRORS)
        assert not errors, f"cells raised: {errors}"

    def execute(self, code: str) -> None:
        """Run ``code`` in the notebook's kernel without adding a cell."""
        assert self.eval(_EXECUTE, code) == "ok", code

    def evaluate(self, expression: str) -> str:
        """The repr of ``expression`` evaluated in the notebook's kernel (no cell is added)."""
        return str(self.eval(_EVALUATE, expression))

    def save(self) -> None:
        """Save the notebook (its outputs, widget views included) to its file."""
        self.eval(_SAVE)

    def close(self) -> None:
        """Shut the notebook's kernel down (it runs an exchange of its own) and close its panel."""
        self.eval(_CLOSE)

    def screenshot(self, selector: str, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        panel = self.page.locator(selector).first
        panel.scroll_into_view_if_needed()
        path = SCREENSHOTS / name
        panel.screenshot(path=str(path))
        return path


def _new_page(browser: Any) -> tuple[Any, NotebookPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    return context, NotebookPage(context.new_page())


@contextmanager
def lab_page(browser: Any, server: JupyterServer) -> Iterator[NotebookPage]:
    """JupyterLab with a fresh workspace (``?reset``); notebooks open and close inside it."""
    context, page = _new_page(browser)
    try:
        page.page.goto(server.url("lab", reset=True), wait_until="domcontentloaded")
        page.start()
        page.wait(_CAN_OPEN, within=30, what="JupyterLab can open documents")
        page.eval("() => window.jupyterapp.shell.collapseLeft()")  # room for the panels, as users make it
        yield page
    finally:
        context.close()


@contextmanager
def notebook7_page(browser: Any, server: JupyterServer, path: str) -> Iterator[NotebookPage]:
    """Notebook 7 on ``/notebooks/<path>`` (its kernel starts with the page)."""
    context, page = _new_page(browser)
    try:
        page.page.goto(server.url(f"notebooks/{path}"), wait_until="domcontentloaded")
        page.start()
        page.adopt(path)
        yield page
    finally:
        context.close()
        server.shutdown_kernels()
