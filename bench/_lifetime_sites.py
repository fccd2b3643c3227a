"""Diagnosis for bench_lifetime: what each answer and each control cell leaves allocated, grouped by
traceback (10 frames, innermost first) and by line, plus counts of the kernel's own per-cell
structures (message signatures in ``Session.digest_history``, linecache/compile cache, input
history, IPython 9 output history).

Tracing starts in the kernel after the warm-up (a 10-frame trace from the kernel's start makes the
warm-up take many minutes), so frees of objects made before it are invisible: objects that replace
older ones (the panel's visible turns, registries' hash tables) look like growth. Use it for *what*
the per-cell and per-message allocations are; the totals are `bench_lifetime.py`'s.
Run: ``.venv/bin/python bench/_lifetime_sites.py [answers]`` (``SITES_DIR=…`` keeps the snapshots).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import bench_lifetime as bl
from bench_frontend import _start_kernel
from dbchat_magic.simulator import Simulator

COUNTS = r'''
def _counts():
    import linecache, sys
    ip = get_ipython()
    k = getattr(ip, "kernel", None)
    hm = ip.history_manager
    out = {"digests": len(k.session.digest_history) if k else -1,
           "linecache": len(linecache.cache),
           "compile_map": len(getattr(ip.compile, "_filename_map", {})),
           "in_raw": len(hm.input_hist_raw), "out": len(hm.output_hist),
           "outputs": len(getattr(hm, "outputs", {})),
           "outputs_items": sum(len(v) for v in getattr(hm, "outputs", {}).values()),
           "user_ns": len(ip.user_ns), "exec_count": ip.execution_count,
           "hist_objs": sum(1 for v in getattr(hm, "outputs", {}).values() for _ in v)}
    print(_json.dumps(out))
'''


WARM_DONE = """\
import threading as _threads
_warm_done(90)
print('busy' if any(t.name == 'dbchat-render-warm-up' for t in _threads.enumerate()) else 'idle')
"""


def _snap(kc: Any, path: Path) -> tracemalloc.Snapshot:
    bl._checked(kc, f"_dump({str(path)!r})")
    return tracemalloc.Snapshot.load(str(path))


def _show(label: str, after: tracemalloc.Snapshot, before: tracemalloc.Snapshot, n: int) -> None:
    print(f"\n===== {label}: per answer (n={n}), grouped by traceback =====")
    diff = after.compare_to(before, "traceback")
    tot = sum(d.size_diff for d in diff)
    print(f"total {tot / n:,.0f} B/answer")
    for d in diff[:30]:
        if abs(d.size_diff) / n < 8:
            break
        print(f"-- {d.size_diff / n:,.1f} B/answer, {d.count_diff / n:.2f} blocks/answer")
        for fr in list(d.traceback)[::-1][:7]:
            print(f"     {'/'.join(Path(fr.filename).parts[-3:])}:{fr.lineno}")
    print(f"\n===== {label}: grouped by line =====")
    for d in after.compare_to(before, "lineno")[:25]:
        fr = d.traceback[0]
        print(f"{d.size_diff / n:9,.1f} B {d.count_diff / n:6.2f} blk  "
              f"{'/'.join(Path(fr.filename).parts[-3:])}:{fr.lineno}")


def main() -> None:
    answers = int(sys.argv[1]) if sys.argv[1:] else 200
    with Simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        keep = Path(os.environ.get("SITES_DIR", tmp))
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
        env.update(sim.env(), DBCHAT_CONFIG_DIR=tmp, IPYTHONDIR=str(Path(tmp) / "ipython"),
                   PYTHONTRACEMALLOC="0")
        km, kc = _start_kernel(env, Path(tmp))
        try:
            bl._checked(kc, bl.SETUP)
            bl._checked(kc, bl.PROBE_CODE)
            bl._checked(kc, COUNTS)
            n = 0
            for _ in range(bl.WARM_UP_ROUNDS):
                n = bl._round(kc, n)
            while "busy" in bl._checked(kc, WARM_DONE):
                pass
            bl._checked(kc, "import tracemalloc as _t2; _t2.start(10)")
            bl._round(kc, n, control=True)
            a = _snap(kc, keep / "a.tm")
            print("counts A", bl._checked(kc, "_counts()").strip())
            first = n
            for _ in range(answers // 10):
                n = bl._round(kc, n)
            b = _snap(kc, keep / "b.tm")
            print("counts B", bl._checked(kc, "_counts()").strip())
            for f in range(first, first + answers, 10):
                bl._round(kc, f, control=True)
            c = _snap(kc, keep / "c.tm")
            print("counts C", bl._checked(kc, "_counts()").strip())
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    flt = [tracemalloc.Filter(False, tracemalloc.__file__)]
    a, b, c = (s.filter_traces(flt) for s in (a, b, c))
    _show("answers", b, a, answers)
    _show("control", c, b, answers)
    print(json.dumps({"done": answers}))


if __name__ == "__main__":
    main()
