"""Rendered specs in a real headless Chromium with no network: the interactive HTML renderer
(Vega bundle inlined) draws marks, and no output asks for anything outside the page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from dbchat_magic.specs import render_spec

pytestmark = pytest.mark.e2e
CHROMIUM = os.environ.get("DBCHAT_E2E_CHROMIUM", "/usr/bin/chromium")
SPEC = {"widget": "chart", "data": "sales", "mark": "bar",
        "x": {"field": "region", "type": "nominal"},
        "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"])
        yield b
        b.close()


@pytest.fixture
def ns() -> dict:
    return {"sales": pd.DataFrame({"region": ["EU", "US", "APAC", "EU", "LATAM"],
                                   "revenue": [1.0, 2.0, 3.0, 4.0, 5.0]})}


def _load(browser, html: str) -> tuple[object, list[str], list[str]]:
    page = browser.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_content(f"<html><body>{html}</body></html>", wait_until="load")
    return page, requests, errors


@pytest.mark.parametrize("twice", [False, True])
def test_interactive_html_draws_bars_offline(browser, ns, twice):
    html = render_spec(SPEC, ns, renderer="html").mimebundle["text/html"]
    if twice:  # two charts on one page: unique targets, the bundle defined once
        html += render_spec({**SPEC, "mark": "point"}, ns, renderer="html").mimebundle["text/html"]
    page, requests, errors = _load(browser, html)
    page.wait_for_selector("svg.marks", timeout=30_000)
    bars = page.locator('path[role="graphics-symbol"]')
    labels = [bars.nth(i).get_attribute("aria-label") for i in range(bars.count())]
    assert "region: EU; sum of revenue: 5" in labels
    assert page.locator("svg.marks").count() == (2 if twice else 1)
    assert errors == []
    assert [u for u in requests if not u.startswith(("about:", "data:"))] == []
    page.close()


def test_static_svg_shows_in_the_browser(browser, ns):
    svg = render_spec(SPEC, ns).mimebundle["image/svg+xml"]
    page, requests, errors = _load(browser, svg)
    marks = page.locator('path[role="graphics-symbol"]')
    assert marks.count() == 4
    assert page.locator("text", has_text="sum of revenue").count() == 1
    assert errors == [] and [u for u in requests if not u.startswith("about:")] == []
    page.close()
