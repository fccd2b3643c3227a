"""Hostile ``{var}`` interpolation: no code the user's objects define ever runs, no dunder walks.

Every trap counts its calls; each test asserts the count stays 0 and that what was refused is left
as written with a one-line note saying why.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import pytest
from hostile_shell import magic_shell
from hypothesis import given
from hypothesis import strategies as st

from dbchat_magic.magic._interpolate import interpolate
from dbchat_magic.simulator import LLAMA, Simulator

CALLS: list[str] = []


@pytest.fixture(autouse=True)
def _no_calls_yet() -> Iterator[None]:
    CALLS.clear()
    yield
    CALLS.clear()


class Hooks:
    """Every dynamic hook Python offers, each recording that it ran."""

    stored_on_class = "class data"

    def __init__(self) -> None:
        self.plain = "instance data"

    @property
    def prop(self) -> str:
        CALLS.append("property")
        return "computed"

    def method(self) -> str:
        CALLS.append("method")
        return "called"

    def __getattr__(self, name: str) -> str:
        CALLS.append(f"__getattr__({name})")
        return "dynamic"

    def __getitem__(self, key: object) -> str:
        CALLS.append("__getitem__")
        return "item"


def _single_note(result: object) -> str:
    notes = result.notes  # type: ignore[attr-defined]
    assert len(notes) == 1 and "\n" not in notes[0], notes
    return str(notes[0])


def test_a_property_is_refused_and_never_runs() -> None:
    r = interpolate("value {h.prop}", {"h": Hooks()})
    assert r.text == "value {h.prop}" and CALLS == []
    assert "computed (a property" in _single_note(r)


def test_getattr_fallback_is_never_consulted() -> None:
    r = interpolate("{h.nothing_here}", {"h": Hooks()})
    assert r.text == "{h.nothing_here}" and CALLS == []
    assert "does not resolve" in _single_note(r)


def test_custom_getattribute_is_bypassed_but_stored_data_is_read() -> None:
    class Guarded:
        def __init__(self) -> None:
            self.year = 2024

        def __getattribute__(self, name: str) -> object:
            CALLS.append(f"__getattribute__({name})")
            return object.__getattribute__(self, name)

    obj = Guarded()
    CALLS.clear()
    r = interpolate("for {g.year}", {"g": obj})
    assert r.text == "for 2024" and CALLS == []


def test_a_custom_getitem_is_refused_and_never_runs() -> None:
    r = interpolate("{h[0]} {h['k']}", {"h": Hooks()})
    assert r.text == "{h[0]} {h['k']}" and CALLS == []
    assert all("only dict, list, tuple and str" in n for n in r.notes)


def test_a_method_is_refused_not_called_or_printed() -> None:
    r = interpolate("{h.method}", {"h": Hooks()})
    assert r.text == "{h.method}" and CALLS == []
    assert "descriptor" in _single_note(r)


def test_class_and_instance_data_are_still_read() -> None:
    r = interpolate("{h.plain} / {h.stored_on_class}", {"h": Hooks()})
    assert r.text == "instance data / class data" and CALLS == []


def test_the_globals_walk_is_refused() -> None:
    text = "{h.__class__.__init__.__globals__} {h.__dict__} {h.__class__}"
    r = interpolate(text, {"h": Hooks()})
    assert r.text == text and CALLS == []
    assert len(r.notes) == 3 and all("dunder" in n for n in r.notes)


def test_private_segments_and_private_names_are_refused() -> None:
    obj = types.SimpleNamespace(_token="s3cret", ok="fine")
    r = interpolate("{o._token} {_hidden} {o.ok}", {"o": obj, "_hidden": "s3cret"})
    assert r.text == "{o._token} {_hidden} fine"
    assert "s3cret" not in r.text and len(r.notes) == 2


def test_a_user_descriptor_on_the_class_never_runs() -> None:
    class Counting:
        def __get__(self, obj: object, owner: type | None = None) -> str:
            CALLS.append("__get__")
            return "descriptor value"

    class Holder:
        value = Counting()

    r = interpolate("{x.value} {X.value}", {"x": Holder(), "X": Holder})
    assert r.text == "{x.value} {X.value}" and CALLS == []


def test_a_shadowed_instance_dict_never_runs() -> None:
    class Shadow:
        @property
        def __dict__(self) -> dict[str, str]:  # type: ignore[override]
            CALLS.append("__dict__")
            return {"x": "from a property"}

    r = interpolate("{s.x}", {"s": Shadow()})
    assert r.text == "{s.x}" and CALLS == []


def test_a_metaclass_getattr_never_runs() -> None:
    class Meta(type):
        def __getattr__(cls, name: str) -> str:
            CALLS.append(f"Meta.__getattr__({name})")
            return "meta"

    class Model(metaclass=Meta):
        kind = "model"

    r = interpolate("{M.kind} {M.anything}", {"M": Model})
    assert r.text == "model {M.anything}" and CALLS == []


def test_a_module_level_getattr_never_runs() -> None:
    mod = types.ModuleType("hostile_mod")
    mod.VERSION = "1.0"  # type: ignore[attr-defined]

    def module_getattr(name: str) -> str:
        CALLS.append(f"module __getattr__({name})")
        return "lazy"

    mod.__getattr__ = module_getattr  # type: ignore[attr-defined]
    r = interpolate("{m.VERSION} {m.lazy_thing}", {"m": mod})
    assert r.text == "1.0 {m.lazy_thing}" and CALLS == []


def test_dict_and_list_subclasses_with_their_own_getitem_are_refused() -> None:
    class LoudDict(dict):  # type: ignore[type-arg]
        def __getitem__(self, key: object) -> object:
            CALLS.append("LoudDict.__getitem__")
            return super().__getitem__(key)

    class LoudList(list):  # type: ignore[type-arg]
        def __getitem__(self, key: object) -> object:
            CALLS.append("LoudList.__getitem__")
            return super().__getitem__(key)

    r = interpolate("{d['k']} {l[0]}", {"d": LoudDict(k="v"), "l": LoudList(["a"])})
    assert r.text == "{d['k']} {l[0]}" and CALLS == []
    assert "not LoudDict" in r.notes[0] and "not LoudList" in r.notes[1]


def test_dict_missing_and_stored_key_eq_and_hash_never_run() -> None:
    class Missing(dict):  # type: ignore[type-arg]
        def __missing__(self, key: object) -> str:
            CALLS.append("__missing__")
            return "invented"

    class Collider:
        def __hash__(self) -> int:
            CALLS.append("__hash__")
            return hash("k")

        def __eq__(self, other: object) -> bool:
            CALLS.append("__eq__")  # a normal dict lookup of "k" would run this
            return other is self

    colliding = {Collider(): "other", "k": "right"}
    assert len(colliding) == 2
    CALLS.clear()
    r = interpolate("{m['absent']} {c['k']} {m['x']}", {"m": Missing(x=1), "c": colliding})
    assert r.text == "{m['absent']} right 1" and CALLS == []


def test_a_spoofed_class_attribute_does_not_unlock_subscripts() -> None:
    class Liar:
        @property  # type: ignore[misc]
        def __class__(self) -> type:  # isinstance() would consult this
            CALLS.append("__class__")
            return dict

        def __getitem__(self, key: object) -> str:
            CALLS.append("__getitem__")
            return "item"

    r = interpolate("{x['k']}", {"x": Liar()})
    assert r.text == "{x['k']}" and CALLS == []


def test_slots_are_read_and_an_unset_slot_is_missing() -> None:
    class Point:
        __slots__ = ("x", "y")

        def __init__(self) -> None:
            self.x = 3

    r = interpolate("{p.x} {p.y}", {"p": Point()})
    assert r.text == "3 {p.y}"
    assert "does not resolve" in _single_note(r)


def test_builtin_containers_still_work_and_wrong_index_kinds_are_refused() -> None:
    ns = {"rows": ["a", "b"], "pair": (1, 2), "word": "hey", "cfg": {"k": {"deep": [7]}}}
    r = interpolate("{rows[-1]} {pair[0]} {word[1]} {cfg['k']['deep'][0]} {rows['x']}", ns)
    assert r.text == "b 1 e 7 {rows['x']}"
    assert "whole-number index" in _single_note(r)


def test_dataframe_properties_and_column_access_are_refused() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2]})
    r = interpolate("{df.shape} {df['a']} {df.a}", {"df": df})
    assert r.text == "{df.shape} {df['a']} {df.a}"
    assert len(r.notes) == 3
    whole = interpolate("{df}", {"df": df})
    assert whole.text == str(df)  # the final str() is unchanged: a DataFrame prints as one


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_STEPS = st.lists(st.one_of(_NAMES.map(lambda n: "." + n),
                            st.integers(-3, 3).map(lambda i: f"[{i}]"),
                            _NAMES.map(lambda n: f"['{n}']")), min_size=1, max_size=4)


@given(_STEPS)
def test_no_path_ever_runs_a_hook(steps: list[str]) -> None:
    CALLS.clear()
    expr = "h" + "".join(steps)
    r = interpolate("{" + expr + "}", {"h": Hooks()})
    assert CALLS == []
    assert r.text in ("{" + expr + "}", "instance data", "class data") or r.replaced


@pytest.fixture
def shell(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from magic_shell(sim, monkeypatch)


def test_the_magic_sends_the_placeholder_as_written_and_runs_nothing(
        shell: Any, sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    shell.user_ns["h"] = Hooks()
    res = shell.run_cell(f"%%dbchat -e {LLAMA}\nlook at {{h.prop}} and {{h[0]}}",
                         store_history=False)
    assert res.error_in_exec is None and CALLS == []
    assert sim.stats.last_body["messages"][-1]["content"].endswith("look at {h.prop} and {h[0]}")
    err = capsys.readouterr().err
    assert "note: {h.prop} left as written" in err and "note: {h[0]} left as written" in err
