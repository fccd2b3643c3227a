"""``%%dbchat --compare A,B[,C…]``: the same prompt to 2–6 endpoints or profiles at once, each
streaming into its own column (`ui.CompareView`), one Stop / ■ for all, then the answers side by
side as one settled output and a table per endpoint (first token, total, tokens, tok/s, cost,
status). ``-o VAR`` (and ``_dbchat_last``) get the `CompareResult`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbchat_magic.magic._cell import check_options, parse_cell
from dbchat_magic.magic._errors import CellError
from dbchat_magic.magic._options import parse_options

if TYPE_CHECKING:
    from dbchat_magic.session import CompareResult, CompareRun, PreparedAsk, Session
    from dbchat_magic.ui import CompareView

_WAKE_INTERVAL = 0.02


def is_compare(shell: Any, line: str) -> bool:
    """True for a ``--compare`` cell (any other parse problem is left to `parse_cell`)."""
    try:
        return bool(parse_options(shell, line).compare)
    except Exception:
        return False


@dataclass
class CompareRequest:
    """A parsed compare cell, ready to start."""

    shell: Any
    args: Any
    session: Session
    prepared: list[PreparedAsk]


def build_compare(shell: Any, line: str, cell: str | None) -> CompareRequest:
    """Parse the cell and prepare one request per target (`CellError` on bad input)."""
    from dbchat_magic.errors import DbChatError
    from dbchat_magic.runner import get_runner
    from dbchat_magic.session import AskOptions, get_session, parse_targets, prepare_compare

    args, question = parse_cell(shell, line, cell)
    if args.endpoint or args.background or args.show_prompt:
        raise CellError("--compare goes without -e, --background and --show-prompt")
    try:
        targets = parse_targets(args.compare)
        check_options(get_session(args.chat), args)
        session = get_session(args.chat, new=args.new)
        frames = [f.strip() for f in args.data.split(",") if f.strip()] if args.data else None
        options = AskOptions(temperature=args.temperature, max_tokens=args.max_tokens,
                             persona=args.persona, frames=frames, no_history=args.no_history)
        prepared = prepare_compare(session, question, targets, options, shell.user_ns)
        for p in prepared:  # missing credentials fail as one line before any view
            get_runner().client(p.settings)
    except DbChatError as err:
        raise CellError(str(err)) from None
    return CompareRequest(shell, args, session, prepared)


class _RunStopper:
    """The one Stop for a whole compare run."""

    def __init__(self) -> None:
        self.run: CompareRun | None = None

    def __call__(self) -> None:
        if self.run is not None:
            self.run.cancel()


def _start(request: CompareRequest, *, awaited: bool) -> tuple[Any, CompareRun]:
    from dbchat_magic.session import start_compare
    from dbchat_magic.ui import CompareView

    stopper = _RunStopper()
    view = CompareView([p.endpoint for p in request.prepared], stopper, button=awaited)
    view.show()
    try:
        run = start_compare(request.session, request.prepared, request.shell.user_ns,
                            on_update=view.update)
    except BaseException:
        view.retire()
        raise
    stopper.run = run
    return view, run


def run_compare_blocking(shell: Any, line: str, cell: str | None) -> CompareResult:
    """Blocking compare; ■ stops every answer (the cell ends normally: a stop is no error)."""
    from dbchat_magic.runner import wait_interruptibly

    request = build_compare(shell, line, cell)
    view, run = _start(request, awaited=False)
    for handle in run.handles:
        try:
            wait_interruptibly(handle.future)
        except KeyboardInterrupt:
            run.cancel()
            break
        except concurrent.futures.CancelledError:
            pass  # stopped: the others were stopped with it
    return _settle(request, view, run)


async def run_compare_awaited(shell: Any, line: str, cell: str | None) -> None:
    """The awaited form: the Stop button works while the cell waits (ipykernel ≥ 7.4)."""
    request = build_compare(shell, line, cell)
    view, run = _start(request, awaited=True)
    loop = asyncio.get_running_loop()
    try:
        while not run.done:
            await asyncio.sleep(_WAKE_INTERVAL)
    except asyncio.CancelledError:  # ■ on an awaiting cell
        run.cancel()
        await loop.run_in_executor(None, run.finish)
    _settle(request, view, run)


def _settle(request: CompareRequest, view: CompareView, run: CompareRun) -> CompareResult:
    from IPython.display import display

    result = run.finish()
    display(view.settled(list(result)))  # first: the answers never leave the screen
    display(result)
    view.retire()
    request.shell.user_ns["_dbchat_last"] = result
    if request.args.output:
        request.shell.user_ns[request.args.output] = result
    return result
