"""Which frames are described: explicit names, recency, privacy, aliases and the total budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dbchat_magic.errors import ConfigError
from dbchat_magic.prompts import (
    FrameNotFound,
    build_data_context,
    describe_frames,
    estimate_tokens,
    frame_names,
    rank_frames,
)
from dbchat_magic.prompts._context.parse import parse_data_context
from dbchat_magic.prompts._selection import FrameTracker, parse_names


def _frame(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame({"a": np.arange(n), "b": [f"v{i}" for i in range(n)]})


def test_frame_names_skip_private_names_and_non_frames():
    ns = {"sales": _frame(), "_tmp": _frame(), "x": 3, "s": pd.Series([1]), "d": {"a": 1}}
    assert frame_names(ns) == ["sales", "s"]
    assert frame_names(ns, private=True) == ["sales", "_tmp", "s"]


def test_parse_names():
    assert parse_names(" a, b ,a,,") == ["a", "b"]
    assert parse_names(["x", "y"]) == ["x", "y"]


def test_bad_explicit_names_list_existing_frames():
    ns = {"sales": _frame(), "costs": _frame(), "n": 42}
    with pytest.raises(FrameNotFound) as info:
        describe_frames(ns, "sales,slaes")
    assert str(info.value) == (
        "No DataFrame named 'slaes'. DataFrames in the namespace: sales, costs.")
    assert isinstance(info.value, ConfigError)
    with pytest.raises(FrameNotFound, match=r"^'n' is not a DataFrame \(it is a int\)\. "):
        describe_frames(ns, ["n"])
    with pytest.raises(FrameNotFound, match=r"\(it is a numpy\.ndarray\)"):
        describe_frames({"arr": np.zeros(3)}, "arr")
    with pytest.raises(FrameNotFound, match=r"There are no DataFrames in the namespace\."):
        describe_frames({}, "x")


def test_explicit_names_keep_their_order_and_ignore_recency():
    ns = {"a": _frame(), "b": _frame(), "c": _frame(), "In": ["", "c.head()"]}
    ctx = build_data_context(ns, "b,a")
    assert ctx.described == ["b", "a"]
    assert list(parse_data_context(ctx.text, strict=True)) == ["b", "a"]


def test_recency_from_input_history_then_definition_order():
    ns = {"old": _frame(), "mid": _frame(), "new": _frame(), "other": _frame()}
    ns["_ih"] = ["", "old = load()", "mid.groupby('a').sum()", "x = 1"]
    ranked = rank_frames(ns, FrameTracker())
    assert ranked[:2] == ["mid", "old"]  # mentioned cells, latest first
    assert ranked[2:] == ["other", "new"]  # never mentioned: later definitions first
    ns["_ih"].append("%%dbchat\nwhat is in old?")
    assert rank_frames(ns, FrameTracker())[0] == "old"


def test_reassigned_frame_counts_as_touched():
    tracker = FrameTracker()
    ns = {"a": _frame(), "b": _frame()}
    assert rank_frames(ns, tracker) == ["b", "a"]
    ns["a"] = _frame(3)  # rebinding, as a cell that builds a new frame would
    assert rank_frames(ns, tracker) == ["a", "b"]
    assert rank_frames(ns, tracker) == ["a", "b"]  # stable until something changes


def test_aliases_are_described_once():
    df = _frame()
    ns = {"df": df, "same": df, "_ih": ["", "same.plot()"]}
    assert rank_frames(ns, FrameTracker()) == ["same"]


def test_twenty_frames_stay_within_the_total_budget():
    ns = {f"frame{i:02d}": pd.DataFrame({f"c{j}": np.arange(50) * j for j in range(8)})
          for i in range(20)}
    ns["_ih"] = ["", "frame07.describe()", "frame03.head()"]
    ctx = build_data_context(ns, budget_tokens=1500, frame_budget_tokens=400)
    assert ctx.tokens <= 1500
    assert ctx.described[:2] == ["frame03", "frame07"]
    assert 3 <= len(ctx.described) < 20
    assert len(ctx.described) + len(ctx.omitted) == 20
    assert "Other DataFrames (not described): " in ctx.text
    for name in ctx.described:
        assert f"### {name} (pandas DataFrame, 50 rows × 8 columns)" in ctx.text


def test_explicit_frames_share_the_budget():
    ns = {f"f{i}": pd.DataFrame({f"c{j}": np.arange(5) for j in range(40)}) for i in range(6)}
    ctx = build_data_context(ns, list(ns), budget_tokens=1200, frame_budget_tokens=400)
    assert ctx.described == list(ns) and ctx.omitted == []
    assert ctx.tokens <= 1200
    assert parse_data_context(ctx.text, strict=True)["f5"].columns  # the last still has columns


def test_empty_namespace_says_so():
    text = describe_frames({"x": 1})
    assert text.splitlines()[0] == "## Data context"
    assert text.endswith("(no DataFrames in the user's namespace)")
    assert estimate_tokens(describe_frames({"x": 1}, budget_tokens=10)) <= 10


def test_recency_in_a_real_ipython_shell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    names = ("ctx_first", "ctx_second", "ctx_third")
    try:
        for cell in ("import pandas as pd",
                     "ctx_first = pd.DataFrame({'a': [1, 2]})",
                     "ctx_second = pd.DataFrame({'b': [3]})",
                     "ctx_third = pd.Series([1.5], name='c')",
                     "ctx_first.head()",
                     "_ctx_private = ctx_second.copy()"):
            assert ip.run_cell(cell, store_history=True).success
        ranked = [n for n in rank_frames(ip.user_ns) if n in names]
        assert ranked == ["ctx_second", "ctx_first", "ctx_third"]
        ctx = build_data_context(ip.user_ns, budget_tokens=1500)
        assert "_ctx_private" not in ctx.text and "### ctx_second (pandas DataFrame" in ctx.text
    finally:
        for name in (*names, "_ctx_private"):
            ip.user_ns.pop(name, None)
