"""The bincount fast path equals a pandas groupby (NaN values, null keys, dtypes); date units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dbchat_magic.specs._plan import Measure, nice_step
from dbchat_magic.specs.engines import truncate_dates
from dbchat_magic.specs.engines._fastagg import TimeKey, can_use, group_aggregate

MEASURES = [Measure("s", "v", "sum"), Measure("m", "v", "mean"), Measure("n", None, "count"),
            Measure("si", "i", "sum"), Measure("sb", "b", "sum")]


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 20_000
    v = rng.random(n)
    v[rng.random(n) < 0.1] = np.nan
    v[:50] = np.nan  # make one key's values all-NaN below
    return pd.DataFrame({
        "c": pd.Series(rng.choice(["a", "b", None, "d"], n), dtype="str").where(
            np.arange(n) >= 50, "only-nan"),
        "v": v, "i": rng.integers(0, 5, n), "b": rng.random(n) > 0.5,
        "cat": pd.Categorical(rng.choice(["x", "y"], n), categories=["y", "x", "z"]),
        "t": truncate_dates(pd.Series(pd.Timestamp("2024-01-01")
                                      + pd.to_timedelta(rng.integers(0, 10 * 86400, n), "s")),
                            "day"),
    })


@pytest.mark.parametrize("key", ["c", "i", "cat", "t"])
def test_fast_path_equals_pandas_groupby(df, key):
    assert can_use({key: df[key]}, MEASURES)
    fast = group_aggregate(df, {key: df[key]}, MEASURES).set_index(key)
    g = df.groupby(key, observed=True, dropna=True, sort=True)
    slow = pd.DataFrame({"s": g.v.sum(), "m": g.v.mean(), "n": g.size(), "si": g.i.sum(),
                         "sb": g.b.sum()})
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False, check_index_type=False)
    assert fast["si"].dtype == "int64" and fast["n"].dtype == "int64"


def test_parallel_arrow_string_path_equals_pandas_groupby(df, monkeypatch):
    from dbchat_magic.specs.engines import _fastagg as fastagg

    if not hasattr(df["c"].array, "_pa_array"):
        pytest.skip("string column is not Arrow-backed here")
    monkeypatch.setattr(fastagg, "PARALLEL_MIN_ROWS", 0)
    assert fastagg._arrow_strings(df["c"]) is not None  # the threaded path is the one tested
    fast = group_aggregate(df, {"c": df["c"]}, MEASURES).set_index("c")
    g = df.groupby("c", observed=True, dropna=True, sort=True)
    slow = pd.DataFrame({"s": g.v.sum(), "m": g.v.mean(), "n": g.size(), "si": g.i.sum(),
                         "sb": g.b.sum()})
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False, check_index_type=False)
    assert fast["si"].dtype == "int64" and fast["n"].dtype == "int64"


def test_fast_path_only_for_one_key_and_simple_measures(df):
    assert not can_use({"a": df["c"], "b": df["i"]}, MEASURES)
    assert not can_use({"a": df["c"]}, [Measure("x", "v", "median")])


@pytest.mark.parametrize(("unit", "first"), [
    ("hour", "2024-05-15 13:00"), ("day", "2024-05-15"), ("week", "2024-05-13"),
    ("month", "2024-05-01"), ("quarter", "2024-04-01"), ("year", "2024-01-01")])
def test_truncate_dates(unit, first):
    s = pd.Series(pd.to_datetime(["2024-05-15 13:45:10", None]))
    out = truncate_dates(s, unit)
    assert out.iloc[0] == pd.Timestamp(first) and pd.isna(out.iloc[1])


def test_tz_aware_dates_are_truncated_in_their_wall_time():
    s = pd.Series(pd.to_datetime(["2024-05-15 23:30"]).tz_localize("Europe/Paris"))
    assert truncate_dates(s, "day").iloc[0] == pd.Timestamp("2024-05-15")


@pytest.mark.parametrize(("lo", "hi", "bins", "step"), [
    (0, 100, 20, 5), (0, 1, 10, 0.1), (3, 3, 10, 1.0), (0, 7, 20, 0.5), (-50, 950, 10, 100)])
def test_nice_bin_steps(lo, hi, bins, step):
    assert nice_step(lo, hi, bins) == pytest.approx(step)


@pytest.mark.parametrize("unit", ["hour", "day", "week", "month", "quarter", "year"])
def test_time_bucket_codes_equal_truncate_then_groupby(unit):
    rng = np.random.default_rng(2)
    n = 5000
    ts = pd.Series(pd.Timestamp("2023-11-20") + pd.to_timedelta(rng.integers(0, 400 * 86400, n),
                                                                "s"))
    ts[::97] = pd.NaT
    df = pd.DataFrame({"ts": ts, "v": rng.random(n), "i": 1, "b": True, "c": "x"})
    measures = [Measure("s", "v", "sum"), Measure("m", "v", "mean"), Measure("n", None, "count")]
    fast = group_aggregate(df, {"t": TimeKey(ts.to_numpy(), unit)}, measures).set_index("t")
    g = df.groupby(truncate_dates(ts, unit).rename("t"), dropna=True)
    slow = pd.DataFrame({"s": g.v.sum(), "m": g.v.mean(), "n": g.size()})
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False, check_index_type=False,
                                  check_freq=False)


def test_every_time_unit_of_the_schema_has_one_bucket():
    from dbchat_magic.specs._plan import TIME_BUCKETS
    from dbchat_magic.specs._schema import TIME_UNITS

    assert set(TIME_BUCKETS) == set(TIME_UNITS)
