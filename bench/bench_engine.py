"""Engine benchmarks: our client vs httpx-sse, openai-python and raw httpx, side by side in one run.

Run: ``.venv/bin/python bench/bench_engine.py [--quick]``. Starts the simulator in subprocesses
(so its CPU is not ours), measures decode throughput on a 100k-token stream, process CPU per
token at 1 ms pacing, added time to first token, Stop → server-side close latency and connections
used for 20 sequential questions, prints a table and writes ``bench/results/engine.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata as md
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _engine_breakdown import breakdown, wire_paths
from _engine_clients import (
    OURS,
    PEERS,
    Consumer,
    Target,
    httpx_sse,
    httpx_sse_break,
    openai_python,
    ours_complete,
    raw_httpx,
)

HERE = Path(__file__).parent
OUT = HERE / "results" / "engine.md"
OUR = "dbchat-magic stream()"
RAW, SSE, OAI = "raw httpx (no parsing)", "httpx-sse", "openai-python"


@contextlib.contextmanager
def simulator(*args: str) -> Iterator[Target]:
    """A simulator subprocess; yields its Target and stops it (by pid) afterwards."""
    cmd = [sys.executable, "-m", "dbchat_magic.simulator", "--port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        host = proc.stdout.readline().strip().split("=", 1)[1]
        token = proc.stdout.readline().strip().split("=", 1)[1]
        yield Target(host, token)
    finally:
        stats_client = _STATS_CLIENTS.pop(host, None) if "host" in locals() else None
        if stats_client is not None:
            stats_client.close()
        proc.terminate()
        proc.wait(timeout=10)


_STATS_CLIENTS: dict[str, httpx.Client] = {}


def sim_stats(t: Target) -> dict:
    """The simulator's counters, over one kept-alive connection (so it opens no new ones)."""
    client = _STATS_CLIENTS.get(t.host)
    if client is None:
        client = _STATS_CLIENTS[t.host] = httpx.Client(base_url=t.host, timeout=10)
    return client.get("/_sim/stats").json()


def noop() -> None:
    return None


async def throughput(
    t: Target, consumers: dict[str, Consumer], n: int, rounds: int
) -> tuple[dict, dict]:
    """Best tokens/s per consumer over interleaved rounds of an ``n``-token unpaced stream:
    by wall clock, and per second of process CPU (steadier on a shared machine)."""
    rates: dict[str, list[float]] = {k: [] for k in consumers}
    cpu_rates: dict[str, list[float]] = {k: [] for k in consumers}
    for _ in range(rounds):
        for name, fn in consumers.items():
            start, cpu = time.perf_counter(), time.process_time()
            count = await fn(t, n, noop)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            if name != RAW and count < n:
                raise RuntimeError(f"{name}: got {count} of {n} tokens")
            rates[name].append(n / elapsed)
            cpu_rates[name].append(n / cpu)
    return {k: max(v) for k, v in rates.items()}, {k: max(v) for k, v in cpu_rates.items()}


async def cpu_per_token(t: Target, consumers: dict[str, Consumer], n: int, rounds: int) -> dict:
    """Process CPU µs per token (min over rounds) for an ``n``-token stream paced at 1 ms."""
    out: dict[str, list[float]] = {k: [] for k in consumers}
    for _ in range(rounds):
        for name, fn in consumers.items():
            cpu = time.process_time()
            await fn(t, n, noop)
            out[name].append((time.process_time() - cpu) / n * 1e6)
    return {k: min(v) for k, v in out.items()}


async def first_token(t: Target, consumers: dict[str, Consumer], rounds: int) -> dict:
    """Median seconds from the call to the first content piece (paced simulator)."""
    out: dict[str, list[float]] = {k: [] for k in consumers}
    for _ in range(rounds):
        for name, fn in consumers.items():
            start = time.perf_counter()
            seen: list[float] = []

            def mark(seen: list[float] = seen, start: float = start) -> None:
                if not seen:
                    seen.append(time.perf_counter() - start)

            await fn(t, 5, mark)
            out[name].append(seen[0])
    return {k: statistics.median(v) for k, v in out.items()}


async def stop_latency(t: Target, fn: Consumer, rounds: int, after: int = 50) -> list[float]:
    """Seconds from cancelling the consuming task to the simulator seeing the connection close."""
    latencies = []
    for _ in range(rounds):
        before = len(sim_stats(t)["disconnects"])
        reached = asyncio.Event()
        seen_tokens = [0]

        def count(reached: asyncio.Event = reached, seen_tokens: list[int] = seen_tokens) -> None:
            seen_tokens[0] += 1
            if seen_tokens[0] == after:
                reached.set()

        task = asyncio.ensure_future(fn(t, 100_000, count))
        await asyncio.wait_for(reached.wait(), 30)
        cancelled_at = time.monotonic()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        deadline = time.monotonic() + 5
        while True:
            seen = sim_stats(t)["disconnects"]
            if len(seen) > before or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        if len(seen) <= before:
            latencies.append(float("inf"))
        else:
            latencies.append(seen[-1]["at"] - cancelled_at)
        await t.aclose()  # a fresh pool for the next round
    return latencies


async def connections_used(t: Target, fn: Consumer, questions: int = 20) -> int:
    """Connections the simulator saw opened for ``questions`` sequential answers."""
    await t.aclose()
    before = sim_stats(t)["connections_opened"]
    for _ in range(questions):
        await fn(t, 50, noop)
    used = sim_stats(t)["connections_opened"] - before
    await t.aclose()
    return used


def versions() -> str:
    def v(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "-"

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    pkgs = ", ".join(f"{p} {v(p)}" for p in ("httpx", "httpx-sse", "openai", "orjson", "h11"))
    return (f"{cpu}, {os.cpu_count()} cores, load {load}; Python {sys.version.split()[0]}; {pkgs}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


async def run(quick: bool) -> str:
    n_big = 20_000 if quick else 100_000
    rounds = 1 if quick else 3
    everyone = {**OURS, **PEERS}
    with simulator() as fast:
        rates, cpu_rates = await throughput(fast, everyone, n_big, rounds)
        await fast.aclose()
        try:
            where = await breakdown(fast, n_big)
            where += await wire_paths(fast, n_big)
        except Exception as exc:  # it reaches into client internals that may move
            where = ["", f"(time breakdown unavailable: {type(exc).__name__}: {exc})", ""]
        await fast.aclose()
        conns = {
            "dbchat-magic complete()": await connections_used(fast, ours_complete),
            "httpx-sse (drains)": await connections_used(fast, httpx_sse),
            "httpx-sse (break on [DONE])": await connections_used(fast, httpx_sse_break),
            "openai-python": await connections_used(fast, openai_python),
        }
    with simulator("--tokens-per-second", "1000") as paced:
        cpu = await cpu_per_token(paced, everyone, 500 if quick else 2000, 1 if quick else 2)
        ttft = await first_token(paced, everyone, 5 if quick else 15)
        await paced.aclose()
        stops = {
            name: sorted(await stop_latency(paced, fn, 3 if quick else 10))
            for name, fn in (("dbchat-magic complete()", ours_complete), (RAW, raw_httpx),
                             (SSE, httpx_sse), (OAI, openai_python))
        }
    return report(rates, cpu_rates, cpu, ttft, stops, conns, n_big) + "\n".join(where)


def report(rates: dict, cpu_rates: dict, cpu: dict, ttft: dict, stops: dict, conns: dict,
           n_big: int) -> str:
    ours = rates[OUR]
    stop_ours = stops["dbchat-magic complete()"]
    lines = [
        "## Engine (streaming client)",
        "",
        f"`bench/bench_engine.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        f"Machine: {versions()}.",
        "Simulator in a separate process (its CPU is not counted); all clients in one process, "
        "interleaved rounds, best round shown.",
        "",
        f"| client | tokens/s ({n_big // 1000}k-token stream) | tokens per CPU-second "
        "| CPU µs/token @1 ms pacing | time to first token (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in rates:
        lines.append(f"| {name} | {rates[name]:,.0f} | {cpu_rates[name]:,.0f} | {cpu[name]:.1f} "
                     f"| {ttft[name] * 1e3:.2f} |")
    lines += [
        "",
        "| Stop → server sees the close | median ms | max ms |",
        "|---|---:|---:|",
    ]
    for name, vals in stops.items():
        lines.append(f"| {name} | {statistics.median(vals) * 1e3:.2f} | {max(vals) * 1e3:.2f} |")
    lines += ["", "| 20 sequential questions | connections opened |", "|---|---:|"]
    lines += [f"| {name} | {used} |" for name, used in conns.items()]
    r_sse, r_oai, r_raw = ours / rates[SSE], ours / rates[OAI], ours / rates[RAW]
    c_sse, c_oai, c_raw_rate = (cpu_rates[OUR] / cpu_rates[k] for k in (SSE, OAI, RAW))
    c_raw = cpu[OUR] / cpu[RAW]
    added = (ttft[OUR] - ttft[RAW]) * 1e3
    stop_med = statistics.median(stop_ours) * 1e3
    used = conns["dbchat-magic complete()"]
    lines += [
        "",
        "Decode ratios are judged per CPU-second (the client is CPU-bound and the simulator has "
        "its own process, so on an idle machine this equals tokens/s; on a shared one wall-clock "
        "rates swing with other load). Wall-clock ratios in brackets.",
        "",
        "| target (stream()) | measured | result |",
        "|---|---|---|",
        f"| decode ≥ 1.3× httpx-sse | {c_sse:.2f}× ({r_sse:.2f}×) | {verdict(c_sse >= 1.3)} |",
        f"| decode ≥ 8× openai-python | {c_oai:.2f}× ({r_oai:.2f}×) | {verdict(c_oai >= 8)} |",
        f"| decode ≥ 0.7× raw httpx (no parsing) | {c_raw_rate:.2f}× ({r_raw:.2f}×) "
        f"| {verdict(c_raw_rate >= 0.7)} |",
        f"| CPU ≤ 1.15× raw httpx (no parsing) | {c_raw:.2f}× | {verdict(c_raw <= 1.15)} |",
        f"| added time to first token (vs raw httpx) | {added:+.2f} ms | info |",
        f"| Stop → close ≤ 5 ms (median) | {stop_med:.2f} ms | {verdict(stop_med <= 5)} |",
        f"| 20 questions on 1 connection | {used} | {verdict(used == 1)} |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round (smoke run)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    text = asyncio.run(run(args.quick))
    print(text)
    if not args.no_write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(text)
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
