"""The same specs over Spark (local mode) and polars give the pandas answer, computed in-engine."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dbchat_magic.specs import render_spec, validate_spec
from dbchat_magic.specs._records import csv_values
from engine_cases import SPECS, canon, sales_frame


@pytest.fixture(scope="module")
def pdf() -> pd.DataFrame:
    return sales_frame()



def _values(spec: dict, frame: object, renderer: str = "vegalite") -> tuple[list[dict], list[str]]:
    r = render_spec(spec, {"df": frame}, renderer=renderer)
    assert r.ok, r.errors
    return csv_values(r.vegalite["data"]), r.notes


@pytest.fixture(scope="module")
def sdf(spark, pdf):
    return spark.createDataFrame(pdf).cache()


@pytest.mark.spark
@pytest.mark.timeout(600)  # JVM start-up on a busy machine
@pytest.mark.parametrize("name", sorted(SPECS))
def test_spark_matches_pandas(sdf, pdf, name):
    spec = SPECS[name]
    assert validate_spec(spec, {"df": sdf}) == []
    want, want_notes = _values(spec, pdf)
    got, notes = _values(spec, sdf)
    if name == "top_skus":  # ties in max(units) make the top 100 ambiguous: compare the values
        assert sorted(r["max_units"] for r in got) == sorted(r["max_units"] for r in want)
        assert len(got) == 100 and notes[0].startswith("Showing the top 100 of more categories")
        return
    assert canon(got) == canon(want)
    assert notes == want_notes


@pytest.mark.spark
@pytest.mark.timeout(600)  # JVM start-up on a busy machine
def test_spark_table_kpi_and_errors(sdf, pdf):
    ns = {"df": sdf}
    r = render_spec({"widget": "kpi", "data": "df", "field": "units", "aggregate": "sum"}, ns)
    assert r.mimebundle["text/plain"] == f"Total units: {int(pdf.units.sum()):,}"
    r = render_spec({"widget": "table", "data": "df", "columns": ["sku", "revenue"],
                     "sort": "-revenue", "limit": 3}, ns)
    top = pdf.sort_values("revenue", ascending=False).head(3)
    assert r.mimebundle["text/plain"].split("\n")[2].split()[0] == top.sku.iloc[0]
    assert r.notes == ["Showing 3 of more rows."]
    errs = validate_spec({"widget": "chart", "data": "df", "mark": "bar",
                          "x": {"field": "regon", "type": "nominal"},
                          "y": {"field": "region", "type": "quantitative", "aggregate": "sum"}},
                         ns)
    assert errs[0].startswith('x.field: no column "regon" in df; did you mean "region"')


@pytest.mark.spark
@pytest.mark.timeout(600)  # JVM start-up on a busy machine
def test_spark_collects_only_the_small_result(sdf, monkeypatch):
    cls = type(sdf)  # pyspark 4: the classic DataFrame subclass
    collected: list[int] = []
    real = cls.toPandas

    def spy(self):  # the one place rows leave Spark
        out = real(self)
        collected.append(len(out))
        return out

    monkeypatch.setattr(cls, "toPandas", spy)
    _values(SPECS["bar_sum"], sdf)
    _values(SPECS["top_skus"], sdf)
    assert collected == [3, 101]


@pytest.mark.polars
@pytest.mark.parametrize("name", sorted(SPECS))
def test_polars_matches_pandas(pdf, name):
    pl = pytest.importorskip("polars")
    frame = pl.from_pandas(pdf)
    spec = SPECS[name]
    want, want_notes = _values(spec, pdf)
    got, notes = _values(spec, frame)
    if name == "top_skus":
        assert sorted(r["max_units"] for r in got) == sorted(r["max_units"] for r in want)
        assert notes == want_notes
        return
    assert canon(got) == canon(want)
    assert notes == want_notes
    assert _values(spec, frame.lazy())[0] == got


@pytest.mark.polars
def test_polars_kpi_table_and_dates():
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"d": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)], "v": [1.5, 2.5],
                          "name": ["a", "b"]})
    ns = {"f": frame}
    r = render_spec({"widget": "kpi", "data": "f", "field": "v", "aggregate": "mean"}, ns)
    assert r.mimebundle["text/plain"] == "Average v: 2"
    r = render_spec({"widget": "table", "data": "f", "sort": "-v",
                     "filters": [{"field": "name", "op": "contains", "value": "B"}]}, ns)
    assert r.ok and r.mimebundle["text/plain"].split("\n")[2].split() == ["2024-01-02", "2.5", "b"]
