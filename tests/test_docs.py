"""Every Python example in the documentation runs, against an embedded exchange started for the test.

Each page of ``docs/`` with fenced ``python`` blocks is one test. Its blocks run in order in one
namespace, as a reader would run them, in one of two modes:

* ``notebook``: like cells of a Jupyter kernel - inside a running event loop, top-level ``await``
  allowed, the value of a final expression shown (``repr``);
* ``script`` (the default): like a plain ``python`` process - in a thread with no running loop, so
  ``asyncio.run(...)`` and kunb's blocking calls behave as they do in a script.

A page chooses its mode with an HTML comment on a line of its own, ``<!-- docs-test: notebook -->``
(or ``script``); the same comment right before a block sets that block's mode. A block that must not
run is marked ``<!-- docs-test: skip - <reason> -->`` right before it.

After a page, nothing it started may be left: no task on its loop, no WebSocket connection to the
exchange, no blocking-client thread and no other embedded exchange (bounded waits, then the test
fails naming what is left).
"""

from __future__ import annotations

import ast
import asyncio
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import kunb
import kunb.sim

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
API_PAGES = DOCS / "api"

_MARKER = re.compile(r"^<!--\s*docs-test:\s*(?P<what>.*?)\s*-->$")
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_MODES = ("notebook", "script")
_SETTLE_S = 15.0  # bound for what a page started to wind down after its last block


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the block's first code line
    code: str
    mode: str
    skip: str | None  # the reason, when the block must not run


def _page_blocks(page: Path) -> list[Block]:
    """The ``python`` blocks of a page, with their modes and skip markers (see the module docstring)."""
    lines = page.read_text().splitlines()
    page_mode = "script"
    for i, line in enumerate(lines):
        m = _MARKER.match(line.strip())
        if m and m["what"] in _MODES and not _next_is_fence(lines, i):
            page_mode = m["what"]
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m["fence"], m["info"].strip()
        end = i + 1
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        if info.split()[:1] == ["python"]:
            marker = _MARKER.match(lines[i - 1].strip()) if i > 0 else None
            what = marker["what"] if marker else ""
            mode, skip = page_mode, None
            if what in _MODES:
                mode = what
            elif what.startswith("skip"):
                skip = what[len("skip") :].strip(" -:")
            elif what:
                raise AssertionError(f"{page.name}:{i}: unknown docs-test marker {what!r}")
            blocks.append(Block(page, i + 2, "\n".join(lines[i + 1 : end]), mode, skip))
        i = end + 1
    return blocks


def _next_is_fence(lines: list[str], i: int) -> bool:
    return i + 1 < len(lines) and bool(_FENCE.match(lines[i + 1]))


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)


def _pages_with_examples() -> list[Path]:
    return [p for p in _pages() if any(b.skip is None for b in _page_blocks(p))]


def _compile(block: Block, flags: int = 0) -> Any:
    """Compile with the page's path and line numbers, so a failure points into the Markdown file;
    a final expression statement is kept as ``_`` (and shown) as a notebook would show it."""
    tree = ast.parse(block.code, filename=str(block.page), mode="exec")
    ast.increment_lineno(tree, block.line - 1)
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1]
        target = ast.Name(id="_", ctx=ast.Store())
        tree.body[-1] = ast.copy_location(ast.Assign(targets=[target], value=last.value), last)
        show = ast.parse("repr(_)").body[0]
        tree.body.append(ast.copy_location(show, last))
        ast.fix_missing_locations(tree)
    return compile(tree, str(block.page), "exec", flags=flags, dont_inherit=True)


async def _run_page(page: Path, exchange: kunb.sim.SimHandle, settle: float = _SETTLE_S) -> None:
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    for block in _page_blocks(page):
        if block.skip is not None:
            continue
        if block.mode == "notebook":
            result = eval(_compile(block, ast.PyCF_ALLOW_TOP_LEVEL_AWAIT), namespace)
            if asyncio.iscoroutine(result):
                await result
        else:
            code = _compile(block)
            await asyncio.to_thread(exec, code, namespace)
    await _settled(exchange, settle)


async def _settled(exchange: kunb.sim.SimHandle, settle: float) -> None:
    """Wait (bounded) until everything the page started has ended; fail naming what has not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle
    me = asyncio.current_task()

    def leftovers() -> list[str]:
        left = [f"task {t.get_name()}" for t in asyncio.all_tasks() if t is not me and not t.done()]
        left += [f"connection {s.id}" for s in exchange.exchange.connections()]
        left += [f"thread {t.name}" for t in threading.enumerate() if t.name.startswith("kunb-blocking")]
        left += [f"exchange {url}" for url in kunb.sim.simulator_urls() if url != exchange.url]
        return left

    while left := leftovers():
        if loop.time() > deadline:
            raise AssertionError(f"the page left these running: {left}")
        await asyncio.sleep(0.02)


@pytest.fixture
def docs_exchange(monkeypatch: pytest.MonkeyPatch):
    """The embedded exchange the examples talk to (``KUNB_URL``), and no real KuCoin keys in sight."""
    for name in ("KUNB_URL", "KUCOIN_API_KEY", "KUCOIN_API_SECRET", "KUCOIN_API_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    handle = kunb.sim.start(seed=1, symbols=["BTC-USDT", "ETH-USDT"], tick_ms=50)
    try:
        yield handle
    finally:
        from kunb.notebook import stop_all

        stop_all()  # a failed page may have left panels or helper-loop objects running
        while kunb.sim.default_url() not in (None, handle.url):
            kunb.sim.stop()  # exchanges a failed page started
        handle.stop()


@pytest.mark.filterwarnings("ignore::DeprecationWarning:kucoin_universal_sdk.*")  # its pydantic models
@pytest.mark.parametrize("page", _pages_with_examples(), ids=lambda p: str(p.relative_to(DOCS)))
def test_examples_run(page: Path, docs_exchange: kunb.sim.SimHandle) -> None:
    asyncio.run(_run_page(page, docs_exchange))


# -- the rules the runner relies on ------------------------------------------------------------


def test_python_blocks_are_marked_python() -> None:
    """A Python example fenced as ``py``/``python3``/``pycon`` would silently escape the runner."""
    offenders = []
    for page in _pages():
        for n, line in enumerate(page.read_text().splitlines(), 1):
            m = _FENCE.match(line)
            if m and m["info"].strip().split()[:1] in (["py"], ["python3"], ["pycon"], ["ipython"]):
                offenders.append(f"{page.relative_to(DOCS)}:{n}")
    assert offenders == []


def test_skipped_examples_say_why_and_stay_few() -> None:
    skipped = [b for p in _pages() for b in _page_blocks(p) if b.skip is not None]
    assert all(b.skip for b in skipped), "a docs-test: skip marker needs a reason"
    assert len(skipped) <= 3, [f"{b.page.name}:{b.line}" for b in skipped]


def test_runner_reads_modes_and_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# t\n\n<!-- docs-test: notebook -->\n\n```python\na = 1\n```\n\n"
        "<!-- docs-test: script -->\n```python\nb = 2\n```\n\n"
        "<!-- docs-test: skip - needs KuCoin -->\n```python\nc = 3\n```\n\n```sh\nls\n```\n"
    )
    blocks = _page_blocks(page)
    assert [(b.line, b.code, b.mode, b.skip) for b in blocks] == [
        (6, "a = 1", "notebook", None),
        (11, "b = 2", "script", None),
        (16, "c = 3", "notebook", "needs KuCoin"),
    ]


def test_a_failing_example_fails_with_its_markdown_line(tmp_path: Path, docs_exchange) -> None:
    page = tmp_path / "broken.md"
    page.write_text("# t\n\n```python\nx = 1\n\nraise ValueError('from the page')\n```\n")
    with pytest.raises(ValueError, match="from the page") as info:
        asyncio.run(_run_page(page, docs_exchange))
    assert info.traceback[-1].path == page and info.traceback[-1].lineno + 1 == 6


@pytest.mark.parametrize(
    ("code", "left"),
    [
        (
            "<!-- docs-test: notebook -->\n\n```python\nimport asyncio\n"
            "asyncio.get_running_loop().create_task(asyncio.sleep(60), name='forgotten')\n```\n",
            "task forgotten",
        ),
        ("```python\nimport kunb.sim\nkunb.sim.start(symbols=['BTC-USDT'])\n```\n", "exchange http://"),
    ],
    ids=["task", "exchange"],
)
def test_a_page_that_leaves_something_running_fails(
    tmp_path: Path, docs_exchange, code: str, left: str
) -> None:
    page = tmp_path / "leaky.md"
    page.write_text(code)
    with pytest.raises(AssertionError, match=f"left these running: .*{left}"):
        asyncio.run(_run_page(page, docs_exchange, settle=0.5))


# -- the API reference -------------------------------------------------------------------------

_AUTODOC = re.compile(r"^\.\. auto(?:class|function|module|data)::\s+(\S+)", re.M)


def _documented() -> list[str]:
    return [name for page in sorted(API_PAGES.glob("*.md")) for name in _AUTODOC.findall(page.read_text())]


def _resolve(dotted: str) -> Any:
    import importlib

    module, _, attr = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError:
        return importlib.import_module(dotted)


def test_api_reference_names_resolve_through_public_paths() -> None:
    """Documented names are the ones users import (kunb.X, kunb.sim.X, kunb.client.X...), and resolve."""
    allowed = ("kunb.", "kunb.sim.", "kunb.client.", "kunb.ws_client.", "kunb.exceptions", "kunb.notebook.")
    allowed += ("kunb.events.",)
    for name in _documented():
        assert name.startswith(allowed), name
        assert name.count(".") == 1 or name.startswith(allowed[1:]), name
        _resolve(name)


def test_api_reference_covers_every_public_name() -> None:
    documented: set[int] = set()
    for name in _documented():
        obj = _resolve(name)
        documented.add(id(obj))
        for member in getattr(obj, "__all__", []) if isinstance(obj, type(kunb)) else []:
            documented.add(id(getattr(obj, member)))
    public = [f"kunb.{n}" for n in kunb.__all__ if n != "__version__"]
    public += [f"kunb.sim.{n}" for n in kunb.sim.__all__]
    missing = [name for name in public if id(_resolve(name)) not in documented]
    assert missing == []
