"""The ``%%dbchat`` cell magic: parse options, interpolate ``{var}``, ask, show, store the result.

A blocking cell waits until the answer is complete (Run All, ``-o`` and nbval see whole answers); ■
stops it with one amber line (a stop asked for is not an error). A failed answer ends the cell in
error (one line, the partial answer shown) unless ``--no-raise`` or the setting
``raise_on_failure`` is off. ``--background`` returns at once.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbchat_magic.magic._errors import AnswerFailed, CellError
from dbchat_magic.magic._interpolate import interpolate
from dbchat_magic.magic._options import parse_options

if TYPE_CHECKING:
    from dbchat_magic.result import ChatResult
    from dbchat_magic.session import AskHandle, PreparedAsk, Session
    from dbchat_magic.ui import AnswerView


@dataclass
class CellRequest:
    """A parsed ``%%dbchat`` cell, ready to start."""

    shell: Any
    args: Any
    session: Session
    prepared: PreparedAsk
    notes: list[str] = field(default_factory=list)

    @property
    def namespace(self) -> dict[str, Any]:
        """The user's namespace (where ``_dbchat_last`` and ``-o VAR`` land)."""
        return self.shell.user_ns


def parse_cell(shell: Any, line: str, cell: str | None) -> tuple[Any, str]:
    """Options and the interpolated question; `CellError` when there is no question."""
    args = parse_options(shell, line)
    raw = "\n".join(part for part in (" ".join(args.question), cell or "") if part.strip())
    if not raw.strip():
        raise CellError("no question: write it in the cell below %%dbchat (see %%dbchat?)")
    done = interpolate(raw.strip(), shell.user_ns)
    for note in done.notes:
        print(f"note: {note}", file=sys.stderr)
    return args, done.text


def build_request(shell: Any, line: str, cell: str | None) -> CellRequest:
    """Parse and prepare the cell: compose the exact messages (`CellError` on a bad option)."""
    from dbchat_magic.errors import DbChatError
    from dbchat_magic.session import AskOptions, get_session

    args, question = parse_cell(shell, line, cell)
    check_options(get_session(args.chat), args)  # before --new: a refused cell loses nothing
    session = get_session(args.chat, new=args.new)
    print_notes(session)
    frames = [f.strip() for f in args.data.split(",") if f.strip()] if args.data else None
    options = AskOptions(endpoint=args.endpoint, temperature=args.temperature,
                         max_tokens=args.max_tokens, persona=args.persona, frames=frames,
                         no_history=args.no_history)
    try:
        prepared = session.prepare(question, options, shell.user_ns)
    except DbChatError as err:
        raise CellError.from_error(err) from err
    return CellRequest(shell=shell, args=args, session=session, prepared=prepared)


def print_notes(session: Session) -> None:
    """Show the session's pending notes once (e.g. a conversation not restored from the log)."""
    notes, session.notes = session.notes, []
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


_CHECKED_OPTIONS = (("endpoint", "-e/--endpoint"), ("temperature", "-t/--temperature"),
                    ("max_tokens", "-m/--max-tokens"))


def check_options(session: Session, args: Any) -> None:
    """Per-cell overrides obey the same rules as the settings (`Settings.replace` owns them)."""
    from dbchat_magic.errors import DbChatError

    try:
        settings = session.settings()
    except DbChatError as err:
        raise CellError.from_error(err) from err
    for name, flag in _CHECKED_OPTIONS:
        value = getattr(args, name)
        if value is None:
            continue
        try:
            settings.replace(**{name: value})
        except DbChatError as err:
            raise CellError.from_error(err, f"{flag}: ", "; nothing was sent") from err


def format_prompt(prepared: PreparedAsk) -> str:
    """``--show-prompt``: the endpoint and parameters, then the prompt as `ComposedPrompt.show`
    lists it (the messages exactly as they would be sent, each part's size, the notes)."""
    params = ", ".join(f"{k}={v}" for k, v in prepared.params.items())
    return prepared.prompt.show(header=f"Prompt for endpoint {prepared.endpoint!r} (nothing was "
                                       f"sent). Parameters: {params}")


def store_result(request: CellRequest, result: ChatResult) -> None:
    """Put the result in ``_dbchat_last`` and, with ``-o VAR``, in ``VAR``."""
    request.namespace["_dbchat_last"] = result
    if request.args.output:
        request.namespace[request.args.output] = result


def check_credentials(request: CellRequest) -> None:
    """Make (or reuse) the client now so missing credentials fail as one line before any view."""
    from dbchat_magic.errors import DbChatError
    from dbchat_magic.runner import get_runner

    try:
        get_runner().client(request.prepared.settings)
    except DbChatError as err:
        raise CellError.from_error(err) from err


class _Stopper:
    """The view's Stop callback; knows the handle once the question has started."""

    def __init__(self) -> None:
        self.handle: AskHandle | None = None
        self.clicked = False

    def __call__(self) -> None:
        self.clicked = True
        if self.handle is not None:
            self.handle.cancel()


def run_cell(shell: Any, line: str, cell: str | None) -> None:
    """Run a ``%%dbchat`` cell in the blocking (default) or background mode."""
    request = build_request(shell, line, cell)
    if request.args.show_prompt:
        print(format_prompt(request.prepared))
        return
    check_credentials(request)
    if request.args.background:
        run_background(request)
    else:
        run_blocking(request)


def _view(request: CellRequest, stopper: _Stopper, *, background: bool = False,
          awaited: bool = False) -> AnswerView:
    from dbchat_magic.magic._stop import stop_mode
    from dbchat_magic.ui import make_answer_view

    return make_answer_view(endpoint=request.prepared.endpoint, on_stop=stopper,
                            stop_mode=stop_mode(background=background, awaited=awaited),
                            widgets=request.prepared.settings.widgets)


def run_blocking(request: CellRequest) -> ChatResult:
    """Stream while blocking the cell; ■ stops the answer (the cell ends with the amber line)."""
    import concurrent.futures

    from dbchat_magic.runner import wait_interruptibly

    stopper = _Stopper()
    view = _view(request, stopper)
    view.show()
    try:
        handle = request.session.start(request.prepared, request.namespace, on_update=view.update)
    except BaseException:
        _retire(view)  # never started: its widgets must not outlive the cell
        raise
    stopper.handle = handle
    try:
        wait_interruptibly(handle.future)
    except KeyboardInterrupt:
        pass  # ■: the answer was cancelled; a stop asked for is not an error
    except concurrent.futures.CancelledError:
        pass  # the Stop button cancelled it
    return settle(request, view, handle)


def settle(request: CellRequest, view: AnswerView, handle: AskHandle) -> ChatResult:
    """Finish the view, display the settled outputs, store the result; a failure raises
    `AnswerFailed` (its one line replaces the red status line) unless the cell opted out.

    ■ and Stop end the cell normally, with the amber "stopped" line.
    """
    from IPython.display import display

    from dbchat_magic.client import end_result
    from dbchat_magic.ui import OutcomeLine, outcome

    result = end_result(handle.wait(5.0), "stopped")
    failing = result.status == "failed" and raises(request)
    for item in view.settled_outputs(result):  # first: the answer never leaves the screen
        if not (failing and isinstance(item, OutcomeLine)):  # failing: the error says it once
            display(item)
    view.finish(result, outcome=not failing)
    _retire(view)
    store_result(request, result)
    if failing:
        found = outcome(result)
        raise AnswerFailed(result, found.text if found else "✗ failed")
    return result


def raises(request: CellRequest) -> bool:
    """Does a failed answer end this cell in error? (``--no-raise``; ``raise_on_failure``)"""
    return not request.args.no_raise and bool(request.prepared.settings.raise_on_failure)


def run_background(request: CellRequest) -> AskHandle:
    """Start the answer and return at once; the view's Stop button works on every kernel.

    In a notebook an empty output is reserved under the view; when the answer ends it is updated
    (by display id) to the settled answer as one sanitized HTML output — charts, tables and KPIs
    inlined — so a background answer also survives save/reload.
    """
    stopper = _Stopper()
    view = _view(request, stopper, background=True)
    view.show()
    placeholder = _reserve_output() if hasattr(view, "widget") else None

    def done(result: ChatResult) -> None:
        settled = view.settled_outputs(result)
        parts = [_html_of(item) for item in settled]
        if placeholder is None or any(part is None for part in parts):
            view.finish(result, settle=False)  # charts/tables stay inside the live view
        else:
            placeholder.update(_joined_output(settled, parts))  # shown first,
            view.finish(result, settle=True)  # then the live answer goes: never a blank moment
            _retire(view)
        store_result(request, result)

    try:
        handle = request.session.start(request.prepared, request.namespace,
                                       on_update=view.update, on_done=done)
    except BaseException:
        _retire(view)  # never started: its widgets must not outlive the cell
        raise
    stopper.handle = handle
    return handle


def _retire(view: AnswerView) -> None:
    """The live view gives way to the settled outputs (text views have nothing to retire)."""
    view.retire()


def _reserve_output() -> Any:
    """An empty output in this cell that can be filled later by display id."""
    from IPython.display import display

    return display({"text/html": "", "text/plain": ""}, raw=True, display_id=True)


class _JoinedOutput:
    """The settled outputs of a --background answer as one output (one display id to update)."""

    def __init__(self, markup: str, text: str) -> None:
        self.markup, self.text = markup, text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/html": self.markup, "text/plain": self.text}


def _joined_output(items: list[Any], parts: list[str | None]) -> _JoinedOutput:
    """One output from the items' HTML (each already safe) and their plain texts."""
    markup = "\n".join(f"<div>{part}</div>" for part in parts if part)
    texts = [str(item._repr_mimebundle_().get("text/plain") or "") for item in items]
    return _JoinedOutput(markup, "\n\n".join(t for t in texts if t))


def _html_of(item: Any) -> str | None:
    """Safe HTML of a settled output (an answer, a spec inlined, a line), None when it has none."""
    as_html = getattr(item, "as_html", None)
    if not callable(as_html):
        return None
    part = as_html()
    return part if isinstance(part, str) else None
