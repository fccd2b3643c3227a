"""Rendered specs in a real headless Chromium with no network: the interactive HTML renderer
(Vega bundle inlined) draws marks, and no output asks for anything outside the page.

Playwright runs in a child process (its sync API keeps an event loop in the calling thread,
which must not leak into the rest of the test session)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dbchat_magic.specs import render_spec

pytestmark = pytest.mark.e2e
CHROMIUM = os.environ.get("DBCHAT_E2E_CHROMIUM", "/usr/bin/chromium")
SPEC = {"widget": "chart", "data": "sales", "mark": "bar",
        "x": {"field": "region", "type": "nominal"},
        "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}}
PROBE = r"""
import json, sys
from playwright.sync_api import sync_playwright

chromium, html_path, wait = sys.argv[1], sys.argv[2], sys.argv[3] == "wait"
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, args=[
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"])
    page = browser.new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_content(open(html_path, encoding="utf-8").read(), wait_until="load")
    if wait:
        page.wait_for_selector("svg.marks", timeout=60_000)
    marks = page.locator('path[role="graphics-symbol"]')
    print(json.dumps({
        "labels": [marks.nth(i).get_attribute("aria-label") for i in range(marks.count())],
        "charts": page.locator("svg.marks").count(),
        "titles": page.locator("text", has_text="sum of revenue").count(),
        "requests": [u for u in requests if not u.startswith(("about:", "data:"))],
        "errors": errors}))
    browser.close()
"""


@pytest.fixture
def ns() -> dict:
    return {"sales": pd.DataFrame({"region": ["EU", "US", "APAC", "EU", "LATAM"],
                                   "revenue": [1.0, 2.0, 3.0, 4.0, 5.0]})}


def _probe(tmp_path: Path, body: str, *, wait: bool) -> dict:
    pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    page = tmp_path / "page.html"
    page.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", PROBE, CHROMIUM, str(page),
                          "wait" if wait else "now"],
                         capture_output=True, text=True, timeout=240, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("twice", [False, True])
def test_interactive_html_draws_bars_offline(tmp_path, ns, twice):
    html = render_spec(SPEC, ns, renderer="html").mimebundle["text/html"]
    if twice:  # two charts on one page: unique targets, the bundle defined once
        html += render_spec({**SPEC, "mark": "point"}, ns, renderer="html").mimebundle["text/html"]
    seen = _probe(tmp_path, html, wait=True)
    assert "region: EU; sum of revenue: 5" in seen["labels"]
    assert seen["charts"] == (2 if twice else 1)
    assert seen["errors"] == [] and seen["requests"] == []


def test_static_svg_shows_in_the_browser(tmp_path, ns):
    seen = _probe(tmp_path, render_spec(SPEC, ns).mimebundle["image/svg+xml"], wait=False)
    assert len(seen["labels"]) == 4 and seen["titles"] == 2  # the axis and the chart's title
    assert seen["errors"] == [] and seen["requests"] == []
