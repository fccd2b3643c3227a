"""Serialise a small pandas result for embedding in a chart: compact inline CSV with an explicit
per-column parse (numbers, booleans, local dates), and JSON-safe records for tables and tests."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

_DAY = "%Y-%m-%d"
_SECOND = "%Y-%m-%dT%H:%M:%S"


def _normalise(df: Any) -> Any:
    """Decimals → floats, tz-aware → naive UTC, so every column is plain numeric/text/datetime."""
    import pandas as pd

    df = df.copy()
    for col in df.columns:
        s = df[col]
        if s.dtype == object and len(s) and any(isinstance(v, Decimal) for v in s.head(20)):
            df[col] = pd.to_numeric(s, errors="coerce")
        elif isinstance(s.dtype, pd.DatetimeTZDtype):
            df[col] = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return df


def to_records(df: Any) -> list[dict[str, Any]]:
    """Rows of ``df`` as plain dicts: numpy → Python, NaN → None, datetimes → ISO strings.

    Columns are renamed for the JSON round trip (pandas' encoder cuts a name at a NUL character).
    """
    frame = _normalise(df)
    names = [str(c) for c in frame.columns]
    frame.columns = [f"c{i}" for i in range(len(names))]
    rows = json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s",
                                    default_handler=str))
    return [{name: row[f"c{i}"] for i, name in enumerate(names)} for row in rows]


def to_inline_csv(df: Any) -> tuple[str, dict[str, str | None]]:
    """(CSV text, Vega-Lite ``format.parse``) for ``df``: ~half the bytes of JSON records.

    Floats keep 10 significant digits; dates parse as local time with an explicit pattern, so
    Vega shows the same calendar day the frame holds; text columns are never re-typed.
    """
    import pandas as pd

    df = _normalise(df)
    parse: dict[str, str | None] = {}
    cols: list[list[str]] = []
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s.dtype):
            parse[col] = "boolean"
            cols.append(["" if pd.isna(v) else ("true" if v else "false") for v in s])
        elif pd.api.types.is_numeric_dtype(s.dtype):
            parse[col] = "number"
            if pd.api.types.is_integer_dtype(s.dtype):
                cols.append(["" if pd.isna(v) else str(int(v)) for v in s])
            else:
                cols.append(["" if pd.isna(v) else f"{float(v):.10g}" for v in s])
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            daily = bool((s.dropna() == s.dropna().dt.normalize()).all())
            fmt = _DAY if daily else _SECOND
            parse[col] = f"date:'{fmt}'"
            cols.append(s.dt.strftime(fmt).fillna("").tolist())
        else:
            parse[col] = None
            cols.append(["" if v is None or v is pd.NA or (isinstance(v, float) and v != v)
                         else str(v) for v in s])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([str(c) for c in df.columns])
    writer.writerows(zip(*cols, strict=True))
    return buf.getvalue(), parse


def csv_values(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Read back chart ``data`` written by `to_inline_csv` (numbers as floats, dates as text)."""
    values = data.get("values")
    if not isinstance(values, str):
        return list(values or [])
    parse = (data.get("format") or {}).get("parse") or {}
    rows = list(csv.DictReader(io.StringIO(values)))
    for row in rows:
        for key, kind in parse.items():
            v = row.get(key)
            if v == "":
                row[key] = None
            elif kind == "number":
                row[key] = float(v)  # type: ignore[arg-type]  # a bad value raises: the caller reports it
            elif kind == "boolean":
                row[key] = v == "true"
    return rows


def embedded_bytes(data: Any) -> int:
    """Size in bytes of embedded chart data (CSV text, or records as compact JSON)."""
    if isinstance(data, str):
        return len(data.encode())
    return len(json.dumps(data, separators=(",", ":")).encode())
