"""A fast pandas path for the common chart: one group key with sum / mean / count measures.

Factorize the key once and aggregate with ``np.bincount``; several times quicker than a pandas
groupby on millions of rows. Same results as pandas: NaN values are skipped, null keys dropped.
"""

from __future__ import annotations

from typing import Any

FAST_AGGS = frozenset({"sum", "mean", "count"})


def can_use(keys: dict[str, Any], measures: list[Any]) -> bool:
    """True when there is one key and every measure is sum, mean or count."""
    return len(keys) == 1 and all(m.agg in FAST_AGGS for m in measures)


def _codes(key: Any) -> tuple[Any, Any]:
    import pandas as pd

    if isinstance(key.dtype, pd.CategoricalDtype):
        return key.cat.codes.to_numpy(), key.cat.categories
    return pd.factorize(key, sort=False, use_na_sentinel=True)


def group_aggregate(df: Any, keys: dict[str, Any], measures: list[Any]) -> Any:
    """The grouped result (key column + one column per measure), sorted by key."""
    import numpy as np
    import pandas as pd

    (out_key, key), = keys.items()
    codes, uniques = _codes(key)
    k = len(uniques)
    valid = codes >= 0
    has_null = not valid.all()
    if has_null:
        codes = codes[valid]
    counts = np.bincount(codes, minlength=k)
    if isinstance(key.dtype, pd.CategoricalDtype):
        labels: Any = pd.Categorical(uniques, categories=uniques, ordered=key.cat.ordered)
    else:
        labels = np.asarray(uniques)
    cols: dict[str, Any] = {out_key: labels}
    for m in measures:
        if m.agg == "count":
            cols[m.out] = counts
            continue
        series = df[m.field]
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        if has_null:
            values = values[valid]
        nan = np.isnan(values)
        if nan.any():
            values = np.where(nan, 0.0, values)
            n = np.bincount(codes[~nan], minlength=k)
        else:
            n = counts
        sums = np.bincount(codes, weights=values, minlength=k)
        if m.agg == "sum":
            integer = pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_bool_dtype(
                series.dtype)
            cols[m.out] = sums.round().astype("int64") if integer else sums
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                cols[m.out] = np.where(n > 0, sums / np.maximum(n, 1), np.nan)
    out = pd.DataFrame(cols)
    if isinstance(uniques, pd.DatetimeIndex) or pd.api.types.is_datetime64_any_dtype(
            cols[out_key].dtype):
        out[out_key] = pd.to_datetime(out[out_key])
    out = out[counts > 0] if len(out) else out
    return out.sort_values(out_key, kind="stable").reset_index(drop=True)
