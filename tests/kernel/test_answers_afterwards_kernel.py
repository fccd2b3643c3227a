"""After the answer: ``%dbchat last`` draws the charts, ``%dbchat history`` names what was drawn and
why an answer failed, the export carries the charts, tables, KPIs and the reasoning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KernelHarness = Any  # the class lives in tests/kernel/conftest.py (not importable)

CHART = {"widget": "chart", "data": "aw_sales", "mark": "bar", "title": "Revenue by region",
         "x": {"field": "region", "type": "nominal"},
         "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}}
TABLE = {"widget": "table", "data": "aw_sales", "columns": ["region", "revenue"]}
KPI = {"widget": "kpi", "data": "aw_sales", "aggregate": "sum", "field": "revenue",
       "label": "Total revenue"}


def _blocks(*specs: dict[str, Any]) -> str:
    return "\n\n".join(f"```json\n{json.dumps(spec)}\n```" for spec in specs)


def _ask_three(kernel: KernelHarness, kernel_sim: Any) -> Any:
    ok = kernel.execute("import pandas as pd\naw_sales = pd.DataFrame({'region': ['East', "
                        "'West', 'East'], 'revenue': [1.0, 2.0, 3.0]})\n"
                        "from dbchat_magic.conversation import get_conversation\n"
                        "get_conversation().reset()")
    assert ok.status == "ok", ok.outputs
    kernel_sim.script("three views please", f"Here they are:\n\n{_blocks(CHART, TABLE, KPI)}\n")
    kernel_sim.inject("reasoning", reasoning="First I sum revenue per region.")
    ex = kernel.execute("%%dbchat -d aw_sales\nthree views please", timeout=120)
    assert ex.status == "ok", ex.outputs
    return ex


def _data(ex: Any) -> list[dict[str, Any]]:
    return [o.get("data") or {} for o in ex.outputs if o.get("data")]


def test_last_draws_the_charts_not_the_spec_json(kernel: KernelHarness, kernel_sim: Any):
    _ask_three(kernel, kernel_sim)
    last = kernel.execute("%dbchat last", timeout=60)
    assert last.status == "ok" and not last.errors
    data = _data(last)
    assert any("image/svg+xml" in d or "image/png" in d for d in data), data  # a drawn chart
    plain = "\n".join(str(d.get("text/plain", "")) for d in data)
    assert "Total revenue" in plain and "East" in plain  # the KPI and the table
    assert '"widget"' not in plain  # no spec JSON
    html = "\n".join(str(d.get("text/html", "")) for d in data)
    assert "table spec (JSON)" in html and "KPI spec (JSON)" in html  # labelled as what they are
    assert html.count("chart spec (JSON)") == 1


def test_history_names_the_drawn_specs_and_why_an_answer_failed(kernel: KernelHarness,
                                                                  kernel_sim: Any):
    _ask_three(kernel, kernel_sim)
    failed = kernel.execute("%%dbchat -e nope-endpoint --no-raise\nhello", timeout=60)
    assert failed.status == "ok"
    out = kernel.execute("%dbchat history").stdout
    first, second = out.split("\n2. ")
    assert "[bar chart of sum(revenue) by region from aw_sales" in first
    assert "drew 1 chart, 1 table, 1 KPI" in first
    assert "A (failed): (no answer) — why: endpoint 'nope-endpoint' was not found" in second
    assert "A (failed): \n" not in out and not out.rstrip().endswith("(failed):")


def test_export_carries_charts_tables_kpis_and_reasoning(kernel: KernelHarness, kernel_sim: Any,
                                                        tmp_path: Path):
    _ask_three(kernel, kernel_sim)
    target = tmp_path / "chat.md"
    ex = kernel.execute(f"%dbchat export {target}")
    assert ex.status == "ok" and "1 chart in" in ex.stdout, ex.outputs
    text = target.read_text()
    svg = tmp_path / "chat_charts" / "1-1.svg"
    assert "](chat_charts/1-1.svg)" in text and svg.read_text().lstrip().startswith("<svg")
    assert "![Chart 1.1: bar chart of aw_sales: Revenue by region" in text
    assert "**Table 1.2**" in text and "**KPI 1.3**" in text and "Total revenue: 6" in text
    assert "chart spec (JSON)" not in text
    assert "> **Reasoning**" in text and "First I sum revenue per region." in text
    again = kernel.execute(f"%dbchat export {target}")
    assert again.status == "error" and "already exists" in again.errors[0]["traceback"][0]
    as_json = tmp_path / "chat.json"
    assert kernel.execute(f"%dbchat export {as_json}").status == "ok"
    record = json.loads(as_json.read_text())["turns"][0]
    assert [s["kind"] for s in record["specs"]] == ["chart", "table", "kpi"]
    assert record["specs"][0]["svg"].lstrip().startswith("<svg")
    assert record["reasoning"] == "First I sum revenue per region."
