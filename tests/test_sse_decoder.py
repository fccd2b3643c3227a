"""SSEDecoder: WHATWG event-stream rules on raw bytes, example by example."""

from __future__ import annotations

import pytest

from dbchat_magic.sse import ServerSentEvent, SSEDecoder


def decode(*pieces: bytes, lenient: bool = False) -> list[ServerSentEvent]:
    dec = SSEDecoder(lenient_eof=lenient)
    out: list[ServerSentEvent] = []
    for piece in pieces:
        out += dec.feed(piece)
    return out + dec.flush()


def test_single_data_event() -> None:
    [ev] = decode(b'data: {"a":1}\n\n')
    assert (ev.event, ev.data, ev.raw_data, ev.id, ev.retry) == (
        "message", '{"a":1}', b'{"a":1}', "", None)


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_every_line_ending(eol: bytes) -> None:
    stream = b"event: x" + eol + b"data: a" + eol + b"data: b" + eol + eol + b"data: c" + eol + eol
    evs = decode(stream)
    assert [(e.event, e.data) for e in evs] == [("x", "a\nb"), ("message", "c")]


def test_crlf_split_across_pieces_is_one_line_end() -> None:
    # "data: a\r" | "\n\r\n": if the LF were a second line end, the event would dispatch early
    # and "data: b" would start a new event.
    evs = decode(b"data: a\r", b"\ndata: b\r", b"\n\r\n")
    assert [e.data for e in evs] == ["a\nb"]


def test_cr_at_boundary_then_non_lf_is_a_line_end() -> None:
    evs = decode(b"data: a\r", b"\r")
    assert [e.data for e in evs] == ["a"]


def test_leading_bom_ignored_even_split() -> None:
    assert [e.data for e in decode(b"\xef", b"\xbb", b"\xbfdata: x\n\n")] == ["x"]
    # only one BOM is ignored: a second one makes the field name unknown
    assert decode(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n") == []


def test_comments_are_keepalives() -> None:
    evs = decode(b": keep-alive\n\n:\n", b"data: x\n: mid-event comment\n\n")
    assert [e.data for e in evs] == ["x"]


def test_line_separators_inside_data_are_not_line_ends() -> None:
    text = 'data: {"t":"a\u2028b\u2029c\x85d"}\n\n'.encode()
    [ev] = decode(text)
    assert ev.data == '{"t":"a\u2028b\u2029c\x85d"}'


def test_utf8_character_split_across_pieces() -> None:
    raw = "data: héllo €\n\n".encode()
    cut = raw.index("€".encode()) + 1  # in the middle of the 3-byte euro sign
    [ev] = decode(raw[:cut], raw[cut:])
    assert ev.data == "héllo €"


def test_field_rules() -> None:
    stream = (b"data\n"           # no colon: data field with empty value
              b"data:no-space\n"  # only one leading space is removed, none here
              b"data:  two\n"     # second space kept
              b"unknown: x\n"
              b"id: 7\n"
              b"retry: 1500\n\n")
    [ev] = decode(stream)
    assert ev.data == "\nno-space\n two"
    assert (ev.id, ev.retry) == ("7", 1500)


def test_id_persists_and_nul_id_is_ignored() -> None:
    evs = decode(b"id: 1\ndata: a\n\ndata: b\n\nid: x\x00y\ndata: c\n\n")
    assert [(e.data, e.id) for e in evs] == [("a", "1"), ("b", "1"), ("c", "1")]


def test_bad_retry_ignored() -> None:
    dec = SSEDecoder()
    [ev] = dec.feed(b"retry: 12a\ndata: a\n\n")
    assert ev.retry is None and dec.retry is None
    dec.feed(b"retry: 30\n\n")
    assert dec.retry == 30


def test_event_without_data_is_not_dispatched_and_type_resets() -> None:
    evs = decode(b"event: ping\n\ndata: a\n\n")
    assert [(e.event, e.data) for e in evs] == [("message", "a")]


def test_empty_data_value_still_dispatches() -> None:
    [ev] = decode(b"data:\n\n")
    assert ev.data == ""


def test_unterminated_event_discarded_unless_lenient() -> None:
    assert decode(b"data: a\n\ndata: b\n") == decode(b"data: a\n\n")
    assert [e.data for e in decode(b"data: a\n\ndata: b", lenient=True)] == ["a", "b"]


def test_flush_resets_for_next_stream() -> None:
    dec = SSEDecoder()
    dec.feed(b"event: x\ndata: partial")
    assert dec.flush() == []
    assert [(e.event, e.data) for e in dec.feed(b"data: y\n\n")] == [("message", "y")]


def test_many_events_in_one_piece_and_one_event_in_many_pieces() -> None:
    whole = b"".join(b"data: %d\n\n" % i for i in range(100))
    assert [e.data for e in decode(whole)] == [str(i) for i in range(100)]
    one_byte_pieces = [whole[i:i + 1] for i in range(len(whole))]
    assert decode(*one_byte_pieces) == decode(whole)


def test_event_equality_and_repr() -> None:
    assert ServerSentEvent(data="x") == ServerSentEvent(data=b"x")
    assert ServerSentEvent(data="x") != ServerSentEvent(data="y")
    assert "data='x'" in repr(ServerSentEvent(data="x"))


def test_flush_discards_the_unterminated_line_per_whatwg() -> None:
    """WHATWG: pending data at EOF is discarded; an unterminated `retry:` line is not applied."""
    dec = SSEDecoder()
    dec.feed(b"data: a\n\nretry: 5000")
    assert dec.flush() == []
    assert dec.retry is None


def test_flush_drops_an_id_that_no_blank_line_dispatched() -> None:
    """An `id:` seen after the last blank line never becomes the stream's last event ID."""
    dec = SSEDecoder()
    dec.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    assert dec.flush() == []
    [ev] = dec.feed(b"data: c\n\n")
    assert ev.id == "1"


def test_flush_lenient_dispatches_an_unterminated_last_line() -> None:
    dec = SSEDecoder(lenient_eof=True)
    assert dec.feed(b"data: x\n\ndata: [DONE]") != []
    assert [e.data for e in dec.flush()] == ["[DONE]"]
