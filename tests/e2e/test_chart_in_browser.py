"""A chart request draws a real Altair chart in the browser, offline (no CDN can be reached)."""

from __future__ import annotations

import base64
import re
import urllib.parse
from typing import Any

import pytest
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

# Everything chart-like in a cell's outputs: inline Vega SVGs, images, canvases.
_CHARTS_JS = """(cell) => {
  const out = cell.querySelector('.jp-Cell-outputArea');
  if (!out) return {svgs: [], imgs: [], canvases: []};
  const svgs = [...out.querySelectorAll('svg.marks')].map(svg => ({
    bars: svg.querySelectorAll('.mark-rect path, .mark-rect rect').length,
    labels: [...svg.querySelectorAll('text')].map(t => t.textContent),
    width: svg.getBoundingClientRect().width,
  }));
  const imgs = [...out.querySelectorAll('img')].map(img => ({
    src: img.src, loaded: img.complete && img.naturalWidth > 0, width: img.naturalWidth,
  }));
  const canvases = [...out.querySelectorAll('canvas')].map(c => {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let inked = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
    return {width: c.width, inked};
  });
  return {svgs, imgs, canvases};
}"""


def _svg_source(src: str) -> str | None:
    """The SVG text of an ``<img>`` whose src is an SVG data URI, else None."""
    head, _, payload = src.partition(",")
    if not head.startswith("data:image/svg+xml"):
        return None
    return (base64.b64decode(payload).decode() if head.endswith(";base64")
            else urllib.parse.unquote(payload))


def _drawn_charts(found: dict[str, Any]) -> list[dict[str, Any]]:
    """Each drawn chart as {bars, labels}: inline SVGs, loaded SVG images, inked canvases."""
    charts = [{"bars": s["bars"], "labels": s["labels"]} for s in found["svgs"] if s["width"] > 0]
    for img in found["imgs"]:
        svg = _svg_source(img["src"]) if img["loaded"] else None
        if svg is None:
            continue
        group = re.search(r'<g[^>]*class="mark-rect role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S)
        bars = len(re.findall(r"<path\b", group.group(1))) if group else 0
        labels = [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text\b[^>]*>(.*?)</text>", svg)]
        charts.append({"bars": bars, "labels": labels})
    # A canvas chart is drawn when it has ink; its marks cannot be counted from the DOM.
    charts += [{"bars": None, "labels": [], "canvas": c} for c in found["canvases"] if c["inked"]]
    return charts


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
    cell = lab.cell(2).element_handle()

    def charts() -> list[dict[str, Any]]:
        return _drawn_charts(lab.page.evaluate(_CHARTS_JS, cell))

    drawn = wait_for(charts, 30, f"a chart to draw; output was:\n{lab.output_text(2)}")
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
