"""``%dbchat`` line commands: connect, set, config, use, endpoints, history, reset, panel, export,
last (their help: `dbchat_magic.magic._help`).

Nothing here ever prints a credential: settings hold none; only the credential *source* is shown.
"""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dbchat_magic.magic._errors import CellError
from dbchat_magic.magic._help import line_help
from dbchat_magic.magic._log_commands import export_from_log, run_log, run_stats, write_export

_ENDPOINTS_TIMEOUT = 30.0
_USE_CHECK_TIMEOUT = 5.0
"""How long `%dbchat use NAME` waits for the endpoint list before saving NAME unchecked."""


def run_command(shell: Any, line: str) -> Any:
    """Dispatch one ``%dbchat`` line; errors end as one short line (`CellError`)."""
    from dbchat_magic.errors import DbChatError

    try:
        words = shlex.split(line)
    except ValueError as err:
        raise CellError(f"could not parse {line!r}: {err}") from None
    if not words or words[0] in ("help", "-h", "--help"):
        print(line_help())
        return None
    name, rest = words[0], words[1:]
    handler = _HANDLERS.get(name)
    if handler is None:
        raise CellError(f"unknown command {name!r}; try: {', '.join(_HANDLERS)}")
    try:
        return handler(shell, rest)
    except DbChatError as err:
        raise CellError.from_error(err) from err


def _chat_name(rest: list[str]) -> tuple[str, list[str]]:
    """Pull ``-c NAME`` / ``--chat NAME`` out of ``rest``."""
    name = "default"
    left: list[str] = []
    it = iter(rest)
    for word in it:
        if word in ("-c", "--chat"):
            name = next(it, None) or name
        else:
            left.append(word)
    return name, left


def _config(shell: Any, rest: list[str]) -> None:
    from dbchat_magic.auth import describe_auth, resolve_credentials
    from dbchat_magic.config import Settings
    from dbchat_magic.errors import DbChatError

    settings = Settings.load()
    print(format_settings(settings))
    try:
        where = "server" if settings.url_style == "openai" else "workspace host"
        print(f"{where:<22} {resolve_credentials(settings).host}")
        found = True
        source = describe_auth(settings)
    except DbChatError as err:  # e.g. a host holding user info: the message never echoes it
        found, source = False, f"none found ({err})"
    print(f"{'credentials':<22} {source}")
    print(f"{'endpoint kind':<22} {_endpoint_kind(settings, found)}")
    from dbchat_magic.magic.async_cell import rewrite_cell

    awaited = rewrite_cell in (getattr(shell, "input_transformers_cleanup", None) or ())
    how = "Stop button (awaited cells, ipykernel ≥ 7.4)" if awaited else "press ■ (interrupt)"
    print(f"{'stop a blocking cell':<22} {how}")


def _endpoint_kind(settings: Any, has_credentials: bool) -> str:
    """How dbchat talks to the current endpoint, and where that came from."""
    from dbchat_magic.errors import DbChatError
    from dbchat_magic.markup import one_line
    from dbchat_magic.runner import get_runner

    if settings.api != "auto":
        return f"{settings.api} (api setting)"
    if not has_credentials:
        return "auto (no credentials to read the endpoint's task)"
    runner = get_runner()
    try:
        client = runner.client(settings)  # shared per connection: name the endpoint
        kind = runner.run(client.endpoint_kind(settings.endpoint), timeout=_ENDPOINTS_TIMEOUT)
    except (DbChatError, TimeoutError) as err:
        return f"chat (the task could not be read: {one_line(str(err))[:80]})"
    if kind.source == "task":
        return f"{kind.api} (task {one_line(kind.task or '')})"
    return f"{kind.api} (the endpoint's task could not be read; set api to choose)"


def format_settings(settings: Any) -> str:
    """Effective settings, one per line; profiles listed by name and endpoint."""
    lines = []
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name == "host" and not value:
            value = "(from the credentials)"
        elif f.name == "profiles":
            value = ", ".join(f"{n} → {getattr(p, 'endpoint', p)}" for n, p in value.items()) or "-"
        lines.append(f"{f.name:<22} {value}")
    return "\n".join(lines)


def _use(shell: Any, rest: list[str]) -> None:
    from dbchat_magic.config import Settings

    if len(rest) != 1:
        raise CellError("usage: %dbchat use NAME (an endpoint or a profile)")
    target = rest[0]
    settings = Settings.load()
    note = None
    if target in settings.profiles:
        settings = settings.use(target)
        what = f"profile {target!r} (endpoint {settings.endpoint!r})"
    else:
        settings = settings.replace(endpoint=target)
        note = _check_listed(settings, target)
        what = f"endpoint {target!r}"
    settings.save()
    print(f"now using {what}; saved, applies to the next question")
    if note:
        print(f"note: {note}")


def _check_listed(settings: Any, target: str) -> str | None:
    """Refuse ``target`` unless the workspace lists it; None when listed, a note when unknowable."""
    import difflib

    names = _listed_names(settings)
    if isinstance(names, str):
        return f"{target!r} was not checked: {names}"
    if target in names:
        return None
    near = difflib.get_close_matches(target, [*names, *settings.profiles], n=3, cutoff=0.6)
    hint = (f"did you mean {', '.join(near)}?" if near
            else "`%dbchat endpoints` lists the chat endpoints")
    raise CellError(f"{target!r} is neither a profile nor a chat endpoint of this workspace; "
                    f"{hint} (nothing saved)")


def _listed_names(settings: Any) -> list[str] | str:
    """The workspace's chat endpoint names, or why they could not be read (short timeout)."""
    import concurrent.futures

    from dbchat_magic.errors import DbChatError
    from dbchat_magic.runner import get_runner

    runner = get_runner()
    try:
        future = runner.submit(runner.client(settings).list_endpoints())
    except DbChatError as err:  # e.g. no credentials yet: choosing the endpoint first is fine
        return f"the endpoint list could not be read ({err})"
    try:
        return [info.name for info in future.result(_USE_CHECK_TIMEOUT)]
    except concurrent.futures.TimeoutError:
        future.cancel()
        return f"the endpoint list did not arrive within {_USE_CHECK_TIMEOUT:g} s"
    except DbChatError as err:
        return f"the endpoint list could not be read ({err})"
    except Exception as err:  # advisory check: an unexpected failure must not block `use`
        return f"the endpoint list could not be read ({type(err).__name__})"


def _endpoints(shell: Any, rest: list[str]) -> None:
    from dbchat_magic.config import Settings
    from dbchat_magic.markup import one_line
    from dbchat_magic.runner import get_runner

    settings = Settings.load()
    runner = get_runner()
    found = runner.run(runner.client(settings).list_endpoints(), timeout=_ENDPOINTS_TIMEOUT)
    if not found:
        print("no chat endpoints found in this workspace")
        return
    current = settings.endpoint
    for info in found:  # names and tasks come from the server: printed cleaned
        mark = "*" if info.name == current else " "
        state = "ready" if info.ready else "not ready"
        task = one_line(info.task or "")
        print(f"{mark} {one_line(info.name):<40} {state:<10} {task:<20} {info.api}")
    print("(* = current; switch with %dbchat use NAME)")


def _history(shell: Any, rest: list[str]) -> None:
    from dbchat_magic.markup import one_line
    from dbchat_magic.pricing import format_total, total_cost
    from dbchat_magic.result import step_line
    from dbchat_magic.session import get_session

    name, _ = _chat_name(rest)
    conv = get_session(name).conversation  # a named chat continues from the log after a restart
    if not conv.turns:
        print(f"conversation {name!r} is empty")
        return
    for i, turn in enumerate(conv.turns, 1):  # outside text: no escape sequences
        print(f"{i}. Q: {one_line(turn.question)}")
        for step in turn.result.steps[:20]:
            print(f"   step: {one_line(step_line(step))}")
        print(f"   A ({turn.result.status}): {history_answer(turn.result)}")
    total = format_total(total_cost(t.result.extras.get("cost") for t in conv.turns))
    if total:
        print(f"cost: {total}")


def history_answer(result: Any, width: int = 120) -> str:
    """One line for an answer in ``%dbchat history``: its prose with specs named ("[bar chart of
    …]"), the drawn charts/tables/KPIs, and why it failed or was cut off."""
    from dbchat_magic.markup import one_line
    from dbchat_magic.specs import specs_as_words

    answer = one_line(specs_as_words(result.text))
    short = answer[:width - 3] + "…" if len(answer) > width else answer
    drawn = [str(getattr(r, "kind", "") or "spec") for r in result.extras.get("specs") or ()
             if getattr(r, "mimebundle", None)]
    parts = [short or one_line(result.tool_call_note or "") or "(no answer)"]
    if drawn:
        counts = {kind: drawn.count(kind) for kind in dict.fromkeys(drawn)}
        parts.append("drew " + ", ".join(f"{n} {_KIND_WORDS.get(k, k)}{'s' if n > 1 else ''}"
                                         for k, n in counts.items()))
    if result.status in ("failed", "truncated") and result.error:
        parts.append(f"why: {one_line(result.error)}")
    return " — ".join(parts)


_KIND_WORDS = {"chart": "chart", "table": "table", "kpi": "KPI"}


def _reset(shell: Any, rest: list[str]) -> None:
    from dbchat_magic.conversation import get_conversation
    from dbchat_magic.session import Session

    name, _ = _chat_name(rest)
    conversation = get_conversation(name)
    conversation.reset()
    notes = Session(conversation).mark_reset()  # the log's restore starts here from now on
    print(f"conversation {name!r} reset", *notes, sep="\n")


def _panel(shell: Any, rest: list[str]) -> Any:
    """A new, independent ChatPanel; with ``-c CHAT`` it continues that named conversation.
    Where the front end cannot show this kernel's widgets, says why instead (no error box)."""
    from dbchat_magic.config import Settings
    from dbchat_magic.session import get_session
    from dbchat_magic.ui import ChatPanel, widgets_choice

    use, note = widgets_choice(Settings.load().widgets)
    if not use and note:
        print(f"{note}\nThe chat panel needs widgets: ask with %%dbchat cells meanwhile.")
        return None

    if any(word in ("-c", "--chat") for word in rest):
        name, _ = _chat_name(rest)
        return ChatPanel(session=get_session(name), namespace=shell.user_ns)
    return ChatPanel(namespace=shell.user_ns)


def _export(shell: Any, rest: list[str]) -> None:
    from dbchat_magic.conversation import get_conversation

    name, left = _chat_name(rest)
    force = "--force" in left
    from_log = "--log" in left
    left = [word for word in left if word not in ("--force", "--log")]
    if len(left) != 1:
        raise CellError("usage: %dbchat export PATH [-c CHAT] [--log] [--force] (.md or .json)")
    path = Path(left[0]).expanduser()
    if from_log:
        count = export_from_log(name, path, force=force)
        print(f"exported {count} logged turns of {name!r} to {path}")
        return
    conv = get_conversation(name)
    charts: dict[str, str] = {}
    folder = path.with_name(f"{path.stem}_charts")

    def keep(file_name: str, svg: str) -> str:
        charts[file_name] = svg
        return f"{quote(folder.name)}/{quote(file_name)}"

    text = conv.to_json() if path.suffix.lower() == ".json" else conv.to_markdown(charts=keep)
    taken = [p for p in (path, *(folder / n for n in charts)) if p.exists()]
    if taken and not force:
        raise CellError(f"{taken[0]} already exists; nothing written "
                        "(add --force to overwrite it)")
    write_export(path, text, force)
    if charts:
        folder.mkdir(exist_ok=True)
        for file_name, svg in charts.items():
            write_export(folder / file_name, svg, force)
    beside = f" and {len(charts)} chart{'s' if len(charts) > 1 else ''} in {folder}" \
        if charts else ""
    print(f"exported {len(conv)} turns of {name!r} to {path}{beside}")


def _connect(shell: Any, rest: list[str]) -> None:
    from dbchat_magic.magic._connect import connect

    connect(rest)


def _set(shell: Any, rest: list[str]) -> None:
    from dbchat_magic.magic._connect import set_setting

    set_setting(rest)


def _help(shell: Any, rest: list[str]) -> None:
    print(line_help())


def _last(shell: Any, rest: list[str]) -> Any:
    """Show the last answer as its cell did: the answer, its charts/tables/KPIs, how it ended
    (a ``--compare`` result is returned, to show itself)."""
    from IPython.display import display

    from dbchat_magic.result import ChatResult
    from dbchat_magic.ui import settled_outputs

    last = shell.user_ns.get("_dbchat_last")
    if last is None:
        print("no answer yet: ask with %%dbchat")
        return None
    if not isinstance(last, ChatResult):
        return last
    for item in settled_outputs(last):
        display(item)
    return None


_HANDLERS = {
    "connect": _connect, "set": _set, "config": _config, "use": _use, "endpoints": _endpoints,
    "history": _history, "reset": _reset, "panel": _panel, "export": _export, "last": _last,
    "log": run_log, "stats": run_stats, "help": _help,
}
