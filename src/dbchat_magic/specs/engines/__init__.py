"""Frame engines: run a `Plan` in the frame's own library — pandas (with `_fastagg`, a numpy path
for the common one-key chart), polars (lazy) and Spark (on the cluster) — and return a small
pandas `AggResult`. polars and pyspark are imported only for their own frames."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbchat_magic.specs.engines._pandas import aggregate_pandas, truncate_dates
from dbchat_magic.specs.engines._polars import aggregate_polars
from dbchat_magic.specs.engines._spark import aggregate_spark

if TYPE_CHECKING:
    from dbchat_magic.specs._frames import FrameInfo
    from dbchat_magic.specs._plan import AggResult, Plan

__all__ = ["aggregate_pandas", "aggregate_polars", "aggregate_spark", "run_plan", "truncate_dates"]


def run_plan(info: FrameInfo, plan: Plan) -> AggResult:
    """Dispatch ``plan`` to the frame's own engine (Spark/polars aggregate natively)."""
    if info.kind == "spark":
        return aggregate_spark(info, plan)
    if info.kind == "polars":
        return aggregate_polars(info, plan)
    return aggregate_pandas(info, plan)
