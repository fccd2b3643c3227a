"""SSEDecoder property tests: any split of a valid stream yields the reference model's events."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbchat_magic.sse import EventTooLarge, ServerSentEvent, SSEDecoder

# Text that may hold anything except line ends (U+2028 and friends included on purpose).
_line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=20)
_eol = st.sampled_from([b"\n", b"\r", b"\r\n"])
_name = st.text(alphabet="abcxyz-_", min_size=1, max_size=6)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str, str]]]:
    """A valid stream (random line ends, BOM, comments, unknown fields) and its expected events."""
    out = [b"\xef\xbb\xbf"] if draw(st.booleans()) else []
    expected: list[tuple[str, str, str]] = []
    last_id = ""
    for _ in range(draw(st.integers(0, 6))):
        event = draw(st.one_of(st.none(), _name))
        data = draw(st.lists(_line_text, min_size=1, max_size=3))
        ev_id = draw(st.one_of(st.none(), _name))
        lines: list[str] = []
        if draw(st.booleans()):
            lines.append(":" + draw(_line_text))
        if event is not None:
            lines.append(f"event: {event}")
        if ev_id is not None:
            lines.append(f"id: {ev_id}")
            last_id = ev_id
        if draw(st.booleans()):
            lines.append("x-unknown: " + draw(_line_text))
        lines += [f"data: {d}" if draw(st.booleans()) else f"data:{d}" if not d.startswith(" ")
                  else f"data: {d}" for d in data]
        prev = b""
        for line in [*lines, ""]:
            eol = draw(_eol)
            if not line and prev == b"\r" and eol == b"\n":
                eol = b"\r\n"  # CR then LF would be one line end, not an empty line
            out += [line.encode(), eol]
            prev = eol
        expected.append((event or "message", "\n".join(data), last_id))
    return b"".join(out), expected


def _decode(pieces: list[bytes]) -> list[tuple[str, str, str]]:
    dec = SSEDecoder()
    evs: list[ServerSentEvent] = []
    for p in pieces:
        evs += dec.feed(p)
    evs += dec.flush()
    return [(e.event, e.data, e.id) for e in evs]


def _split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(raw)) for c in cuts})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(streams(), st.lists(st.integers(0, 400), max_size=12))
def test_any_split_gives_the_reference_events(stream: tuple[bytes, list], cuts: list[int]) -> None:
    raw, expected = stream
    assert _decode([raw]) == expected
    assert _decode(_split(raw, cuts)) == expected


@settings(max_examples=100, deadline=None)
@given(streams())
def test_byte_by_byte(stream: tuple[bytes, list]) -> None:
    raw, expected = stream
    assert _decode([raw[i:i + 1] for i in range(len(raw))]) == expected


@settings(max_examples=150, deadline=None)
@given(streams(), st.lists(st.integers(0, 400), max_size=8))
def test_agrees_with_httpx_sse(stream: tuple[bytes, list], cuts: list[int]) -> None:
    decoders = pytest.importorskip("httpx_sse._decoders")
    raw, _ = stream
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # httpx-sse leaves BOM handling to the caller
    ref = decoders.SSEDecoder()
    lines = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n").split("\n")[:-1]
    theirs = [(e.event, e.data, e.id) for e in (ref.decode(x) for x in lines) if e is not None]
    assert _decode(_split(raw, cuts)) == theirs


def _decode_bounded(pieces: list[bytes], limit: int) -> tuple[list[tuple[str, str, str]], bool]:
    """Events until the limit hit (those the error carries included), and whether it hit."""
    dec = SSEDecoder(max_event_bytes=limit)
    evs: list[ServerSentEvent] = []
    try:
        for p in pieces:
            evs += dec.feed(p)
        evs += dec.flush()
    except EventTooLarge as exc:
        evs += exc.events
        return [(e.event, e.data, e.id) for e in evs], True
    return [(e.event, e.data, e.id) for e in evs], False


def _longest(raw: bytes) -> tuple[int, int]:
    """The longest line (line end and BOM excluded) and the largest event data, in bytes."""
    text = raw.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    line_max = data_max = data = 0
    for line in text.split(b"\n"):
        line_max = max(line_max, len(line))
        if not line:
            data = 0
        elif line.startswith(b"data:"):
            data += len(line[5:].removeprefix(b" "))
            data_max = max(data_max, data)
    return line_max, data_max


@settings(max_examples=300, deadline=None)
@given(streams(), st.integers(0, 60), st.lists(st.integers(0, 400), max_size=12))
def test_the_limit_does_not_depend_on_the_pieces(stream: tuple[bytes, list], limit: int,
                                                  cuts: list[int]) -> None:
    """Whatever the split, a bounded decoder gives the same events and fails at the same point;
    it fails exactly when a line or an event's data is over the limit."""
    raw, expected = stream
    whole = _decode_bounded([raw], limit)
    assert _decode_bounded(_split(raw, cuts), limit) == whole
    assert _decode_bounded([raw[i:i + 1] for i in range(len(raw))], limit) == whole
    events, hit = whole
    assert hit == (max(_longest(raw)) > limit)
    assert events == expected[:len(events)]  # what came before the limit is exact
    if not hit:
        assert events == expected
