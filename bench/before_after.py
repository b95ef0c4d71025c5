"""Issue 12's before/after: the full feed and the client of an older checkout beside this tree's, one feed.

One ``bench/feed_server.py`` process (this tree's) serves pre-framed ticker and level2 pushes; each row is
a consumer process that runs a tree's own ``bench/consumers.py`` (the pre-redesign tree's ``kunb.feed``
Stream and FrameLink client, this tree's ``kunb.stream`` Stream and ``KucoinWsClient``), with that tree
first on ``sys.path``. Rounds are interleaved; every row reports messages per second of wall clock and of
its own CPU time from the first data message to the N-th, and the table gives per-round ratios to the
older tree's row. This tree runs twice: on the FrameLink the older tree used (what the redesign and the
decoder fast paths changed) and on the default link (picows, issue 16). Hops: Python function calls per
level2/ticker push under cProfile, and the kunb files that run for every push.

Run: ``git worktree add --detach /tmp/before 652f89d`` then ``python bench/before_after.py --before
/tmp/before`` (about 10 minutes); rewrites the ``## Before/after the redesign (bench/before_after.py)``
section of ``bench/RESULTS.md`` unless ``--no-write``. Remove the worktree afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
AFTER = HERE.parent

# (tree, consumers.py row, transport argument or "" for the tree's default, label)
ROWS = (
    ("before", "feed", "", "full feed `Stream`, before (FrameLink)"),
    ("after", "feed", "frames", "full feed `Stream`, now, `transport='frames'` (the same link)"),
    ("after", "feed", "", "**full feed `Stream`, now** (default: picows link)"),
    ("before", "kunb", "", "`KucoinWsClient`, before (FrameLink)"),
    ("after", "kunb", "frames", "`KucoinWsClient`, now, `transport='frames'`"),
    ("after", "kunb", "", "**`KucoinWsClient`, now** (default: picows link)"),
)
SHAPES = ("ticker", "level2")


# -- the consumer process: one tree's bench/consumers.py, timed by wall clock and CPU time -------------
def consume(root: str, row: str, transport: str, port: int, n: int, shape: str, hops: bool) -> dict[str, Any]:
    """Runs in the child process (``--child``): ``root``'s consumers, first on sys.path."""
    sys.path[:0] = [root, f"{root}/bench"]
    import consumers  # the tree's own bench/consumers.py

    cpu: dict[int, float] = {}
    tick = consumers.Timer.tick

    def timed(self: Any, *args: Any) -> None:  # both trees' Timer counts in tick(); add CPU time
        tick(self, *args)
        if self.count == 1:
            cpu[0] = time.process_time()
        elif self.count == self.n:
            cpu[1] = time.process_time()

    consumers.Timer.tick = timed
    extra = (transport,) if transport else ()
    if row == "feed":
        run = consumers.feed(port, n, shape, *extra)
    else:
        default = "auto" if Path(root).resolve() == AFTER else "frames"  # the older tree's default link
        run = consumers.kunb_client(port, n, shape, transport or default)
    if not hops:
        out = asyncio.run(run)
        return {"rate": out["rate"], "cpu_rate": (n - 1) / (cpu[1] - cpu[0])}
    prof = cProfile.Profile()

    async def profiled() -> None:
        prof.enable()
        await run
        prof.disable()

    asyncio.run(profiled())
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    python = sum(v[1] for (_, line, _), v in stats.items() if line)
    in_kunb = [(f.split("/kunb/")[-1], v[1]) for (f, line, _), v in stats.items() if line and "/kunb/" in f]
    files = sorted({f for f, calls in in_kunb if calls >= 0.9 * n})  # a function of it ran for each push
    return {"python_calls": python / n, "kunb_calls": sum(c for _, c in in_kunb) / n, "files": files}


def child(tree: str, root: str, row: str, transport: str, port: int, n: int, shape: str, hops: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", root, row, transport or "-", str(port), str(n), shape]
    cmd += ["--hops"] if hops else []
    env = {**os.environ, "PYTHONPATH": root}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=f"{root}/bench")
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])  # type: ignore[no-any-return]
    return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:200]}


# -- the driver ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--before", help="a checkout of the older commit (a detached git worktree)")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    parser.add_argument("--hops", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        root, row, transport, port, n, shape = args.child
        out = consume(root, row, "" if transport == "-" else transport, int(port), int(n), shape, args.hops)
        print("RESULT " + json.dumps(out), flush=True)
        return 0
    if not args.before:
        parser.error("--before DIR is required")
    sys.path.insert(0, str(AFTER))
    from bench.report import machine, write_section

    roots = {"before": str(Path(args.before).resolve()), "after": str(AFTER)}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=roots["before"]
    ).stdout.strip()
    load = machine(("websockets", "picows", "orjson"))
    server = subprocess.Popen(
        [sys.executable, str(HERE / "feed_server.py"), "--n", str(args.n), "--symbols", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    results: dict[tuple[int, str], list[dict[str, Any]]] = {}
    hops: dict[tuple[str, str], dict[str, Any]] = {}
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        for rnd in range(args.rounds):
            for shape in SHAPES:
                for i, (tree, row, transport, _) in enumerate(ROWS):
                    out = child(tree, roots[tree], row, transport, port, args.n, shape, False)
                    results.setdefault((i, shape), []).append(out)
                    print(f"round {rnd + 1} {shape} {tree} {row} {transport or 'default'}: {out}", flush=True)
        for shape in SHAPES:
            for tree in ("before", "after"):
                hops[(tree, shape)] = child(tree, roots[tree], "feed", "", port, args.n, shape, True)
                print(f"hops {tree} {shape}: {hops[(tree, shape)]}", flush=True)
    finally:
        server.terminate()
        server.wait(10)
    body = render(results, hops, args, commit, load)
    print(body)
    if not args.no_write:
        write_section("Before/after the redesign (bench/before_after.py)", body)
    return 0


def _spread(values: list[float], fmt: str = "{:.2f}x") -> str:
    if not values:
        return "–"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}..{fmt.format(max(values))})"


def render(
    results: dict[tuple[int, str], list[dict[str, Any]]],
    hops: dict[tuple[str, str], dict[str, Any]],
    args: argparse.Namespace,
    commit: str,
    load: str,
) -> str:
    def ratios(i: int, base: int, shape: str, key: str) -> list[float]:
        mine, ref = results.get((i, shape), []), results.get((base, shape), [])
        return [a[key] / b[key] for a, b in zip(mine, ref, strict=False) if a.get(key) and b.get(key)]

    lines = [
        f"Machine: {load}",
        "",
        f"Before: commit {commit} (the last commit before issue 12's redesign); now: this tree. N = "
        f"{args.n:,} pushes per row, {args.rounds} interleaved rounds, one feed server for both trees.",
        "",
        "| consumer | ticker msg/s (wall) | ticker vs before: wall | ticker vs before: CPU time | "
        "level2 msg/s (wall) | level2 vs before: wall | level2 vs before: CPU time |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, (_tree, row, _, label) in enumerate(ROWS):
        base = 0 if row == "feed" else 3
        cells = []
        for shape in SHAPES:
            rates = [r["rate"] / 1e3 for r in results.get((i, shape), []) if "rate" in r]
            cells.append(_spread(rates, "{:.0f} k") if rates else "FAIL")
            cells.append(_spread(ratios(i, base, shape, "rate")))
            cells.append(_spread(ratios(i, base, shape, "cpu_rate")))
        lines.append(f"| {label} | {' | '.join(cells)} |")
    lines += [
        "",
        "Ratios: median of the per-round ratios to the same round's 'before' row (min..max); CPU time is",
        "messages per second of the consumer's own CPU time (what a shared machine moves least).",
        "",
        "Hops (cProfile, the full feed, per push; the consumer's counting callback included):",
        "",
        "| | Python calls per push | of them in kunb | kunb files run for every push |",
        "|---|---|---|---|",
    ]
    for shape in SHAPES:
        for tree in ("before", "after"):
            h = hops.get((tree, shape), {})
            if "python_calls" in h:
                lines.append(
                    f"| {shape}, {'before' if tree == 'before' else 'now'} | {h['python_calls']:.1f} | "
                    f"{h['kunb_calls']:.1f} | {', '.join(f'`{f}`' for f in h['files'])} |"
                )
            else:
                lines.append(f"| {shape}, {tree} | FAIL: {h.get('error')} | | |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
