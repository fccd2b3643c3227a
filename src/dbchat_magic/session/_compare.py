"""One question to several endpoints at once (``--compare A,B,C``): the same composed prompt to
each, all streaming together on the runner loop, one stop for all, a `CompareResult` at the end.

Compare answers are logged and traced (one parent span) but kept out of the conversation: which of
them the next question should build on is the user's choice (ask again with ``-e``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbchat_magic.errors import ConfigError
from dbchat_magic.markup import escape
from dbchat_magic.pricing import Cost, format_cost
from dbchat_magic.result import ChatResult
from dbchat_magic.session._ask import AskHandle, AskOptions, PreparedAsk

if TYPE_CHECKING:
    from dbchat_magic.session._pipeline import Session

MIN_TARGETS, MAX_TARGETS = 2, 6
COLUMNS = ("endpoint", "first token", "total", "tokens", "rate", "cost", "status")


def parse_targets(text: str) -> list[str]:
    """``"A,B,C"`` → names (2–6, distinct); `ConfigError` otherwise."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not targets_ok(names):
        raise ConfigError(f"--compare takes {MIN_TARGETS} to {MAX_TARGETS} different endpoints or "
                          f"profiles separated by commas (got {text!r})")
    return names


def targets_ok(names: Sequence[str]) -> bool:
    """True for 2–6 distinct endpoint or profile names (what a compare run takes)."""
    return MIN_TARGETS <= len(names) <= MAX_TARGETS and len(set(names)) == len(names)


def prepare_compare(session: Session, question: str, targets: Sequence[str],
                    options: AskOptions, namespace: Mapping[str, Any]) -> list[PreparedAsk]:
    """One `PreparedAsk` per target (an endpoint or a profile), all with the same composed
    messages; per-cell ``-t``/``-m`` win over a profile's own values."""
    base = session.prepare(question, dataclasses.replace(options, endpoint=None), namespace)
    out = []
    for target in targets:
        settings = (base.settings.use(target) if target in base.settings.profiles
                    else base.settings.replace(endpoint=target))
        params = {
            "temperature": settings.temperature if options.temperature is None
            else options.temperature,
            "max_tokens": settings.max_tokens if options.max_tokens is None else options.max_tokens,
        }
        out.append(PreparedAsk(prompt=base.prompt, endpoint=settings.endpoint, params=params,
                               settings=settings,
                               options=dataclasses.replace(options, endpoint=settings.endpoint,
                                                           record=False)))
    endpoints = [(p.endpoint, p.settings.host) for p in out]
    if len(set(endpoints)) != len(endpoints):
        raise ConfigError(f"--compare {', '.join(targets)}: two of them are the same endpoint")
    return out


@dataclass
class CompareResult:
    """The answers of one compare run, by endpoint (in the order asked)."""

    question: str
    results: dict[str, ChatResult] = field(default_factory=dict)

    def __getitem__(self, endpoint: str) -> ChatResult:
        return self.results[endpoint]

    def __iter__(self) -> Iterator[ChatResult]:
        return iter(self.results.values())

    def __len__(self) -> int:
        return len(self.results)

    def rows(self) -> list[tuple[str, ...]]:
        """One row of `COLUMNS` per endpoint."""
        return [_row(r) for r in self.results.values()]

    def table_text(self) -> str:
        """The rows as a fixed-width text table."""
        from dbchat_magic.markup import one_line

        rows = [COLUMNS, *[tuple(one_line(c) for c in row) for row in self.rows()]]
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                         for row in rows)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                       for row in self.rows())
        return (f"<table class='dbchat-compare-table'><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/html": self._repr_html_(), "text/plain": self.table_text()}

    def __repr__(self) -> str:
        return self.table_text()


def _row(r: ChatResult) -> tuple[str, ...]:
    m, u = r.metrics, r.usage
    approx = "≈" if u.estimated else ""
    cost = r.extras.get("cost")
    return (
        r.endpoint,
        "-" if m.time_to_first_token is None else f"{m.time_to_first_token * 1000:.0f} ms",
        "-" if m.total_time is None else f"{m.total_time:.2f} s",
        "-" if u.completion_tokens is None else f"{approx}{u.completion_tokens}",
        "-" if m.tokens_per_second is None else f"{approx}{m.tokens_per_second:.1f} tok/s",
        format_cost(cost) if isinstance(cost, Cost) else "-",
        r.status,
    )


class CompareRun:
    """Started answers of a compare: ``cancel()`` stops all, ``wait()`` the `CompareResult`."""

    def __init__(self, question: str, handles: list[AskHandle], group: Any) -> None:
        self.question = question
        self.handles = handles
        self._group = group

    def cancel(self) -> None:
        """Stop every answer (partial texts are kept)."""
        for handle in self.handles:
            handle.cancel()

    @property
    def done(self) -> bool:
        """True once every answer's pipeline has ended."""
        return all(h.done for h in self.handles)

    def result(self) -> CompareResult:
        """The results so far, by endpoint (final once `done`)."""
        return CompareResult(self.question, {h.prepared.endpoint: h.result for h in self.handles})

    def finish(self) -> CompareResult:
        """Wait (5 s at most) for every pipeline to end; close the trace group."""
        from dbchat_magic.client import end_result

        for h in self.handles:
            h.wait(5.0)
            end_result(h.result, "stopped")
        out = self.result()
        _end_group(self._group, out)
        return out


def _end_group(group: Any, out: CompareResult) -> None:
    if group is not None:
        group.end({r.endpoint: r.status for r in out},
                  failed=any(r.status == "failed" for r in out))


def start_compare(session: Session, prepared: Sequence[PreparedAsk],
                  namespace: Mapping[str, Any] | None = None, *,
                  on_update: Callable[[int, ChatResult], None] | None = None,
                  on_done: Callable[[CompareResult], None] | None = None) -> CompareRun:
    """Start every prepared answer at once; ``on_update(i, result)`` per streamed event;
    ``on_done(result)`` once every answer has ended (on the runner loop: the trace group is then
    closed there, and `CompareRun.finish` need not be called)."""
    from dbchat_magic.tracing import start_group

    first = prepared[0]
    group = start_group(first.settings.tracing, "dbchat compare",
                        {"question": first.question, "endpoints": [p.endpoint for p in prepared]})
    ended = None if on_done is None else _AllEnded(first.question, prepared, group, on_done)
    handles: list[AskHandle] = []
    try:
        for i, p in enumerate(prepared):
            update = None if on_update is None else _indexed(on_update, i)
            done = None if ended is None else ended.callback(i)
            handles.append(session.start(p, namespace, on_update=update, on_done=done,
                                         trace_parent=group))
    except BaseException:
        for h in handles:
            h.cancel()
        raise
    return CompareRun(first.question, handles, None if ended is not None else group)


class _AllEnded:
    """Calls ``on_done`` with the `CompareResult` once every answer of a run has ended."""

    def __init__(self, question: str, prepared: Sequence[PreparedAsk], group: Any,
                 on_done: Callable[[CompareResult], None]) -> None:
        self.question, self.group, self.on_done = question, group, on_done
        self.endpoints = [p.endpoint for p in prepared]
        self.results: dict[int, ChatResult] = {}
        self._lock = threading.Lock()

    def callback(self, i: int) -> Callable[[ChatResult], None]:
        def ended(result: ChatResult) -> None:
            with self._lock:
                self.results[i] = result
                if len(self.results) != len(self.endpoints):
                    return
            out = CompareResult(self.question, {e: self.results[k]
                                                for k, e in enumerate(self.endpoints)})
            _end_group(self.group, out)
            self.on_done(out)
        return ended


def _indexed(fn: Callable[[int, ChatResult], None], i: int) -> Callable[[ChatResult], None]:
    return lambda result: fn(i, result)
