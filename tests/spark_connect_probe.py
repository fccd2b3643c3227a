"""Run dbchat's Spark code against a real local Spark Connect server; print the findings as JSON.

Used by tests/test_spark_connect.py, which runs it with ``sys.executable`` in a subprocess:
``remote("local[1]")`` starts the JVM and a Connect server inside this process and marks the whole
process as Connect mode, so it must not share a process with the classic Spark tests.

Usage: python tests/spark_connect_probe.py SCRATCH_DIR  (stdout: one JSON object)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore")  # pandas 3 / static-conf warnings from pyspark: not findings
os.environ["SPARK_TESTING"] = "1"  # pyspark's own dev mode: an ephemeral gRPC port, found via py4j
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

import pandas as pd  # noqa: E402

from dbchat_magic.prompts import describe_frames  # noqa: E402
from dbchat_magic.prompts._context.parse import parse_data_context  # noqa: E402
from dbchat_magic.specs import render_spec, validate_spec  # noqa: E402
from dbchat_magic.specs._records import csv_values  # noqa: E402
from engine_cases import SPECS, sales_frame  # noqa: E402  (tests/ is sys.path[0])

SCRATCH = Path(sys.argv[1])
UDF_LOG = str(SCRATCH / "udf-calls.log")  # every call of the side-effect UDF appends a line


def touched(x: int) -> int:
    """Identity, with a side effect: proves whether Spark evaluated the plan."""
    with open(UDF_LOG, "a") as fh:
        fh.write("x\n")
    return x


def udf_calls() -> int:
    try:
        return len(Path(UDF_LOG).read_text().splitlines())
    except FileNotFoundError:
        return 0


def start() -> tuple[Any, Any]:
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.remote("local[1]").appName("dbchat-connect-tests")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    return spark, SparkContext._active_spark_context  # the server's JVM context: job counters


def frame_facts(text: str, name: str) -> dict[str, Any]:
    return dataclasses.asdict(parse_data_context(text, strict=True)[name])


def context_checks(spark: Any, sc: Any) -> dict[str, Any]:
    from pyspark.sql import functions as F

    tracker = sc.statusTracker()

    def described(df: Any) -> tuple[dict[str, Any], int, int]:
        jobs, calls = set(tracker.getJobIdsForGroup(None)), udf_calls()
        facts = frame_facts(describe_frames({"cdf": df}, ["cdf"]), "cdf")
        return (facts, len(set(tracker.getJobIdsForGroup(None)) - jobs), udf_calls() - calls)

    out: dict[str, Any] = {}
    plain = spark.createDataFrame(
        [(1, "North", 2.5, dt.date(2024, 1, 1)), (2, "South\n## evil", None, None),
         (3, "East", 7.0, dt.date(2024, 1, 3)), (4, "West", 1.0, dt.date(2024, 1, 4))],
        "id int not null, region string, revenue double, day date")
    out["frame_module"] = type(plain).__module__
    out["plain"], out["plain_jobs"], _ = described(plain)
    tag = F.udf(touched, "bigint")
    base = (spark.range(0, 2000, 1, 4).select(tag("id").alias("id"))
            .selectExpr("id", "id % 7 AS g", "id * 0.5 AS x"))
    costly = {
        "aggregate": base.groupBy("g").agg(F.sum("x").alias("sx")),
        "join": base.join(base.select("id", (F.col("g") + 1).alias("h")), "id"),
        "sort": base.orderBy(F.col("x").desc()),
        "distinct": base.select("g").distinct(),
    }
    out["costly"] = {}
    for name, df in costly.items():
        facts, jobs, calls = described(df)
        out["costly"][name] = {"facts": facts, "jobs": jobs, "udf_calls": calls}
    facts, jobs, calls = described(base.filter("g = 3"))  # control: the detector does detect
    out["control"] = {"facts": facts, "jobs": jobs, "udf_calls": calls}
    return out


WIDGETS = {
    "kpi_sum": {"widget": "kpi", "data": "df", "field": "units", "aggregate": "sum"},
    "kpi_mean_filtered": {"widget": "kpi", "data": "df", "field": "revenue", "aggregate": "mean",
                          "filters": [{"field": "region", "op": "in", "value": ["EU", "APAC"]}]},
    "table_top3": {"widget": "table", "data": "df", "columns": ["sku", "revenue", "units"],
                   "sort": "-revenue", "limit": 3},
}
VEGALITE = {"widget": "vega-lite", "data": "df",
            "spec": {"mark": "point", "encoding": {
                "x": {"field": "units", "type": "quantitative"},
                "y": {"field": "revenue", "type": "quantitative"}}}}


def rendered(spec: dict[str, Any], frame: Any) -> dict[str, Any]:
    r = render_spec(spec, {"df": frame}, renderer="vegalite")
    out: dict[str, Any] = {"ok": r.ok, "errors": r.errors, "notes": r.notes,
                           "text": r.mimebundle.get("text/plain")}
    if r.ok and r.vegalite:
        out["rows"] = csv_values(r.vegalite["data"])
    return out


def spec_checks(spark: Any) -> dict[str, Any]:
    pdf = sales_frame()
    sdf = spark.createDataFrame(pdf)
    out: dict[str, Any] = {"validate": validate_spec(SPECS["bar_sum"], {"df": sdf})}
    for name, spec in {**SPECS, **WIDGETS}.items():
        out[name] = {"pandas": rendered(spec, pdf), "connect": rendered(spec, sdf)}
    out["vegalite"] = rendered(VEGALITE, sdf)
    cls, collected = type(sdf), []
    real = cls.toPandas

    def spy(self: Any) -> pd.DataFrame:  # the one place rows leave Spark
        frame = real(self)
        collected.append(len(frame))
        return frame

    cls.toPandas = spy
    try:
        rendered(SPECS["bar_sum"], sdf)
        rendered(SPECS["top_skus"], sdf)
    finally:
        cls.toPandas = real
    out["collected"] = collected
    # A process not in Connect mode (a classic context also alive, or a Connect session built
    # directly) makes pyspark.sql.functions build classic columns: the spec must still work.
    mode = os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
    try:
        out["not_connect_mode"] = rendered(SPECS["line_daily_mean"], sdf)
    finally:
        if mode is not None:
            os.environ["SPARK_CONNECT_MODE_ENABLED"] = mode
    return out


def main() -> None:
    t0 = time.monotonic()
    spark, sc = start()
    report: dict[str, Any] = {"session": type(spark).__module__,
                              "start_s": round(time.monotonic() - t0, 2)}
    t1 = time.monotonic()
    report["context"] = context_checks(spark, sc)
    report["context_s"] = round(time.monotonic() - t1, 2)
    t1 = time.monotonic()
    report["specs"] = spec_checks(spark)
    report["specs_s"] = round(time.monotonic() - t1, 2)
    spark.stop()
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
