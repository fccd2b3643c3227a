"""Spec extraction over a corpus of realistic model replies, plus the lenient JSON reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dbchat_magic.specs import extract_specs
from dbchat_magic.specs._lenient_json import LenientJSONError, loads_lenient

CORPUS = Path(__file__).parent / "spec_corpus"
EXPECTED: dict[str, list[dict]] = json.loads((CORPUS / "expected.json").read_text("utf-8"))


def test_corpus_is_big_enough_and_has_good_and_bad_replies():
    assert len(EXPECTED) >= 40
    assert sum(1 for e in EXPECTED.values() if not e) >= 8  # replies with no spec at all
    assert sum(1 for e in EXPECTED.values() if any("error" in x for x in e)) >= 2
    assert sum(1 for e in EXPECTED.values() if len(e) >= 2) >= 3


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_reply(name: str):
    text = (CORPUS / f"{name}.md").read_bytes().decode("utf-8")
    found = extract_specs(text)
    expected = EXPECTED[name]
    assert len(found) == len(expected), [f.spec or f.error for f in found]
    for exp, got in zip(expected, found, strict=True):
        assert text[got.start:got.end] == got.raw
        if "spec" in exp:
            assert got.error is None
            assert got.spec == exp["spec"]
        else:
            assert got.spec is None
            assert exp["error"] in (got.error or "")
            assert len(got.error or "") < 120


def test_prose_stays_prose_and_positions_point_into_the_text():
    text = 'Revenue is up. {"widget": "kpi", "data": "s", "aggregate": "count"} Great.'
    [spec] = extract_specs(text)
    assert text[:spec.start] == "Revenue is up. "
    assert text[spec.end:] == " Great."


def test_growing_stream_reports_a_spec_only_once_its_block_is_complete():
    full = 'Here:\n```json\n{"widget": "kpi", "data": "sales", "aggregate": "count"}\n```\nDone.'
    counts = [len(extract_specs(full[:i])) for i in range(len(full) + 1)]
    first = counts.index(1)
    assert all(c == 0 for c in counts[:first])
    assert all(c == 1 for c in counts[first:])
    assert full[:first].endswith("```")


@pytest.mark.parametrize(("text", "value"), [
    ("{'a': 1,}", {"a": 1}),
    ("{a: 'it\\'s', b: [1, 2,],}", {"a": "it's", "b": [1, 2]}),
    ('{"a": True, "b": None, "c": false}', {"a": True, "b": None, "c": False}),
    ('{"url": "http://x/y" /* c */, // d\n "n": -1.5e3}', {"url": "http://x/y", "n": -1500.0}),
    ("{'say': \"he said 'hi'\"}", {"say": "he said 'hi'"}),
])
def test_lenient_json_repairs_common_slips(text: str, value: object):
    assert loads_lenient(text) == value


def test_lenient_json_error_is_short():
    with pytest.raises(LenientJSONError) as err:
        loads_lenient('{"a": 1 "b": 2}')
    assert str(err.value).startswith("invalid JSON")
    assert len(str(err.value)) < 100
