"""Tool calls and tool outputs from any wire format → whole `ToolStep` events, and the usage and
shape bookkeeping the agent normalizers share (`AgentNormalizerBase`)."""

from __future__ import annotations

from typing import Any

from dbchat_magic.events import StreamEvent, ToolStep, UsageUpdate

_MAX_CALLS = 64  # tool calls kept per answer; more are counted, not kept
_MAX_TEXT = 64 * 1024  # characters kept of one call's arguments or one tool output


def _text(value: Any) -> str:
    """A step's text: strings as they are, anything else as compact JSON-ish text, bounded."""
    if value is None:
        return ""
    if not isinstance(value, str):
        import orjson

        try:
            value = orjson.dumps(value).decode()
        except TypeError:
            value = str(value)
    return value[:_MAX_TEXT]


def call_step(name: Any, arguments: Any, call_id: Any) -> ToolStep:
    """A tool call the model asked for."""
    return ToolStep("call", _text(name)[:200], _text(arguments),
                    _text(call_id)[:200] if call_id else None)


def output_step(name: Any, output: Any, call_id: Any) -> ToolStep:
    """A tool's output an agent reported."""
    return ToolStep("output", _text(name)[:200], _text(output),
                    _text(call_id)[:200] if call_id else None)


class ToolCallParts:
    """Chat Completions ``tool_calls`` deltas (pieces keyed by ``index``) → whole calls."""

    __slots__ = ("_calls", "dropped")

    def __init__(self) -> None:
        self._calls: dict[int, list[Any]] = {}  # index -> [id, name, argument pieces]
        self.dropped = 0

    def add(self, deltas: Any) -> None:
        """Take one delta's ``tool_calls`` list (malformed entries are ignored)."""
        if not isinstance(deltas, list):
            return
        for pos, part in enumerate(deltas):
            if not isinstance(part, dict):
                continue
            index = part.get("index", pos)
            if not isinstance(index, int):
                continue
            call = self._calls.get(index)
            if call is None:
                if len(self._calls) >= _MAX_CALLS:
                    self.dropped += 1
                    continue
                call = self._calls[index] = [None, "", []]
            given = part.get("function")
            fn: dict[str, Any] = given if isinstance(given, dict) else {}
            call[0] = call[0] or part.get("id")
            if isinstance(fn.get("name"), str):
                call[1] += fn["name"]
            if isinstance(fn.get("arguments"), str) and sum(map(len, call[2])) < _MAX_TEXT:
                call[2].append(fn["arguments"])

    def take(self, out: list[StreamEvent]) -> None:
        """Append the calls gathered so far as steps, in index order, and forget them."""
        for index in sorted(self._calls):
            call_id, name, pieces = self._calls[index]
            out.append(call_step(name, "".join(pieces), call_id))
        self._calls.clear()


def usage_event(prompt: Any, completion: Any, total: Any) -> UsageUpdate:
    """A `UsageUpdate` from raw counts (non-integers count as not reported)."""
    return UsageUpdate(_int(prompt), _int(completion), _int(total))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class AgentNormalizerBase:
    """What the agent normalizers share: model, finish reason, the last usage, and the keys of
    the first payload they could not read (`unread_keys`, while nothing was read)."""

    def __init__(self) -> None:
        self.model: str | None = None
        self.finish_reason: str | None = None
        self._done = False
        self._usage: UsageUpdate | None = None
        self._sent_usage: UsageUpdate | None = None
        self._read = False
        self._unread: tuple[str, ...] | None = None

    def _note_usage(self, usage: UsageUpdate, out: list[StreamEvent]) -> None:
        self._usage = self._sent_usage = usage
        out.append(usage)

    def _unknown(self, payload: dict[str, Any]) -> None:
        if self._unread is None:
            self._unread = tuple(sorted(str(k) for k in payload)[:12])

    def flush(self) -> list[StreamEvent]:
        """Nothing is held back by these formats."""
        return []

    def unsent_usage(self) -> UsageUpdate | None:
        """Usage is sent as it arrives."""
        return None

    @property
    def finished(self) -> bool:
        """True once the answer said it is complete."""
        return self._done

    @property
    def total_tokens(self) -> int | None:
        """The server's last total token count, if any."""
        return self._usage.total_tokens if self._usage is not None else None

    @property
    def unread_keys(self) -> tuple[str, ...] | None:
        """The keys of a payload in a shape this format does not read, when nothing was read."""
        return None if self._read else self._unread
