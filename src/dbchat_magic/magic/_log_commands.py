"""``%dbchat log`` / ``stats`` / ``export --log``: the history log as compact, sanitized tables.

Every outside string (questions, answers, endpoint and conversation names) is printed through
`markup.one_line`, so no escape sequence or control character reaches the terminal or notebook.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any, NoReturn

from dbchat_magic.magic._errors import CellError


def write_export(path: Path, text: str, force: bool) -> None:
    """Write an export; an existing file only with ``force`` (one `CellError` line otherwise)."""
    try:
        with path.open("w" if force else "x", encoding="utf-8") as fh:  # "x": never overwrite
            fh.write(text + "\n")
    except FileExistsError:
        raise CellError(f"{path} already exists; nothing written "
                        "(add --force to overwrite it)") from None
    except OSError as err:
        raise CellError(f"could not write {path}: {err.strerror}") from None


class _Parser(argparse.ArgumentParser):
    """argparse that ends in one short `CellError` line instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise CellError(f"%dbchat {self.prog}: {message}")


def _store() -> Any:
    from dbchat_magic.config import Settings
    from dbchat_magic.session import history_store

    store = history_store(Settings.load())
    if store is None:
        raise CellError("history logging is off (setting history_log); nothing is logged")
    return store


def _clip(text: str | None, width: int) -> str:
    from dbchat_magic.markup import one_line

    flat = one_line(text or "")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M")


def _cost_text(cost: Any) -> str:
    from dbchat_magic.pricing import format_cost

    return format_cost(cost) or "-"


def run_log(shell: Any, rest: list[str]) -> None:
    """``%dbchat log …``: search, or ``--forget`` delete."""
    p = _Parser(prog="log", add_help=False)
    p.add_argument("text", nargs="*")
    p.add_argument("--endpoint", "-e")
    p.add_argument("--since")
    p.add_argument("--before")
    p.add_argument("--limit", "-n", type=int, default=20)
    p.add_argument("--chat", "-c")
    p.add_argument("--id")
    p.add_argument("--forget", action="store_true")
    args = p.parse_args(rest)
    store = _store()
    if args.forget:
        _forget(store, args)
        return
    turns = store.search(" ".join(args.text) or None, endpoint=args.endpoint, since=args.since,
                         until=args.before, conversation=args.chat, limit=args.limit)
    if not turns:
        print("no logged turn matches")
        return
    marks = _resets_among(store, turns, args.before)
    print(f"{'id':>6}  {'asked':<16}  {'chat':<12} {'endpoint':<28} {'status':<9} "
          f"{'cost':>10}  question → answer")
    for t in turns:
        while marks and marks[-1][1] > t.asked_at:  # a reset after this turn: above it
            _print_reset(*marks.pop())
        print(f"{t.id:>6}  {_when(t.asked_at):<16}  {_clip(t.conversation, 12):<12} "
              f"{_clip(t.endpoint, 28):<28} {_clip(t.status, 9):<9} {_cost_text(t.cost):>10}  "
              f"{_clip(t.question, 50)} → {_clip(t.answer, 60)}")
    while marks:
        _print_reset(*marks.pop())


def _resets_among(store: Any, turns: list[Any], before: str | None) -> list[tuple[str, float]]:
    """The resets of the listed turns' conversations from the oldest listed turn on (oldest
    first): where each of those conversations restarted."""
    names = {t.conversation for t in turns}
    oldest = min(t.asked_at for t in turns)
    return [(name, at) for name, at in store.resets(since=oldest, until=before) if name in names]


def _print_reset(name: str, at: float) -> None:
    print(f"{'':>6}  {_when(at):<16}  {_clip(name, 12):<12} "
          "↺ restarted here (%dbchat reset or --new)")


def _forget(store: Any, args: argparse.Namespace) -> None:
    ids = None
    if args.id:
        try:
            ids = [int(part) for part in args.id.split(",") if part.strip()]
        except ValueError:
            raise CellError(f"--id takes turn ids such as 12,13 (got {args.id!r})") from None
    if args.text or args.endpoint or args.since:
        raise CellError("--forget takes -c CHAT, --before DATE and --id only (nothing deleted)")
    deleted = store.forget(conversation=args.chat, before=args.before, ids=ids)
    print(f"deleted {deleted} logged turn{'s' if deleted != 1 else ''}")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def run_stats(shell: Any, rest: list[str]) -> None:
    """``%dbchat stats [--by endpoint|day]``."""
    from dbchat_magic.pricing import Cost

    p = _Parser(prog="stats", add_help=False)
    p.add_argument("--by", default="endpoint")
    p.add_argument("--since")
    p.add_argument("--endpoint", "-e")
    p.add_argument("--chat", "-c")
    args = p.parse_args(rest)
    rows = _store().stats(args.by, since=args.since, endpoint=args.endpoint,
                          conversation=args.chat)
    if not rows:
        print("nothing logged yet")
        return
    width = min(48, max(len(args.by), *(len(_clip(r.key, 48)) for r in rows)))
    print(f"{args.by:<{width}} {'turns':>5} {'failed':>6} {'ttft p50':>8} {'p95':>8} "
          f"{'total p50':>9} {'p95':>8} {'rate':>12} {'tokens':>8} {'cost':>11}")
    for r in rows:
        cost = "-" if r.cost_usd is None else _cost_text(Cost(r.cost_usd, r.cost_estimated))
        tps = "-" if r.tokens_per_second is None else f"{r.tokens_per_second:.1f} tok/s"
        print(f"{_clip(r.key, 48):<{width}} {r.count:>5} {r.failed:>6} {_seconds(r.ttft_p50):>8} "
              f"{_seconds(r.ttft_p95):>8} {_seconds(r.total_p50):>9} {_seconds(r.total_p95):>8} "
              f"{tps:>12} {r.total_tokens:>8} {cost:>11}")
    print("(ttft: first token; rate: median tokens/s; ≈: estimated cost)")


def export_from_log(name: str, path: Path, *, force: bool) -> int:
    """Write conversation ``name`` from the log to ``path`` (.json records or .md); turns."""
    store = _store()
    records = store.export(name)
    if not records:
        raise CellError(f"the log holds no turn of conversation {name!r}; nothing written")
    if path.suffix.lower() == ".json":
        text = json.dumps({"conversation": name, "turns": records}, indent=2, ensure_ascii=False)
    else:
        from dbchat_magic.conversation import Conversation

        conv = Conversation(name)
        for turn in store.conversation(name):
            conv.add(turn.question, turn.to_result(), sent_question=turn.sent_question)
        text = conv.to_markdown()
    write_export(path, text, force)
    return len(records)
