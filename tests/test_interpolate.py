"""Brace-safe {var} interpolation."""

from __future__ import annotations

import json
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from dbchat_magic.magic._interpolate import interpolate

NS = {
    "region": "EMEA",
    "n": 3,
    "cfg": SimpleNamespace(year=2024, name="plan"),
    "items": ["a", "b", "c"],
    "d": {"k": "v", "x y": 1},
}


def test_simple_name_attr_and_subscripts():
    r = interpolate("top {n} in {region} for {cfg.year}: {items[0]}, {items[-1]}, {d['k']}", NS)
    assert r.text == "top 3 in EMEA for 2024: a, c, v"
    assert r.replaced == ["n", "region", "cfg.year", "items[0]", "items[-1]", "d['k']"]
    assert r.notes == []


def test_unknown_names_left_as_written_with_a_note():
    r = interpolate("compare {region} with {other} and {cfg.missing} and {items[9]}", NS)
    assert r.text == "compare EMEA with {other} and {cfg.missing} and {items[9]}"
    assert len(r.notes) == 3
    assert "{other} left as written" in r.notes[0]


def test_json_and_dict_literals_pass_through_untouched():
    payload = '{"region": "EMEA", "nested": {"n": {"deep": [1, 2]}}}'
    r = interpolate(f"use this JSON {payload} and a dict {{'n': 1}}", NS)
    assert payload in r.text
    assert json.loads(r.text[len("use this JSON "):len("use this JSON ") + len(payload)])
    assert "{'n': 1}" in r.text
    assert r.notes == []


def test_double_braces_escape_a_placeholder():
    r = interpolate("literal {{region}} but value {region}; json }} stays", NS)
    assert r.text == "literal {region} but value EMEA; json }} stays"


def test_code_spans_and_fences_are_untouched():
    text = "explain `f'{region}'` and\n```python\nprint(f\"{n} {region}\")\n```\nfor {region}"
    r = interpolate(text, NS)
    assert r.text == text.replace("for {region}", "for EMEA")
    assert r.replaced == ["region"]


def test_format_specs_and_spaces_are_not_placeholders():
    r = interpolate("{n:.2f} { n } {n!r} {n}", NS)
    assert r.text == "{n:.2f} { n } {n!r} 3"


def test_nothing_is_called_or_evaluated():
    calls: list[int] = []

    class Trap:
        def __getitem__(self, key: object) -> str:
            calls.append(1)
            return "got"

    text = "{t.__class__.__init__()} {t[len(x)]} {t[0]}"
    r = interpolate(text, {"t": Trap()})
    assert r.text == text  # a user __getitem__ is never called: the subscript is refused
    assert calls == []
    assert r.notes == ["{t[0]} left as written: only dict, list, tuple and str values are "
                       "subscripted (not Trap)"]


@given(st.text(alphabet=st.sampled_from(list("{}[]'\"ab_.0 \n`:")), max_size=60))
def test_text_without_known_names_is_never_changed_except_escapes(text: str):
    r = interpolate(text, {})
    # with an empty namespace only the {{expr}} escape may change the text
    assert r.text == text or "{{" in text
