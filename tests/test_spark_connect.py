"""Spark Connect (serverless and shared Databricks compute): data context and specs, for real.

A Connect session marks its whole process as Connect mode, so the checks run once in a subprocess
(tests/spark_connect_probe.py: ``SparkSession.builder.remote("local[1]")`` starts a local Connect
server on an ephemeral port) and the tests here assert on its JSON report. The classic Spark tests
in this process are unaffected.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dbchat_magic.prompts._context.spark_frames import costly_step
from engine_cases import canon

# A hang guard only: a Connect server starts in ~40 s idle but took over 6 minutes on the 2-core
# CI machine while seven other jobs ran.
pytestmark = [pytest.mark.spark, pytest.mark.timeout(1500)]
PROBE = Path(__file__).with_name("spark_connect_probe.py")
NO_SAMPLE = "(no sample rows: the plan has a "


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict[str, Any]:
    pytest.importorskip("pyspark")
    pytest.importorskip("grpc", reason="Spark Connect needs pyspark[connect]")
    scratch = tmp_path_factory.mktemp("spark-connect")
    proc = subprocess.run([sys.executable, str(PROBE), str(scratch)], capture_output=True,
                          text=True, timeout=1400, cwd=PROBE.parent.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_probe_really_used_spark_connect(report):
    assert report["session"] == "pyspark.sql.connect.session"
    assert report["context"]["frame_module"] == "pyspark.sql.connect.dataframe"


def test_plain_connect_frame_has_schema_and_sample_rows(report):
    frame = report["context"]["plain"]
    assert (frame["kind"], frame["rows"], frame["n_columns"]) == ("Spark DataFrame", "?", 4)
    assert frame["columns"] == {"id": "int", "region": "string", "revenue": "double",
                                "day": "date"}
    assert frame["hints"]["id"] == "not null"
    assert frame["samples"][0] == ('{"id": 1, "region": "North", "revenue": 2.5, '
                                   '"day": "2024-01-01"}')
    assert '"region": "South\\n## evil"' in frame["samples"][1]
    assert len(frame["samples"]) == 3
    assert frame["notes"] == ["(row count not computed: a count would scan the data)"]
    assert report["context"]["plain_jobs"] <= 1  # at most the limit(3) collect (local: none)


@pytest.mark.parametrize(("name", "step"), [("aggregate", "Aggregate"), ("join", "Join"),
                                            ("sort", "Sort"), ("distinct", "Aggregate")])
def test_costly_connect_plans_get_no_sample_and_never_run(report, name, step):
    found = report["context"]["costly"][name]
    facts = found["facts"]
    assert facts["samples"] == [] and facts["columns"]
    assert f"{NO_SAMPLE}{step} step, so even a sample would compute all of it)" in facts["notes"]
    assert found["jobs"] == 0  # no Spark job started while composing the context
    assert found["udf_calls"] == 0  # the side-effect UDF under the costly step never ran


def test_the_side_effect_detector_sees_a_cheap_sample_run(report):
    found = report["context"]["control"]  # the same UDF frame, filtered only: sampled
    assert found["facts"]["samples"][0] == '{"id": 3, "g": 3, "x": "1.5"}'
    assert found["jobs"] >= 1
    assert 0 < found["udf_calls"] < 2000  # it ran, and stopped early (2,000 rows in all)


@pytest.mark.parametrize("name", ["bar_sum", "line_daily_mean", "hist", "count_by_color",
                                  "month_distinct"])
def test_connect_charts_match_pandas(report, name):
    got, want = report["specs"][name]["connect"], report["specs"][name]["pandas"]
    assert got["ok"], got["errors"]
    assert want["ok"], want["errors"]
    assert got["rows"] and canon(got["rows"]) == canon(want["rows"])
    assert got["notes"] == want["notes"] and got["text"] == want["text"]


def test_connect_top_categories_are_cut_in_spark(report):
    got, want = report["specs"]["top_skus"]["connect"], report["specs"]["top_skus"]["pandas"]
    assert got["ok"], got["errors"]
    assert len(got["rows"]) == 100  # ties in max(units) make the top 100 ambiguous: compare values
    assert sorted(r["max_units"] for r in got["rows"]) == sorted(
        r["max_units"] for r in want["rows"])
    assert got["notes"][0].startswith("Showing the top 100 of more categories")
    assert report["specs"]["collected"] == [3, 101]  # only the small results left Spark


def test_connect_kpis_and_table_match_pandas(report):
    specs = report["specs"]
    assert specs["validate"] == []
    for name in ("kpi_sum", "kpi_mean_filtered"):
        assert specs[name]["connect"]["ok"], specs[name]["connect"]["errors"]
        assert specs[name]["connect"]["text"] == specs[name]["pandas"]["text"]
    assert specs["kpi_sum"]["connect"]["text"].startswith("Total units: ")
    table = specs["table_top3"]
    assert table["connect"]["ok"], table["connect"]["errors"]
    assert table["connect"]["text"] == table["pandas"]["text"]
    assert len(table["connect"]["text"].splitlines()) == 5  # name, header, 3 rows
    assert table["connect"]["notes"] == ["Showing 3 of more rows."]


def test_connect_frames_aggregate_even_outside_connect_mode(report):
    got = report["specs"]["not_connect_mode"]  # pyspark.sql.functions would build classic columns
    assert got["ok"], got["errors"]
    assert canon(got["rows"]) == canon(report["specs"]["line_daily_mean"]["pandas"]["rows"])


def test_connect_vegalite_spec_samples_in_spark(report):
    got = report["specs"]["vegalite"]
    assert got["ok"], got["errors"]
    assert got["notes"] == ["Showing a random sample of 5,000 of 20,000 rows."]


def _connect_like(explain: Any) -> Any:
    cls = type("DataFrame", (), {"_explain_string": lambda self, mode=None: explain(mode)})
    cls.__module__ = "pyspark.sql.connect.dataframe"
    return cls()


def test_costly_step_reads_only_the_optimised_plan_and_never_raises():
    text = ("== Parsed Logical Plan ==\n'Sort ['x DESC]\n+- Range (0, 9)\n\n"
            "== Optimized Logical Plan ==\nGlobalLimit 3\n+- Range (0, 9)\n\n"
            "== Physical Plan ==\nCollectLimit 3\n+- Sort [x DESC]\n")
    assert costly_step(_connect_like(lambda mode: text)) is None
    assert costly_step(_connect_like(lambda mode: text.replace("GlobalLimit 3", "Window [x]"))
                       ) == "Window"

    def refused(mode: str) -> str:
        raise RuntimeError("the server refused the analyze RPC")

    assert costly_step(_connect_like(refused)) is None
    assert costly_step(object()) is None
