"""Convert a small pandas result into JSON-safe records for embedding (dates as ISO text)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def to_records(df: Any) -> list[dict[str, Any]]:
    """Rows of ``df`` as plain dicts: numpy → Python, NaN → None, datetimes → ISO strings."""
    import pandas as pd

    df = df.copy()
    for col in df.columns:
        s = df[col]
        if s.dtype == object and len(s) and any(isinstance(v, Decimal) for v in s.head(20)):
            df[col] = pd.to_numeric(s, errors="coerce")
        elif isinstance(s.dtype, pd.DatetimeTZDtype):
            df[col] = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return json.loads(df.to_json(orient="records", date_format="iso", date_unit="s",
                                 default_handler=str))


def embedded_bytes(values: list[dict[str, Any]]) -> int:
    """Size in bytes of ``values`` as compact JSON (what a chart embeds)."""
    return len(json.dumps(values, separators=(",", ":")).encode())
