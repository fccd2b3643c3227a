"""Hostile model replies for the markup tests: HTML/JS payloads a steered model could write.

Shared by the unit tests (tests/hostile), the kernel tests and the browser test. Each payload's
script, if it ever ran, would announce itself: ``window.__dbchat_pwned``, ``document.title``, a
request to ``beacon`` and/or an ``alert`` — the browser test watches all four. Import it as
``from hostile.markup_payloads import payloads`` (``tests/`` is on ``sys.path``).
"""

from __future__ import annotations

import base64
import urllib.parse

SENTINEL_TITLE = "PWNED"


def js(name: str, beacon: str) -> str:
    """A script that marks the page as owned by payload ``name`` (no double quotes inside)."""
    return (f"window.__dbchat_pwned='{name}';document.title='{SENTINEL_TITLE}-{name}';"
            f"fetch('{beacon}/{name}')")


def payloads(beacon: str = "http://127.0.0.1:9/beacon") -> list[tuple[str, str]]:
    """(name, model text) pairs; ``beacon`` is a URL whose requests a test can see."""
    def j(name: str) -> str:
        return js(name, beacon)

    b64 = base64.b64encode(f"<script>{j('data-b64')}</script>".encode()).decode()
    svg = base64.b64encode(f'<svg xmlns="http://www.w3.org/2000/svg" onload="{j("svg-img")}"/>'
                           .encode()).decode()
    quoted = urllib.parse.quote(f"<script>{j('data-url')}</script>")
    ent = "".join(f"&#{ord(c)};" for c in "javascript")
    found = [
        ("img-onerror", f'<img src=x onerror="{j("img-onerror")}">'),
        ("img-upper", f'<IMG SRC=x ONERROR="{j("img-upper")}">'),
        ("img-unclosed", f'<img src=x onerror="{j("img-unclosed")}"'),
        ("svg-onload", f'<svg onload="{j("svg-onload")}"></svg>'),
        ("svg-script", f"<svg><script>{j('svg-script')}</script></svg>"),
        ("script", f"<script>{j('script')}</script>"),
        ("script-src", f'<script src="{beacon}/script-src.js"></script>'),
        ("iframe-js", f'<iframe src="javascript:{j("iframe-js")}"></iframe>'),
        ("iframe-srcdoc", f'<iframe srcdoc="&lt;script&gt;{j("iframe-srcdoc")}&lt;/script&gt;">'
                          "</iframe>"),
        ("style-beacon", f"<style>body{{background:url({beacon}/style-beacon)}}</style>"),
        ("style-attr", f'<p style="background:url({beacon}/style-attr)">styled</p>'),
        ("meta-refresh", f'<meta http-equiv="refresh" content="0;url=javascript:{j("meta")}">'),
        ("object", f'<object data="data:text/html;base64,{b64}"></object>'),
        ("embed", f'<embed src="data:text/html;base64,{b64}">'),
        ("form", f'<form action="javascript:{j("form")}"><button>go</button></form>'),
        ("details-ontoggle", f'<details open ontoggle="{j("details-ontoggle")}">x</details>'),
        ("input-autofocus", f'<input autofocus onfocus="{j("input-autofocus")}">'),
        ("body-onload", f'<body onload="{j("body-onload")}">'),
        ("base-href", '<base href="javascript:alert(1)//">'),
        ("link-import", f'<link rel="stylesheet" href="{beacon}/link-import.css">'),
        ("a-onclick", f'<a href="https://example.com" onclick="{j("a-onclick")}">ok?</a>'),
        ("a-js-entity", f'<a href="&#x6A;avascript:{j("a-js-entity")}">x</a>'),
        ("md-js-link", f"[click](javascript:{j('md-js-link')})"),
        ("md-js-case", f"[click](JaVaScRiPt:{j('md-js-case')})"),
        ("md-js-tab", f"[click](java&#09;script:{j('md-js-tab')})"),
        ("md-js-entities", f"[click]({ent}:{j('md-js-entities')})"),
        ("md-js-space", f"[click]( javascript:{j('md-js-space')})"),
        ("md-js-angle", f"[click](<javascript:{j('md-js-angle')}>)"),
        ("md-js-zwsp", f"[click](java\u200bscript:{j('md-js-zwsp')})"),
        ("md-js-nul", f"[click](java\x00script:{j('md-js-nul')})"),
        ("md-data-link", f"[click](data:text/html;base64,{b64})"),
        ("md-data-url", f"[click](data:text/html,{quoted})"),
        ("md-vbscript", "[click](vbscript:msgbox(1))"),
        ("md-reference", f"[click][evil]\n\n[evil]: javascript:{j('md-reference')}"),
        ("md-autolink", f"<javascript:{j('md-autolink')}>"),
        ("md-image-js", f"![pic](javascript:{j('md-image-js')})"),
        ("md-image-beacon", f"![pic]({beacon}/md-image-beacon.png)"),
        ("md-image-svg", f"![pic](data:image/svg+xml;base64,{svg})"),
        ("md-image-ref", f"![pic][img]\n\n[img]: {beacon}/md-image-ref.png"),
        ("md-title", f'[ok](https://example.com "x\\" onmouseover=\\"{j("md-title")}")'),
        ("md-link-quote", f'[ok](https://example.com"onmouseover="{j("md-link-quote")})'),
        ("table", "| a | b |\n|---|---|\n"
                  f'| <img src=x onerror="{j("table")}"> | [x](javascript:{j("table-link")}) |'),
        ("table-code-pipe", "| a | b |\n|---|---|\n"
                            f'| `x|<img src=x onerror="{j("table-code-pipe")}">` | y |'),
        ("heading", f"# <script>{j('heading')}</script> <img src=x onerror=\"{j('h-img')}\">"),
        ("code-span", f'`<img src=x onerror="{j("code-span")}">`'),
        ("code-fence-info", f'```"><img src=x onerror="{j("code-fence-info")}">\ncode\n```'),
        ("comment", f'<!-- --><img src=x onerror="{j("comment")}"><!-- -->'),
        ("comment-hidden", f'<!--<img src=x onerror="{j("comment-hidden")}">-->'),
        ("cdata", f'<![CDATA[<img src=x onerror="{j("cdata")}">]]>'),
        ("nested", f'<div><p><b><img src=x onerror="{j("nested")}"'),
        ("mxss-math", f'<math><mtext><table><mglyph><style><img src=x onerror="{j("mxss")}">'),
        ("noscript", f'<noscript><p title="</noscript><img src=x onerror={j("noscript")}>">'),
        ("long-s", f'<ſvg onload="{j("long-s")}">'),
        ("math-html", f"$<img src=x onerror=\"{j('math-html')}\">$"),
        ("math-block", f"$$\n<script>{j('math-block')}</script>\n$$"),
        ("mathjax-href", f"$\\href{{javascript:{j('mathjax-href')}}}{{click}}$"),
        ("mathjax-html", "$\\class{jp-Dialog}{x} \\unicode{<img src=x onerror=alert(1)>}$"),
        ("escaped-entities", f"&lt;img src=x onerror=&quot;{j('escaped')}&quot;&gt;"),
        ("osc8-link", f"\x1b]8;;javascript:{j('osc8')}\x1b\\click\x1b]8;;\x1b\\"),
        ("list-item", f'- item <img src=x onerror="{j("list-item")}">\n- [x](javascript:1)'),
        ("blockquote", f'> <img src=x onerror="{j("blockquote")}">'),
    ]
    return found


def combined(beacon: str, names: list[str] | None = None) -> str:
    """Many payloads in one answer, each on its own paragraph (one simulator reply)."""
    chosen = [(n, t) for n, t in payloads(beacon) if names is None or n in names]
    return "\n\n".join(f"**{n}**:\n\n{t}" for n, t in chosen) + "\n\nend-of-payloads"


def hostile_field_spec(beacon: str, frame: str) -> str:
    """A chart spec whose field name and title are HTML (echoed in the spec error line)."""
    field = f"<img src=x onerror=fetch('{beacon}/spec-field')>"
    return ('```json\n{"widget": "chart", "data": "' + frame + '", "mark": "bar", '
            '"title": "<script>alert(1)</script>", '
            '"x": {"field": "' + field + '", "type": "nominal"}, '
            '"y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}}\n```')
