"""A chart request draws a real Altair chart in the browser, offline (no CDN can be reached)."""

from __future__ import annotations

import pytest
from dbchat_page import drawn_charts
from labdriver import LabServer, NotebookPage, wait_for

from dbchat_magic.simulator import LLAMA

pytestmark = pytest.mark.e2e

REGIONS = ["North", "South", "East", "West"]
SPEC = ('{"widget":"chart","data":"sales","mark":"bar",'
        '"x":{"field":"region","type":"nominal"},'
        '"y":{"field":"revenue","type":"quantitative","aggregate":"sum"},"sort":"-y"}')
REPLY = f"Revenue by region, largest first:\n\n```json\n{SPEC}\n```\n"
FRAME_CELL = (
    "import pandas as pd\n"
    "sales = pd.DataFrame({'region': ['North', 'South', 'East', 'West'] * 25,\n"
    "                      'revenue': [float(i % 7 + 1) for i in range(100)]})"
)

def test_chart_request_draws_offline(lab: NotebookPage, lab_server: LabServer):
    sim = lab_server.sim
    sim.script("e2e-chart-request", REPLY)
    name = lab_server.write_notebook("chart", [
        "%load_ext dbchat_magic", FRAME_CELL,
        f"%%dbchat -e {LLAMA} -d sales\nChart revenue by region (e2e-chart-request)"])
    lab.open(name)
    lab.run_cell(0)
    lab.run_cell(1)
    lab.run_cell(2, timeout=90)
    drawn = wait_for(lambda: drawn_charts(lab.page, lab.cell(2)), 30,
                     f"a chart to draw; output was:\n{lab.output_text(2)}")
    lab.screenshot("04-chart-offline")
    assert len(drawn) == 1, f"expected one chart, found {drawn}"
    chart = drawn[0]
    assert chart["bars"] == len(REGIONS), f"expected {len(REGIONS)} bars: {chart}"
    for region in REGIONS:
        assert region in chart["labels"], f"axis label {region!r} missing: {chart['labels']}"
    shown = lab.output_text(2)
    assert "chart not drawn" not in shown
    assert "Revenue by region, largest first:" in shown
    # The spec JSON is folded away, not shown as raw fences/HTML around the prose.
    assert "```" not in shown and "<details>" not in shown, f"spec JSON shown raw:\n{shown}"
    assert lab.external_requests == [], f"the chart tried to go online: {lab.external_requests}"
    assert sim.stats.requests_by_endpoint[LLAMA] == 1  # valid spec: no repair turn
