"""Charts people keep (issue 13, item 5): in JupyterLab the chart is interactive (its own Vega,
offline; the static SVG beside it is not what shows), takes the output area's width at 1,400 and
800 px (wider at 1,400, every bar inside the area), shows a tooltip with the values on hover,
follows the dark theme (no white box), and keeps the static SVG in the same saved output. A
hostile category value stays text in the tooltip (never HTML)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from labdriver import LabServer, NotebookPage, record_measurement, wait_for

from dbchat_magic.simulator import LLAMA

pytestmark = pytest.mark.e2e

HOSTILE = "<img src=x onerror=window.__pwned=1>"
REGIONS = ["North", "South", "East", HOSTILE]
SUMS = ["100", "90", "80", "70"]  # sum of revenue per region, largest first
SPEC = ('{"widget":"chart","data":"sales","mark":"bar",'
        '"x":{"field":"region","type":"nominal"},'
        '"y":{"field":"revenue","type":"quantitative","aggregate":"sum"},"sort":"-y"}')
REPLY = f"Revenue by region:\n\n```json\n{SPEC}\n```\n"
FRAME_CELL = ("import pandas as pd\n"
              f"sales = pd.DataFrame({{'region': {REGIONS!r} * 10,\n"
              "                      'revenue': [10.0, 9.0, 8.0, 7.0] * 10})")
VEGALITE = "application/vnd.vegalite.v5+json"

# The interactive chart in a cell: its SVG, each bar, the output area, the colour of its axis
# labels, the background it shows on (the first opaque one from the chart up), static images shown.
_CHART_JS = """(cell) => {
  const area = cell.querySelector('.jp-Cell-outputArea');
  const embed = area && area.querySelector('.jp-RenderedVegaCommon5 .vega-embed');
  const svg = embed && embed.querySelector('svg.marks');
  if (!svg) return null;
  const box = svg.getBoundingClientRect(), out = area.getBoundingClientRect();
  const label = svg.querySelector('.role-axis-label text');
  const fill = label ? getComputedStyle(label).fill : '';
  const lum = (c) => { const v = (c.match(/[0-9.]+/g) || [0, 0, 0]).map(Number);
                       return 0.3 * v[0] + 0.59 * v[1] + 0.11 * v[2]; };
  let bg = '', el = svg;
  for (; el && !bg; el = el.parentElement) {
    const c = getComputedStyle(el).backgroundColor;
    if (c && c !== 'transparent' && !/rgba\\(.*, 0\\)$/.test(c)) bg = c;
  }
  const bars = [...svg.querySelectorAll('.mark-rect path')].map(b => b.getBoundingClientRect())
    .map(r => ({left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width}));
  return {left: box.left, right: box.right, top: box.top, width: box.width, height: box.height,
          areaLeft: out.left, areaRight: out.right, areaTop: out.top, areaBottom: out.bottom,
          areaWidth: out.width, fill, labelLum: lum(fill), background: bg, backgroundLum: lum(bg),
          bars: bars.length, barBoxes: bars,
          images: area.querySelectorAll('.jp-RenderedSVG, .jp-RenderedImage').length,
          themeLight: document.body.dataset.jpThemeLight};
}"""
_TOOLTIP_JS = """() => {
  const tip = document.querySelector('#vg-tooltip-element');
  if (!tip || !tip.classList.contains('visible')) return null;
  return {text: tip.innerText, elements: tip.querySelectorAll('img, script, iframe').length,
          pwned: window.__pwned === 1};
}"""


def _chart(lab: NotebookPage, cell: int) -> dict[str, Any]:
    return wait_for(lambda: lab.page.evaluate(_CHART_JS, lab.cell(cell).element_handle()), 90,
                    f"an interactive chart; output was:\n{lab.output_text(cell)}")


def _tooltips(lab: NotebookPage, box: dict[str, Any]) -> list[dict[str, Any]]:
    """Hover a grid over the chart until each bar's tooltip was seen; every tooltip seen."""
    seen: list[dict[str, Any]] = []
    for row in range(8):
        y = box["top"] + box["height"] * (0.1 + 0.08 * row)
        for i in range(24):
            lab.page.mouse.move(box["left"] + box["width"] * (0.05 + 0.9 * i / 23), y)
            lab.page.wait_for_timeout(40)
            tip = lab.page.evaluate(_TOOLTIP_JS)
            if tip is not None and tip not in seen:
                seen.append(tip)
        if len(seen) >= len(REGIONS):
            break
    lab.page.mouse.move(1, 1)
    return seen


def _inside(chart: dict[str, Any]) -> bool:
    """Every bar drawn (non-zero width) and inside the output area's box: nothing clipped."""
    return len(chart["barBoxes"]) == len(REGIONS) and all(
        b["width"] > 1 and b["left"] >= chart["areaLeft"] - 0.5
        and b["right"] <= chart["areaRight"] + 0.5 and b["top"] >= chart["areaTop"] - 0.5
        and b["bottom"] <= chart["areaBottom"] + 0.5 for b in chart["barBoxes"])


def _check_width(lab: NotebookPage, width: int, theme: str,
                 wider_than: float = 0.0) -> dict[str, Any]:
    """At ``width`` px: wait until the chart fits its output area (narrower than ``wider_than``
    when given: it followed the viewport), hover its bars, screenshot; returns what was seen."""
    lab.page.set_viewport_size({"width": width, "height": 1000})
    lab.cell(2).scroll_into_view_if_needed()

    def fitted() -> dict[str, Any] | None:
        b = _chart(lab, 2)
        followed = not wider_than or b["width"] < wider_than - 50
        return b if b["right"] <= b["areaRight"] + 0.5 and _inside(b) and followed else None

    box = wait_for(fitted, 60, f"the chart to fit the output area at {width} px")
    assert box["width"] > 250, f"the chart collapsed at {width} px: {box}"
    assert box["width"] >= 0.6 * box["areaWidth"], f"a small chart in a wide area: {box}"
    assert box["images"] == 0, f"the static image shows instead of the interactive chart: {box}"
    tips = wait_for(lambda: _tooltips(lab, box) or None, 60, "a tooltip on hover")
    lab.screenshot(f"13-chart-{theme}-{width}px")
    texts = " | ".join(t["text"] for t in tips)
    assert "sum of revenue" in texts and "region" in texts, texts
    assert any(value in texts for value in SUMS), f"no bar's value in the tooltips: {texts}"
    for tip in tips:
        assert tip["elements"] == 0 and not tip["pwned"], tip
    return {"box": box, "texts": texts}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_interactive_chart_tooltip_width_and_theme(lab: NotebookPage, lab_server: LabServer,
                                                   theme: str):
    sim = lab_server.sim
    sim.script("e2e-keep-chart", REPLY)
    name = lab_server.write_notebook(f"keep-chart-{theme}", [
        "%load_ext dbchat_magic", FRAME_CELL,
        f"%%dbchat -e {LLAMA} -d sales\nChart revenue by region (e2e-keep-chart)"])
    lab.page.set_viewport_size({"width": 1400, "height": 1000})
    lab.open(name)
    lab.set_theme(theme == "dark")
    for cell in range(3):
        lab.run_cell(cell, timeout=90)
    wide = _check_width(lab, 1400, theme)
    narrow = _check_width(lab, 800, theme, wider_than=wide["box"]["width"])
    record_measurement(f"chart width {theme} 1400px", round(wide["box"]["width"]))
    record_measurement(f"chart width {theme} 800px", round(narrow["box"]["width"]))
    assert HOSTILE in wide["texts"] + narrow["texts"], "the hostile value was shown as text"
    ink = narrow["box"]
    assert ink["bars"] == len(REGIONS), ink
    assert (ink["themeLight"], ink["labelLum"] > 150 if theme == "dark" else ink["labelLum"] < 100
            ) == ("false" if theme == "dark" else "true", True), ink  # labels follow the theme
    dark_bg = ink["backgroundLum"] < 100  # the chart shows on the notebook's own background
    assert dark_bg == (theme == "dark"), f"a {theme} theme chart on {ink['background']}: {ink}"
    saved = lab.save(name)
    outputs = [o for o in saved["cells"][2]["outputs"] if VEGALITE in o.get("data", {})]
    svg = outputs[0]["data"]["image/svg+xml"] if len(outputs) == 1 else ""
    assert "<svg" in "".join(svg), saved["cells"][2]  # the static fallback is saved beside it
    if theme == "dark":
        lab.set_theme(False)  # leave the shared server's settings as they were


def test_a_saved_chart_reopens_fitted_trusted_and_fixed_untrusted(lab: NotebookPage,
                                                                  lab_server: LabServer):
    """Reopened as saved (trusted: signed by this server) the chart takes the output area's width
    again; the same outputs in a notebook nobody signed (untrusted: the sanitizer drops the fit
    CSS) draw the chart at its fixed 320 px, and the page keeps answering (Vega-Lite's own
    "container" width would measure 0 px there and hang it)."""
    from dbchat_magic.specs._vl_build import WIDTH

    sim = lab_server.sim
    sim.script("e2e-keep-chart", REPLY)
    name = lab_server.write_notebook("reopen-chart", [
        "%load_ext dbchat_magic", FRAME_CELL,
        f"%%dbchat -e {LLAMA} -d sales\nChart revenue by region (e2e-keep-chart)"])
    lab.page.set_viewport_size({"width": 1400, "height": 1000})
    lab.open(name)
    for cell in range(3):
        lab.run_cell(cell, timeout=90)
    first = _chart(lab, 2)
    saved = lab.save(name)
    lab.server.shutdown_kernels()
    lab.open(name)
    again = wait_for(lambda: (b := _chart(lab, 2)) and _inside(b) and b, 90, "the reopened chart")
    assert abs(again["width"] - first["width"]) <= 2 and again["width"] > WIDTH + 100, again
    # Trust is a signature of the content kept by the server: changed content is unsigned.
    unsigned = {**saved, "metadata": {**saved["metadata"], "dbchat_e2e": "an unsigned copy"}}
    (lab_server.root / "reopen-untrusted.ipynb").write_text(json.dumps(unsigned))
    lab.open("reopen-untrusted.ipynb")
    fixed = wait_for(lambda: (b := _chart(lab, 2)) and _inside(b) and b, 90, "the untrusted chart")
    lab.screenshot("13-chart-untrusted-1400px")
    assert abs(fixed["width"] - WIDTH) <= 2, fixed  # the fallback width, not 0 and not the area
    assert lab.page.evaluate("1 + 1") == 2  # the page still answers
