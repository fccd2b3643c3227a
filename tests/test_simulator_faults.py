"""Each injected fault's wire shape, seen with plain httpx over loopback."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from client_helpers import http_client as client
from dbchat_magic.simulator import CLAUDE, LLAMA, Simulator
from waiting import wait_until

QUESTION = [{"role": "user", "content": "Summarise sales by month"}]
URL = f"/serving-endpoints/{LLAMA}/invocations"


def raw_stream(sim: Simulator, body: dict | None = None, url: str = URL) -> bytes:
    """The whole streamed body; a connection the server drops yields what arrived before."""
    out = bytearray()
    with client(sim) as c, c.stream("POST", url, json={"messages": QUESTION, "stream": True,
                                                         **(body or {})}) as r:
        assert r.status_code == 200
        try:
            for piece in r.iter_raw():
                out += piece
        except httpx.RemoteProtocolError:
            out += b"<<dropped>>"
    return bytes(out)


def data_lines(raw: bytes) -> list[str]:
    text = raw.decode("utf-8").replace("\r\n", "\n")
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


def content_of(payloads: list[str]) -> str:
    out = []
    for p in payloads:
        if p == "[DONE]":
            continue
        delta = json.loads(p)["choices"][0]["delta"]
        out.append(delta.get("content") or "")
    return "".join(out)


@pytest.mark.parametrize(
    ("fault", "params", "status", "code", "fragment"),
    [
        ("429", {}, 429, "REQUEST_LIMIT_EXCEEDED", "rate limit"),
        ("500", {}, 500, "INTERNAL_ERROR", "error"),
        ("503", {}, 503, "TEMPORARILY_UNAVAILABLE", "unavailable"),
        ("401", {}, 401, "UNAUTHENTICATED", "Credential"),
        ("403", {}, 403, "PERMISSION_DENIED", LLAMA),
        ("404", {}, 404, "RESOURCE_DOES_NOT_EXIST",
         f"Endpoint with name '{LLAMA}' does not exist."),
        ("400", {"message": "plain words"}, 400, "BAD_REQUEST", "plain words"),
    ],
)
def test_error_faults_use_databricks_error_shape(sim, fault, params, status, code, fragment):
    sim.inject(fault, **params)
    with client(sim) as c:
        r = c.post(URL, json={"messages": QUESTION, "stream": True})
        after = c.post(URL, json={"messages": QUESTION})
    assert r.status_code == status
    body = r.json()
    assert body["error_code"] == code and fragment in body["message"]
    assert "retry-after" not in r.headers
    assert after.status_code == 200  # times=1: only one request was hit
    assert sim.stats.log[0].faults == [fault] and sim.stats.log[1].faults == []


def test_429_with_retry_after_and_400_message_that_is_json(sim: Simulator) -> None:
    sim.inject("429", retry_after=2)
    sim.inject("400")
    with client(sim) as c:
        limited = c.post(URL, json={"messages": QUESTION})
        bad = c.post(URL, json={"messages": QUESTION})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    inner = json.loads(bad.json()["message"])  # the message is itself a JSON string
    assert "max_tokens" in inner["error"]["message"]


def test_html_502_gateway_page(sim: Simulator) -> None:
    sim.inject("html502")
    with client(sim) as c:
        r = c.post(URL, json={"messages": QUESTION})
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in r.text


def test_times_endpoint_filter_persistent_and_clear(sim: Simulator) -> None:
    sim.inject("503", times=2, endpoint=CLAUDE)
    with client(sim) as c:
        llama = c.post(URL, json={"messages": QUESTION}).status_code
        claude = [c.post(f"/serving-endpoints/{CLAUDE}/invocations",
                         json={"messages": QUESTION}).status_code for _ in range(3)]
        sim.inject("500", times=None)
        forever = [c.post(URL, json={"messages": QUESTION}).status_code for _ in range(3)]
        sim.clear_faults()
        cleared = c.post(URL, json={"messages": QUESTION}).status_code
    assert (llama, claude, forever, cleared) == (200, [503, 503, 200], [500] * 3, 200)


def test_bad_fault_names_and_params_are_refused(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="unknown fault 'teapot'"):
        sim.inject("teapot")
    with pytest.raises(ValueError, match="no parameter"):
        sim.inject("429", after=3)
    with pytest.raises(ValueError, match="times"):
        sim.inject("500", times=0)


def test_response_fault_goes_before_stream_fault(sim: Simulator) -> None:
    sim.inject("disconnect", after=2)
    sim.inject("429")
    with client(sim) as c:
        assert c.post(URL, json={"messages": QUESTION}).status_code == 429
    raw = raw_stream(sim)
    assert raw.endswith(b"<<dropped>>")
    assert [e.faults for e in sim.stats.log] == [["429"], ["disconnect"]]


def test_disconnect_after_n_tokens(sim: Simulator) -> None:
    sim.inject("disconnect", after=3)
    raw = raw_stream(sim)
    payloads = data_lines(raw.removesuffix(b"<<dropped>>"))
    assert raw.endswith(b"<<dropped>>") and "[DONE]" not in payloads
    assert len(payloads) == 1 + 3
    assert content_of(payloads) == sim.stats.log[-1].text
    assert sim.stats.log[-1].tokens_sent == 3


def test_malformed_chunk_then_stream_goes_on(sim: Simulator) -> None:
    sim.inject("malformed_chunk", after=2)
    payloads = data_lines(raw_stream(sim, {"reply_tokens": 5}))
    bad = [p for p in payloads if p != "[DONE]" and not _is_json(p)]
    assert len(bad) == 1 and bad[0].startswith('{"id"')
    assert payloads.index(bad[0]) == 1 + 2
    assert payloads[-1] == "[DONE]"


@pytest.mark.parametrize("shape", ["error_code", "error"])
def test_error_object_midstream(sim: Simulator, shape: str) -> None:
    sim.inject("error_midstream", after=4, shape=shape, message="GPU fell over")
    payloads = data_lines(raw_stream(sim))
    last = json.loads(payloads[-1])
    assert "[DONE]" not in payloads and len(payloads) == 1 + 4 + 1
    if shape == "error_code":
        assert last == {"error_code": "INTERNAL_ERROR", "message": "GPU fell over"}
    else:
        assert last["error"]["message"] == "GPU fell over"
    assert content_of(payloads[:-1]) == sim.stats.log[-1].text


def test_no_done_ends_cleanly_without_finish(sim: Simulator) -> None:
    sim.inject("no_done", after=6)
    raw = raw_stream(sim)
    payloads = data_lines(raw)
    assert not raw.endswith(b"<<dropped>>")  # the HTTP response itself ends properly
    assert "[DONE]" not in payloads and len(payloads) == 1 + 6
    assert all(json.loads(p)["choices"][0]["finish_reason"] is None for p in payloads)


def test_slow_first_token(sim: Simulator) -> None:
    sim.inject("slow_first_token", delay=0.3)
    with client(sim) as c:
        start = time.monotonic()  # before the request: a late reader only waits longer
        with c.stream("POST", URL, json={"messages": QUESTION, "stream": True}) as r:
            pieces = r.iter_raw()
            first = next(pieces)
            waited = time.monotonic() - start
            rest = b"".join(pieces)
    assert waited >= 0.28
    assert first.startswith(b"data: ") and rest.endswith(b"data: [DONE]\n\n")


def test_keepalive_comments_between_events(sim: Simulator) -> None:
    sim.inject("keepalive", every=2)
    raw = raw_stream(sim, {"reply_tokens": 6})
    blocks = [b for b in raw.decode().split("\n\n") if b]
    assert blocks.count(": keep-alive") == 3
    assert blocks[-1] == "data: [DONE]"


def test_crlf_framing(sim: Simulator) -> None:
    sim.inject("crlf")
    raw = raw_stream(sim, {"reply_tokens": 4})
    assert raw.count(b"\r\n\r\n") == 1 + 4 + 1 + 1
    assert b"\n\n" not in raw.replace(b"\r\n", b"")
    assert raw.endswith(b"data: [DONE]\r\n\r\n")


def test_reasoning_blocks_on_a_plain_endpoint(sim: Simulator) -> None:
    sim.inject("reasoning", reasoning="First I think.")
    payloads = data_lines(raw_stream(sim, {"reply_tokens": 3}))
    blocks = [b for p in payloads[1:-2] for b in json.loads(p)["choices"][0]["delta"]["content"]]
    assert "".join(b["summary"][0]["text"] for b in blocks if b["type"] == "reasoning") == \
        "First I think."
    assert "".join(b["text"] for b in blocks if b["type"] == "text") == sim.stats.log[-1].text


def test_special_tokens_leak_some_split_across_events(sim: Simulator) -> None:
    sim.inject("special_tokens")
    payloads = data_lines(raw_stream(sim, {"reply_tokens": 10}))
    deltas = [json.loads(p)["choices"][0]["delta"].get("content", "") for p in payloads[:-1]]
    joined = "".join(deltas)
    for token in ("<|begin_of_text|>", "<|reserved_special_token_7|>", "<|eot_id|>"):
        assert token in joined
    assert "<|eot_id|>" not in deltas and "<|eo" in deltas  # split across two events
    clean = joined
    for token in ("<|begin_of_text|>", "<|reserved_special_token_7|>", "<|eot_id|>"):
        clean = clean.replace(token, "")
    assert clean == sim.stats.log[-1].text


def test_u2028_inside_content_travels_raw(sim: Simulator) -> None:
    sim.inject("u2028")
    raw = raw_stream(sim, {"reply_tokens": 8})
    for ch in ("\u2028", "\u2029", "\u0085"):
        assert ch.encode() in raw  # raw UTF-8, not a \\u escape
    text = content_of(data_lines(raw))
    assert text == sim.stats.log[-1].text and "\u2028" in text


def test_stream_faults_combine_on_one_request(sim: Simulator) -> None:
    sim.inject("crlf")
    sim.inject("keepalive")
    raw = raw_stream(sim, {"reply_tokens": 3})
    assert b": keep-alive\r\n\r\n" in raw and raw.endswith(b"[DONE]\r\n\r\n")
    assert sorted(sim.stats.log[-1].faults) == ["crlf", "keepalive"]


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_drop_closes_the_connection_before_any_answer_byte(sim: Simulator) -> None:
    sim.inject("drop")
    with client(sim) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.post(URL, json={"messages": QUESTION})
        assert c.post(URL, json={"messages": QUESTION}).status_code == 200  # once only
    assert [e.faults for e in sim.stats.log] == [["drop"], []]
    assert sim.stats.log[0].status == 0 and sim.stats.connections_opened == 2


def test_idle_timeout_closes_keep_alive_connections_that_wait_too_long() -> None:
    with Simulator(idle_timeout=0.2) as sim, client(sim) as c:
        assert c.post(URL, json={"messages": QUESTION}).status_code == 200
        assert c.post(URL, json={"messages": QUESTION}).status_code == 200
        _new_only_after_idle_closes(sim)  # (a loaded test may pause past the idle timeout)
        closed = sim.stats.idle_closed
        wait_until(lambda: sim.stats.idle_closed > closed, "the server to close the idle one")
        assert c.post(URL, json={"messages": QUESTION}).status_code == 200  # httpx reconnects
        assert _new_only_after_idle_closes(sim) >= 2


def _new_only_after_idle_closes(sim: Simulator) -> int:
    """Connections opened so far, checked to be one plus those the server closed idle (the
    latest may be closed by now, or not yet)."""
    opened = sim.stats.connections_opened
    assert opened - 1 <= sim.stats.idle_closed <= opened, (opened, sim.stats.idle_closed)
    return opened


def test_huge_line_is_one_event_of_the_given_size(sim: Simulator) -> None:
    sim.inject("huge_line", after=2, size=300_000)
    lines = data_lines(raw_stream(sim))
    big = [p for p in lines if len(p) > 1000]
    assert len(big) == 1
    assert json.loads(big[0])["choices"][0]["delta"]["content"] == "x" * 300_000
    assert lines[-1] == "[DONE]"


def test_huge_line_without_end_stops_inside_the_line(sim: Simulator) -> None:
    sim.inject("huge_line", after=1, size=100_000, end=False)
    raw = raw_stream(sim)
    assert raw.endswith(b"x" * 1000) and b"[DONE]" not in raw


def test_huge_line_with_line_bytes_is_one_event_of_many_lines(sim: Simulator) -> None:
    sim.inject("huge_line", after=0, size=10_000, line_bytes=1000)
    text = raw_stream(sim).decode()
    event = next(e for e in text.split("\n\n") if "x" * 1000 in e)
    assert event.count("\ndata: ") == 9 and "\n\n" not in event


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", ""])
def test_json_body_answers_whole_with_the_given_content_type(sim: Simulator, ctype: str) -> None:
    sim.inject("json_body", content_type=ctype, size=5000)
    with client(sim) as c:
        r = c.post(URL, json={"messages": QUESTION, "stream": True})
    assert r.status_code == 200 and r.headers.get("content-type", "") == ctype
    assert int(r.headers["content-length"]) == len(r.content)
    content = json.loads(r.content)["choices"][0]["message"]["content"]
    assert content.endswith("x" * 5000) and content[:-5000] == sim.stats.log[-1].text


def test_huge_error_sends_a_body_of_the_given_size(sim: Simulator) -> None:
    sim.inject("huge_error", status=502, size=200_000)
    with client(sim) as c:
        r = c.post(URL, json={"messages": QUESTION, "stream": True})
    assert r.status_code == 502 and len(r.content) == int(r.headers["content-length"])
    assert json.loads(r.content)["message"] == "x" * 200_000


def test_header_echo_sends_the_authorization_value_back(sim: Simulator) -> None:
    sim.inject("header_echo", header="X-Seen")
    sim.inject("header_echo", header="X-Bare", bare=True)
    with client(sim) as c, c.stream("POST", URL, json={"messages": QUESTION, "stream": True}) as r:
        first = r.headers["x-seen"]
    with client(sim) as c, c.stream("POST", URL, json={"messages": QUESTION, "stream": True}) as r:
        second = r.headers["x-bare"]
    assert first == f"Bearer {sim.token}" and second == sim.token


@pytest.mark.parametrize("kind", ["bad_chunk", "short_chunk"])
def test_broken_framing_breaks_the_chunked_body(sim: Simulator, kind: str) -> None:
    sim.inject("broken_framing", after=3, kind=kind)
    raw = raw_stream(sim)
    assert raw.endswith(b"<<dropped>>")
    whole_events = raw[: raw.rfind(b"\n\n") + 2]  # short_chunk ends inside an event
    assert content_of(data_lines(whole_events)) == sim.stats.log[-1].text
