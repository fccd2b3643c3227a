"""Run blocking ``%%dbchat`` cells as top-level ``await`` where that lets a Stop click arrive.

On ipykernel ≥ 7.4 a cell that awaits lets the kernel dispatch comm messages (widget clicks)
while it waits (docs/design.md: Stop), so the inline Stop button works even though the cell still
blocks until the answer is complete. An input transformer rewrites ``%%dbchat …`` cells into
``await run_awaited(…)``; it is only installed where `stop.async_clicks_supported` says so, and
``DBCHAT_STOP_BUTTON=0`` turns it off.
Elsewhere cells take the plain blocking path with the "press ■ to stop" hint.

■ on an awaiting cell: ipykernel cancels the cell's coroutine; we cancel the request, wait until its
connection is closed, keep the partial answer and end the cell with the one amber "stopped" line
(a stop asked for is not an error).
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from dbchat_magic.magic._stop import async_clicks_supported

if TYPE_CHECKING:
    from dbchat_magic.result import ChatResult

_PREFIX = "%%dbchat"
_WAKE_INTERVAL = 0.02
_SYNC_ONLY = frozenset({"--background", "--show-prompt", "-h", "--help"})


def rewrite_cell(lines: list[str]) -> list[str]:
    """IPython cleanup transform: ``%%dbchat LINE\\nBODY`` → one awaited call; other cells as is."""
    if not lines or not lines[0].startswith(_PREFIX):
        return lines
    first = lines[0].rstrip("\n")
    if len(first) > len(_PREFIX) and not first[len(_PREFIX)].isspace():
        return lines  # %%dbchat? or %%dbchatter
    line = first[len(_PREFIX):].strip()
    if line.endswith("?") or _SYNC_ONLY & set(line.split()) or not _autoawait_on():
        return lines
    cell = "".join(lines[1:])
    return ["await __import__('dbchat_magic.magic.async_cell', fromlist=['run_awaited'])"
            f".run_awaited(get_ipython(), {line!r}, {cell!r})\n"]


def _autoawait_on() -> bool:
    """False after ``%autoawait off`` (a top-level await would then be a SyntaxError)."""
    from IPython import get_ipython

    shell = get_ipython()
    return shell is None or bool(getattr(shell, "autoawait", False))


def install(shell: Any) -> bool:
    """Register `rewrite_cell` when this kernel can deliver clicks to an awaiting cell."""
    if os.environ.get("DBCHAT_STOP_BUTTON", "1") == "0" or not async_clicks_supported(shell):
        return False
    transforms = shell.input_transformers_cleanup
    if rewrite_cell not in transforms:
        transforms.append(rewrite_cell)
    return True


def uninstall(shell: Any) -> None:
    """Remove `rewrite_cell` if it was registered."""
    transforms = getattr(shell, "input_transformers_cleanup", None)
    if transforms is not None and rewrite_cell in transforms:
        transforms.remove(rewrite_cell)


async def run_awaited(shell: Any, line: str, cell: str | None) -> None:
    """The awaited form of a blocking ``%%dbchat`` cell, with a working Stop button."""
    from dbchat_magic.magic import _cell as cellmod
    from dbchat_magic.magic._interpolate import interpolate

    line = interpolate(line, shell.user_ns).text  # IPython's {var} expansion of a magic's line
    from dbchat_magic.magic import _compare_cell

    if _compare_cell.is_compare(shell, line):
        await _compare_cell.run_compare_awaited(shell, line, cell)
        return
    request = cellmod.build_request(shell, line, cell)
    cellmod.check_credentials(request)
    stopper = cellmod._Stopper()
    view = cellmod._view(request, stopper, awaited=True)
    view.show()
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()

    def on_done(_result: ChatResult) -> None:
        def mark() -> None:
            if not finished.done():
                finished.set_result(None)

        loop.call_soon_threadsafe(mark)

    try:
        handle = request.session.start(request.prepared, request.namespace,
                                       on_update=view.update, on_done=on_done)
    except BaseException:
        cellmod._retire(view)  # never started: its widgets must not outlive the cell
        raise
    stopper.handle = handle
    try:
        while not finished.done():
            # Wake up often: the kernel's SIGINT handler (■) only runs when the main thread
            # executes Python, and an idle event loop can sleep in epoll until the answer ends.
            await asyncio.wait([finished], timeout=_WAKE_INTERVAL)
    except asyncio.CancelledError:  # ■: ipykernel cancels an awaiting cell's coroutine
        handle.cancel()
        await loop.run_in_executor(None, handle.future.wait_settled, 5.0)
    cellmod.settle(request, view, handle)
