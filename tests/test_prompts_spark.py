"""Data context from Spark DataFrames: schema plus a limit(n) sample, never a count or full scan.

Needs pyspark and Java (current-stack venv only). One local session is shared by the whole module
(start-up costs seconds); it is left running for any later Spark test in the same process.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dbchat_magic.prompts import build_data_context, describe_frames, estimate_tokens, is_frame
from dbchat_magic.prompts._context.parse import parse_data_context

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.timeout(600)]  # JVM start-up on a busy machine


def test_spark_schema_and_sample_rows(spark):
    df = spark.createDataFrame(
        [(1, "North", 2.5, dt.date(2024, 1, 1)), (2, "South\n## evil", None, None),
         (3, "East", 7.0, dt.date(2024, 1, 3)), (4, "West", 1.0, dt.date(2024, 1, 4))],
        "id int not null, region string, revenue double, day date")
    assert is_frame(df)
    text = describe_frames({"sdf": df}, ["sdf"])
    frame = parse_data_context(text, strict=True)["sdf"]
    assert (frame.kind, frame.rows, frame.n_columns) == ("Spark DataFrame", "?", 4)
    assert frame.columns == {"id": "int", "region": "string", "revenue": "double", "day": "date"}
    assert frame.hints["id"] == "not null"
    assert frame.samples[0] == '{"id": 1, "region": "North", "revenue": 2.5, "day": "2024-01-01"}'
    assert '"region": "South\\n## evil"' in frame.samples[1]
    assert len(frame.samples) == 3
    assert "(row count not computed: a count would scan the data)" in frame.notes


def test_spark_describes_without_counting_or_scanning(spark):
    big = spark.range(0, 50_000_000, 1, 8).selectExpr("id", "id % 7 AS g", "rand(1) AS x")
    sc = spark.sparkContext
    tracker = sc.statusTracker()
    before = set(tracker.getJobIdsForGroup(None))
    text = describe_frames({"big": big}, ["big"])
    jobs = set(tracker.getJobIdsForGroup(None)) - before
    frame = parse_data_context(text, strict=True)["big"]
    assert frame.columns == {"id": "bigint", "g": "bigint", "x": "double"}
    assert len(frame.samples) == 3 and frame.samples[0].startswith('{"id": 0, "g": 0')
    assert 1 <= len(jobs) <= 2  # only the limit(3) collect
    tasks = 0
    for job in jobs:
        info = tracker.getJobInfo(job)
        for stage in info.stageIds if info else ():
            stage_info = tracker.getStageInfo(stage)
            tasks += stage_info.numTasks if stage_info else 0
    assert 1 <= tasks < 8  # a count or full scan would run a task on each of the 8 partitions


def test_wide_and_odd_spark_frames(spark):
    wide = spark.range(2).selectExpr(*[f"id AS `c.{i}`" for i in range(120)])
    nested = spark.createDataFrame([({"k": 1}, [1, 2], ("a", 2))],
                                   "m map<string,int>, l array<int>, s struct<a:string,b:int>")
    ctx = build_data_context({"wide": wide, "nested": nested}, ["wide", "nested"],
                             budget_tokens=800, frame_budget_tokens=400)
    frames = parse_data_context(ctx.text, strict=True)
    assert frames["wide"].n_columns == 120 and 0 < len(frames["wide"].columns) < 60
    assert frames["wide"].samples[0].startswith('{"c.0": 0, "c.1": 0')
    assert frames["nested"].columns["s"] == "struct<a:string,b:int>"
    assert frames["nested"].samples
    assert ctx.tokens <= 800
    assert estimate_tokens(ctx.text.split("### nested", 1)[1]) <= 400


def test_failing_spark_plan_still_gives_a_header(spark):
    bad = spark.range(3).selectExpr("id", "raise_error('boom') AS broken")
    frame = parse_data_context(describe_frames({"bad": bad}, ["bad"]), strict=True)["bad"]
    assert frame.columns == {"id": "bigint", "broken": "void"}
    assert any(n.startswith("(sample rows unavailable: ") for n in frame.notes)
    assert frame.samples == []


def _jobs_during(spark, fn):
    tracker = spark.sparkContext.statusTracker()
    before = set(tracker.getJobIdsForGroup(None))
    out = fn()
    return out, set(tracker.getJobIdsForGroup(None)) - before


@pytest.mark.parametrize("make", [
    lambda b: b.groupBy("g").count(),
    lambda b: b.orderBy("x"),
    lambda b: b.join(b.select("id"), "id"),
    lambda b: b.distinct(),
    lambda b: b.repartition(3),
], ids=["aggregate", "sort", "join", "distinct", "repartition"])
def test_costly_plans_get_no_sample_and_run_no_job(spark, make):
    base = spark.range(0, 1_000_000, 1, 8).selectExpr("id", "id % 7 AS g", "rand(1) AS x")
    df = make(base)
    text, jobs = _jobs_during(spark, lambda: describe_frames({"agg": df}, ["agg"]))
    frame = parse_data_context(text, strict=True)["agg"]
    assert jobs == set()
    assert frame.samples == [] and frame.columns
    assert any(n.startswith("(no sample rows: the plan has a ") for n in frame.notes)


def test_filters_and_projections_still_get_a_sample(spark):
    df = spark.range(0, 1000, 1, 8).selectExpr("id", "id % 7 AS g").filter("g = 3")
    frame = parse_data_context(describe_frames({"f": df}, ["f"]), strict=True)["f"]
    assert frame.samples[0] == '{"id": 3, "g": 3}'
