"""No HTML or script from a model reply ever runs in JupyterLab, live or after save + reload.

The simulator answers with ~60 HTML/JS payloads (tests/hostile/markup_payloads.py) in one reply,
in a blocking cell, ``%dbchat last``, a ``--background`` cell and a ChatPanel. Every payload's
script would announce itself four ways: ``window.__dbchat_pwned``, ``document.title``, an
``alert()`` (a Playwright dialog handler records it) and a request to a sentinel HTTP server on
the loopback (its request log must stay empty; images pointing there must never load). After the
answers the notebook is saved (JupyterLab signs it: the saved file is trusted), the kernel shut
down and the page reloaded: the same four checks run against what the saved file renders. The
rendered DOM is also scanned for elements and attributes no sanitized answer may hold.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from dbchat_page import FAILED_MARK, QUESTION_BOX, SEND_BUTTON
from labdriver import ARTIFACTS, LabServer, NotebookPage, wait_for

from hostile.html_check import PACKAGE_CSS, package_violations
from hostile.markup_payloads import SENTINEL_TITLE, combined, hostile_field_spec, payloads

pytestmark = pytest.mark.e2e

TAIL = "end-of-payloads"
FORMATTED = """# Revenue report

Some **bold**, *italic*, ~~struck~~ and `inline code`, a [link](https://example.com/r).

| region | revenue |
|:-------|--------:|
| EMEA   | 1,200   |
| APAC   | 900     |

- first
- second with `code`

```python
df.groupby("region")["revenue"].sum()  # x < y
```

Inline math $a_1 * b_2 = c_{10}$ and a display formula:

$$
\\sum_{i=1}^n x_i^2
$$
"""
CELLS = [
    "%load_ext dbchat_magic\nimport pandas as pd\n"
    "hsales = pd.DataFrame({'region': ['EU', 'US'], 'revenue': [1.0, 2.0]})",
    "%%dbchat -d hsales\nhostile-cell please",
    "%dbchat last",
    "%%dbchat --background -d hsales\nhostile-background please",
    "from dbchat_magic import ChatPanel\npanel = ChatPanel(list_endpoints=False)\npanel",
    "%%dbchat\nformatting-sample please",
]
BLOCKING, LAST, BACKGROUND, PANEL, FORMAT = 1, 2, 3, 4, 5

# Anything in the rendered outputs that a sanitized answer can never contain.
_DOM_SCAN_JS = """(packageCss) => {
  const bad = [];
  const rendered = '.jp-RenderedHTMLCommon, .jp-RenderedMarkdown, .widget-html-content';
  const banned = ['script', 'iframe', 'object', 'embed', 'form', 'input', 'meta', 'base', 'link',
                  'style', 'frame', 'frameset', 'noscript', 'img', 'svg', 'video', 'audio'];
  for (const area of document.querySelectorAll('.jp-Cell-outputArea')) {
    for (const el of area.querySelectorAll('*')) {
      const tag = el.tagName.toLowerCase();
      const own = tag === 'style' && packageCss.includes(el.textContent);  // the panel's CSS
      if (banned.includes(tag) && el.closest(rendered) && !el.closest('mjx-container') && !own) {
        bad.push('<' + tag + '>');
      }
      for (const attr of el.getAttributeNames()) {
        const value = el.getAttribute(attr) || '';
        if (attr.startsWith('on')) bad.push(tag + '[' + attr + ']');
        if (['href', 'src', 'action', 'formaction', 'xlink:href', 'srcdoc', 'data'].includes(attr)
            && /^\\s*(javascript|vbscript|data:)/i.test(value)) {
          bad.push(tag + '[' + attr + '=' + value.slice(0, 40) + ']');
        }
      }
    }
  }
  return bad;
}"""


class _Sentinel:
    """A loopback HTTP server that records every request (a payload's fetch or image)."""

    def __init__(self) -> None:
        hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.hits = hits
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/beacon"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sentinel() -> Iterator[_Sentinel]:
    server = _Sentinel()
    try:
        yield server
    finally:
        server.close()


def _assert_nothing_ran(lab: NotebookPage, sentinel: _Sentinel, dialogs: list[str],
                        when: str) -> None:
    page = lab.page
    assert dialogs == [], f"{when}: alert() ran: {dialogs}"
    assert page.evaluate("window.__dbchat_pwned") is None, f"{when}: a payload ran"
    assert not page.title().startswith(SENTINEL_TITLE), f"{when}: title {page.title()!r}"
    assert sentinel.hits == [], f"{when}: the page called the sentinel: {sentinel.hits}"
    bad = page.evaluate(_DOM_SCAN_JS, list(PACKAGE_CSS))
    assert bad == [], f"{when}: outputs hold unsafe markup: {bad}"


def _saved_markup(saved: dict[str, Any]) -> list[str]:
    """Every HTML string in the saved notebook: cell outputs and saved widget state."""
    found: list[str] = []
    for cell in saved["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert "text/markdown" not in data, f"a Markdown output was saved: {str(data)[:200]}"
            if "text/html" in data:
                found.append("".join(data["text/html"]))
    state = (saved["metadata"].get("widgets") or {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for model in state.values():
        values = model.get("state", {})
        for entry in values.get("outputs") or ():
            found.append("".join(entry.get("data", {}).get("text/html", "")))
        if isinstance(values.get("value"), str) and "<" in values["value"]:
            found.append(values["value"])
    return found


def test_no_payload_runs_live_or_after_save_and_reload(lab: NotebookPage, lab_server: LabServer,
                                                       sentinel: _Sentinel):
    sim = lab_server.sim
    answer = combined(sentinel.url) + "\n\n" + hostile_field_spec(sentinel.url, "hsales")
    for tag in ("hostile-cell", "hostile-background", "hostile-panel"):
        sim.script(tag, answer)
    sim.script("formatting-sample", FORMATTED)
    dialogs: list[str] = []
    lab.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    name = lab_server.write_notebook("hostile", CELLS)
    lab.open(name)
    for index in (0, BLOCKING, LAST):
        lab.run_cell(index, timeout=90)
    _assert_nothing_ran(lab, sentinel, dialogs, "blocking cell and %dbchat last")
    assert TAIL in lab.output_text(LAST)
    for index in (BACKGROUND, PANEL):
        lab.run_cell(index, timeout=90)
    wait_for(lambda: TAIL in lab.output_text(BACKGROUND) and "tokens" in lab.output_text(
        BACKGROUND), 60, "the background answer to settle")
    panel = lab.cell(PANEL)
    panel.locator(QUESTION_BOX).first.fill("hostile-panel please")
    panel.locator(SEND_BUTTON).first.click()

    def panel_done() -> bool:
        shown = lab.output_text(PANEL)
        assert FAILED_MARK not in shown, shown
        return TAIL in shown and "tokens" in shown

    wait_for(panel_done, 60, "the panel's answer to end")
    lab.run_cell(FORMAT, timeout=60)
    for index in (BLOCKING, LAST, BACKGROUND, PANEL):
        assert TAIL in lab.output_text(index), f"cell {index} shows no answer"
    assert "no column \"<img src=x" in lab.output_text(BLOCKING)  # the field name, as text
    shown = lab.output_text(BLOCKING)
    assert len([n for n, _ in payloads() if f"{n}:" in shown]) >= 30  # the payloads are on screen
    lab.cell(FORMAT).scroll_into_view_if_needed()
    lab.screenshot("09a-hostile-live")
    lab.cell(FORMAT).screenshot(path=str(ARTIFACTS / "09b-formatting-cell.png"))
    _assert_nothing_ran(lab, sentinel, dialogs, "live")
    formatted = lab.output(FORMAT)
    assert formatted.locator("h1", has_text="Revenue report").count() == 1
    assert formatted.locator("table td", has_text="1,200").count() == 1
    assert formatted.locator("pre code").count() == 1 and formatted.locator("strong").count()
    assert formatted.locator("mjx-container, .MathJax").count() >= 2, "the math was not typeset"

    saved = lab.save(name)
    markup = _saved_markup(saved)
    assert sum(TAIL in m for m in markup) >= 3, "the saved notebook lost answers"
    for piece in markup:
        bad = package_violations(piece)
        assert not bad, f"saved markup outside the allow-list: {bad}\n{piece[:2000]}"
    lab_server.shutdown_kernels()
    lab.reload()
    wait_for(lambda: TAIL in lab.output_text(BLOCKING) and TAIL in lab.output_text(BACKGROUND),
             60, "the saved answers to show again after reload")
    wait_for(lambda: lab.cell(FORMAT).locator("mjx-container, .MathJax").count() >= 2, 30,
             "the saved math to be typeset again")
    lab.screenshot("09c-hostile-after-reload")
    _assert_nothing_ran(lab, sentinel, dialogs, "after save + reload")
