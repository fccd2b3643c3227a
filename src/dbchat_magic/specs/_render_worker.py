"""The chart render worker process: ``python -m dbchat_magic.specs._render_worker``.

vl-convert (V8 + Rust) can abort the process it runs in (a panic that cannot unwind, V8 out of
memory), so it runs here, never in the kernel. Frames on stdin/stdout are a 4-byte big-endian
length and UTF-8 JSON. At start the worker does one tiny render (the engine's warm-up) and sends
``{"ok": true, "ready": true, "versions": [...]}``; then it answers requests
``{"id", "op": "svg"|"png"|"js"|"ping", "spec", "vl_version", "scale"}`` one at a time with
``{"id", "ok": true, "svg"|"png"|"js": …}`` or ``{"id", "ok": false, "error": message}``. It
exits on stdin EOF, so it never outlives the kernel. Imports: vl_convert and the standard library.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import sys
import time
from typing import IO, Any

HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 30
CPU_BUDGET_S = 300
"""CPU seconds one request may use before the OS stops the worker (a backstop for a worker whose
kernel died mid-render; the kernel's own time limit is far lower)."""
TEST_HOOKS_ENV = "DBCHAT_RENDER_WORKER_TEST"
"""When set to "1", the ops "abort", "hang" and "grow" exist (tests of the kernel-side limits)."""
VL_VERSION = "5.21"
"""The Vega-Lite version charts are drawn with (v5, as JupyterLab 4's own renderer; the warm-up
loads it, so the first chart does not)."""
_WARM_SPEC = {"mark": "bar", "data": {"values": [{"k": "a", "v": 1}]},
              "encoding": {"x": {"field": "k", "type": "nominal"},
                           "y": {"field": "v", "type": "quantitative"}}}


def read_frame(stream: IO[bytes]) -> Any | None:
    """The next JSON frame from ``stream``; None at EOF (or a frame cut short)."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (size,) = HEADER.unpack(head)
    if size > MAX_FRAME:
        return None
    body = stream.read(size)
    return json.loads(body) if len(body) == size else None


def write_frame(stream: IO[bytes], obj: Any) -> None:
    """Write one JSON frame and flush."""
    body = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def _test_op(op: str) -> None:
    print(f"test hook: {op}", file=sys.stderr, flush=True)  # tests wait for this line
    if op == "abort":
        os.abort()
    if op == "grow":
        hoard = [b"x" * (16 << 20) for _ in range(256)]  # up to 4 GB, then wait to be killed
        del hoard
    while op in ("hang", "grow"):
        time.sleep(1)


def answer(vlc: Any, req: dict[str, Any]) -> dict[str, Any]:
    """Run one request with vl-convert (raises what vl-convert raises for a bad spec)."""
    op = req.get("op")
    version = req.get("vl_version")
    if op == "svg":
        return {"ok": True, "svg": vlc.vegalite_to_svg(req["spec"], vl_version=version,
                                                       allowed_base_urls=[])}
    if op == "png":
        png = vlc.vegalite_to_png(req["spec"], vl_version=version, scale=req.get("scale", 2),
                                  allowed_base_urls=[])
        return {"ok": True, "png": base64.b64encode(png).decode("ascii")}
    if op == "js":
        return {"ok": True, "js": vlc.javascript_bundle()}
    if op == "ping":
        return {"ok": True, "pid": os.getpid()}
    if os.environ.get(TEST_HOOKS_ENV) == "1" and isinstance(op, str):
        _test_op(op)
    return {"ok": False, "error": f"unknown op {op!r}"}


def _limit_cpu() -> None:
    """Let the OS end this process when one request burns ``CPU_BUDGET_S`` CPU seconds."""
    try:
        import resource

        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(used.ru_utime + used.ru_stime) + CPU_BUDGET_S
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ImportError, OSError, ValueError):
        return


def _no_core_dumps() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, OSError, ValueError):
        return


def main() -> None:
    """Serve requests until stdin closes."""
    out = os.fdopen(os.dup(1), "wb")  # the protocol channel
    os.dup2(2, 1)  # anything the engine prints goes to stderr, never into the protocol
    _no_core_dumps()
    try:
        import vl_convert as vlc
    except ImportError:
        write_frame(out, {"ok": False, "fatal": "vl-convert-python is not installed"})
        return
    versions = list(vlc.get_vegalite_versions())
    vlc.vegalite_to_svg(_WARM_SPEC, vl_version=VL_VERSION if VL_VERSION in versions else None,
                        allowed_base_urls=[])
    write_frame(out, {"ok": True, "ready": True, "pid": os.getpid(),
                      "versions": versions})
    while (req := read_frame(sys.stdin.buffer)) is not None:
        _limit_cpu()
        try:
            reply = answer(vlc, req if isinstance(req, dict) else {})
        except Exception as exc:  # vl-convert reports a spec it cannot render as an exception
            reply = {"ok": False, "error": str(exc).strip()[:1000] or type(exc).__name__}
        reply["id"] = req.get("id") if isinstance(req, dict) else None
        write_frame(out, reply)


if __name__ == "__main__":
    main()
