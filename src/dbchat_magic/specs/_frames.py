"""Find a DataFrame in the kernel namespace and classify its columns (no Spark/polars import)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FrameKind = Literal["pandas", "polars", "spark"]
ColumnClass = Literal["numeric", "bool", "datetime", "text", "other"]

_SPARK_NUMERIC = {"tinyint", "smallint", "int", "bigint", "float", "double", "decimal",
                  "byte", "short", "integer", "long"}
_SPARK_DATETIME = {"date", "timestamp", "timestamp_ntz"}


@dataclass(slots=True)
class FrameInfo:
    """A frame found in the namespace: its kind, the object, and a class for each column."""

    name: str
    kind: FrameKind
    frame: Any
    columns: dict[str, ColumnClass] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)


def frame_kind(obj: Any) -> FrameKind | None:
    """Which supported frame type ``obj`` is (pandas DataFrame/Series, polars, Spark), or None."""
    module = type(obj).__module__ or ""
    cls = type(obj).__name__
    if module.startswith("pandas") and cls in ("DataFrame", "Series"):
        return "pandas"
    if module.startswith("polars") and cls in ("DataFrame", "LazyFrame"):
        return "polars"
    if module.startswith("pyspark") and cls == "DataFrame":
        return "spark"
    return None


def list_frames(namespace: Mapping[str, Any]) -> list[str]:
    """Names of the supported frames in ``namespace`` (public names only)."""
    return sorted(k for k, v in namespace.items()
                  if not k.startswith("_") and frame_kind(v) is not None)


def _pandas_class(series: Any) -> ColumnClass:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        sample = series.dropna().head(20)
        if len(sample) and all(isinstance(v, dt.date) for v in sample):
            return "datetime"
        if len(sample) == 0 or all(isinstance(v, str) for v in sample):
            return "text"
        return "other"
    return "other"


def _polars_class(dtype: Any) -> ColumnClass:
    name = str(dtype).split("(")[0].lower()
    if name == "boolean":
        return "bool"
    if dtype.is_numeric():
        return "numeric"
    if name in ("date", "datetime"):
        return "datetime"
    if name in ("string", "utf8", "categorical", "enum"):
        return "text"
    return "other"


def _spark_class(type_name: str) -> ColumnClass:
    base = type_name.split("(")[0]
    if base == "boolean":
        return "bool"
    if base in _SPARK_NUMERIC:
        return "numeric"
    if base in _SPARK_DATETIME:
        return "datetime"
    return "text" if base == "string" else "other"


def describe_frame(name: str, obj: Any) -> FrameInfo | None:
    """A `FrameInfo` for ``obj`` (a pandas Series becomes a one-column frame), or None."""
    kind = frame_kind(obj)
    if kind == "pandas":
        if type(obj).__name__ == "Series":
            obj = obj.to_frame(name=str(obj.name) if obj.name is not None else "value")
        info = FrameInfo(name, kind, obj)
        for col in obj.columns:
            info.columns[str(col)] = _pandas_class(obj[col])
            info.dtypes[str(col)] = str(obj[col].dtype)
        if any(not isinstance(c, str) for c in obj.columns):
            info.frame = obj.rename(columns=str)
        return info
    if kind == "polars":
        info = FrameInfo(name, kind, obj)
        schema = obj.collect_schema() if hasattr(obj, "collect_schema") else obj.schema
        for col, dtype in schema.items():
            info.columns[col] = _polars_class(dtype)
            info.dtypes[col] = str(dtype)
        return info
    if kind == "spark":
        info = FrameInfo(name, kind, obj)
        for f in obj.schema.fields:
            info.columns[f.name] = _spark_class(f.dataType.simpleString())
            info.dtypes[f.name] = f.dataType.simpleString()
        return info
    return None
