"""The wire seam without HTTP: a framing turns bytes (in any pieces) into JSON payloads, a
normalizer turns payloads into events. Pure: these tests feed bytes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbchat_magic.client._formats import CHAT_COMPLETIONS, framing_for
from dbchat_magic.client._normalize import ChunkNormalizer
from dbchat_magic.client._wire import Framing, Normalizer, ReportedError, SSEFraming
from dbchat_magic.events import TextDelta, UsageUpdate


def _chunk(text: str, **extra: object) -> dict:
    return {"choices": [{"delta": {"content": text}}], **extra}


BODY = b"".join([
    b": keep-alive\n\n",
    b"data: " + json.dumps(_chunk("Hel")).encode() + b"\n\n",
    b"data: {not json\n\n",
    b"data: [1, 2]\n\n",
    b"data: " + json.dumps(_chunk("lo", model="m")).encode() + b"\r\n\r\n",
    b"data: [DONE]\n\n",
    b"data: " + json.dumps(_chunk("after done")).encode() + b"\n\n",
])


def _feed_all(framing: SSEFraming, pieces: list[bytes]) -> list[dict]:
    out: list[dict] = []
    for piece in pieces:
        if framing.ended:
            break
        out += framing.feed(piece)
    return out


def test_sse_framing_yields_objects_until_done() -> None:
    framing = SSEFraming()
    payloads = _feed_all(framing, [BODY])
    assert payloads == [_chunk("Hel"), _chunk("lo", model="m")]
    assert framing.done and framing.ended and framing.too_large is None
    assert framing.malformed == [b"{not json"]  # kept for the reader to log, never raised


@given(st.lists(st.integers(min_value=1, max_value=len(BODY) - 1), max_size=12))
def test_sse_framing_does_not_depend_on_where_the_body_is_cut(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    pieces = [BODY[a:b] for a, b in zip([0, *points], [*points, len(BODY)], strict=True)]
    framing = SSEFraming()
    assert _feed_all(framing, pieces) == [_chunk("Hel"), _chunk("lo", model="m")]
    assert framing.done


def test_sse_framing_stops_at_an_oversized_event_keeping_those_before() -> None:
    framing = SSEFraming(max_event_bytes=100)
    small = b"data: " + json.dumps(_chunk("ok")).encode() + b"\n\n"
    payloads = framing.feed(small + b"data: " + b"x" * 200 + b"\n\n")
    assert payloads == [_chunk("ok")]
    assert framing.too_large is not None and framing.too_large.limit == 100
    assert framing.ended and not framing.done


def test_a_body_without_done_has_not_ended() -> None:
    framing = SSEFraming()
    assert framing.feed(b"data: " + json.dumps(_chunk("x")).encode() + b"\n\n") == [_chunk("x")]
    assert not framing.ended


def test_the_chat_normalizer_reports_error_objects() -> None:
    normalizer = ChunkNormalizer()
    out: list = []
    normalizer.add(_chunk("kept"), out)
    with pytest.raises(ReportedError, match="boom"):
        normalizer.add({"error_code": "X", "message": "boom"}, out)
    with pytest.raises(ReportedError, match="bad"):
        normalizer.add({"error": {"message": "bad"}}, out)
    normalizer.add({"error": None, **_chunk("!")}, out)  # an empty error field is no error
    assert out == [TextDelta("kept"), TextDelta("!")]


def test_the_chat_normalizer_is_finished_by_a_finish_reason() -> None:
    normalizer = ChunkNormalizer()
    out: list = []
    normalizer.add(_chunk("a"), out)
    assert not normalizer.finished
    normalizer.add({"choices": [{"delta": {}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}},
                   out)
    assert normalizer.finished and normalizer.total_tokens == 4
    assert out[-1] == UsageUpdate(3, 1, 4)


def test_the_formats_satisfy_the_protocols() -> None:
    framing: Framing = SSEFraming()
    normalizer: Normalizer = CHAT_COMPLETIONS.normalizer()
    assert isinstance(normalizer, ChunkNormalizer) and not framing.ended
    assert isinstance(framing_for("text/event-stream; charset=utf-8", 1 << 20), SSEFraming)
    assert framing_for("application/json", 1 << 20) is None
    assert framing_for("", 1 << 20) is None  # not declared: the transport sniffs the body
