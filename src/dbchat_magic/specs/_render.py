"""`render_spec`: validate → compile → cap and clean → an offline mimebundle (SVG by default), drawn
in the render worker process. Never raises for bad input, never executes anything, never fetches
(vl-convert runs with no allowed base URLs), never renders in the kernel process."""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dbchat_magic.config import CHART_RENDERERS
from dbchat_magic.specs._kept import KeptChart
from dbchat_magic.specs._validate import MAX_ERRORS, resolve_frame, validate_spec

RENDERERS = CHART_RENDERERS
"""Offline chart renderers: SVG (default), PNG, interactive HTML with the Vega bundle inlined,
the Vega-Lite v5 mimetype (+ SVG fallback; "vega" is an alias) and plain text."""
Kind = Literal["chart", "table", "kpi", "vega-lite", "error"]
VEGALITE_V5 = "application/vnd.vegalite.v5+json"
DRAW_FAILED = "the chart could not be drawn ("
"""How every renderer crash/limit message starts (see `specs.worker`)."""


@dataclass(slots=True)
class RenderedSpec:
    """What to show under an answer: ``mimebundle`` (empty when rejected), notes and errors.

    ``display(rendered)`` shows the chart/table/KPI, or the errors when the spec was rejected.
    """

    kind: Kind
    mimebundle: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    vegalite: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when something was rendered (no errors)."""
        return not self.errors

    @property
    def draw_failed(self) -> bool:
        """True when a valid spec could not be drawn (renderer crash or limit): a retry in the
        same answer would only fail again."""
        return bool(self.errors) and self.errors[0].startswith(DRAW_FAILED)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return self.mimebundle or error_bundle(self.errors)

    def kept_chart(self) -> KeptChart | None:
        """The drawn chart as a `KeptChart` (Altair ``.chart``, pandas ``.data``), else None."""
        if self.kind not in ("chart", "vega-lite") or not self.ok or self.vegalite is None:
            return None
        return KeptChart(self.vegalite, self.kind)


def error_bundle(errors: list[str], what: str = "Chart") -> dict[str, Any]:
    """A short text/HTML message listing ``errors`` (for showing a rejected spec on its own)."""
    text = f"{what} not shown:\n" + "\n".join(f"- {e}" for e in errors)
    body = "<div class=\"dbchat-spec-error\" style=\"color:#a33\"><b>" + html.escape(
        f"{what} not shown") + "</b><ul>" + "".join(
        f"<li><code>{html.escape(e)}</code></li>" for e in errors) + "</ul></div>"
    return {"text/plain": text, "text/html": body}


def _error(errors: list[str]) -> RenderedSpec:
    """A rejected spec: no mimebundle (views list ``errors`` themselves), at most three errors."""
    return RenderedSpec("error", {}, [], errors[:MAX_ERRORS])


def _vl_version() -> str:
    """The Vega-Lite version the worker draws with: v5, as JupyterLab 4's own renderer."""
    from dbchat_magic.specs._render_worker import VL_VERSION

    return VL_VERSION


def _to_v5(vl: dict[str, Any]) -> dict[str, Any]:
    return {**vl, "$schema": "https://vega.github.io/schema/vega-lite/v5.json"}


def _interactive_html(vl: dict[str, Any], bundle_js: str) -> str:
    """A self-contained HTML snippet: the Vega bundle inlined, a unique div, no external script."""
    div = f"dbchat-vl-{uuid.uuid4().hex[:12]}"
    spec = json.dumps(vl).replace("</", "<\\/")
    return (f'<div id="{div}"></div><script type="text/javascript">'
            f"if(!window.vegaEmbed){{{bundle_js}}}</script>"
            f'<script type="text/javascript">vegaEmbed("#{div}", {spec}, '
            '{"renderer":"svg","actions":false}).catch(console.error);</script>')


def chart_bundle(vl: dict[str, Any], renderer: str, alt_text: str,
                 static: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Mimebundle for a compiled, cleaned Vega-Lite dict with the chosen offline renderer.

    ``static``: the variant for images (fixed width, neutral colours), ``vl`` itself when None.
    "vegalite" (the default) gives the interactive Vega-Lite v5 mimetype and the static SVG in one
    output. Drawing happens in the render worker process (`specs.worker`); raises `RenderFailed`
    when it crashed or hit a limit and `RenderError` when vl-convert rejected the spec. When the
    worker cannot start, the Vega-Lite v5 mimetype is shown with a note (never an in-process
    render).
    """
    from dbchat_magic.specs._worker import RendererUnavailable, shared_worker

    notes: list[str] = []
    image = vl if static is None else static
    bundle: dict[str, Any] = {"text/plain": alt_text}
    if renderer == "text":
        bundle["text/plain"] = f"{alt_text}\n{_text_rows(vl)}"
        return bundle, notes
    worker = shared_worker()
    try:
        if renderer == "png":
            bundle["image/png"] = worker.png(image, _vl_version(), scale=2)
        elif renderer == "html":
            bundle["text/html"] = _interactive_html(image, worker.javascript_bundle())
        elif renderer in ("vegalite", "vega"):
            bundle[VEGALITE_V5] = _to_v5(vl)
            bundle["image/svg+xml"] = worker.svg(image, _vl_version())
        else:
            if renderer != "svg":
                notes.append(f"unknown chart_renderer {renderer!r}; used svg "
                             f"({', '.join(RENDERERS)})")
            bundle["image/svg+xml"] = worker.svg(image, _vl_version())
    except RendererUnavailable as exc:
        return {"text/plain": alt_text, VEGALITE_V5: _to_v5(vl)}, [
            f"The chart renderer is unavailable ({exc}): showing the Vega-Lite v5 mimetype only "
            "(pip install vl-convert-python for offline static charts)."]
    return bundle, notes


def _text_rows(vl: dict[str, Any], limit: int = 20) -> str:
    """The embedded data as an aligned text table (first ``limit`` rows)."""
    from dbchat_magic.specs._records import csv_values

    rows = csv_values(vl.get("data") or {})
    if not rows:
        return ""
    cols = list(rows[0])
    cells = [[("" if r[c] is None else f"{r[c]:,.6g}" if isinstance(r[c], float) else str(r[c]))
              for c in cols] for r in rows[:limit]]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    if len(rows) > limit:
        lines.append(f"… {len(rows) - limit:,} more rows")
    return "\n".join(line.rstrip() for line in lines)


def _alt_text(spec: dict[str, Any], rows: int) -> str:
    title = spec.get("title")
    if spec["widget"] == "vega-lite":
        return f"Vega-Lite chart of {spec['data']}" + (f": {title}" if title else "")
    from dbchat_magic.specs._compile import channel_title

    desc = title or f"{channel_title(spec['y'])} by {channel_title(spec['x'])}"
    return f"{spec['mark']} chart of {spec['data']}: {desc} ({rows:,} points)"


def _render_vegalite(spec: dict[str, Any], info: Any, renderer: str) -> RenderedSpec:
    from dbchat_magic.specs._plan import Plan
    from dbchat_magic.specs._records import to_records
    from dbchat_magic.specs._vegalite_guard import referenced_fields
    from dbchat_magic.specs.engines import run_plan

    vl = dict(spec["spec"])
    fields, made = referenced_fields(vl)
    used = {f.split(".")[0] for f in fields - made}
    cols = sorted(used & set(info.columns)) or list(info.columns)
    res = run_plan(info, Plan(fields=[(c, c) for c in cols], sample=True))
    notes = [f"Showing a random sample of {len(res.frame):,} of {res.total:,} rows."
             ] if res.sampled else []
    vl["data"] = {"values": to_records(res.frame)}
    vl["$schema"] = "https://vega.github.io/schema/vega-lite/v5.json"  # a label, never fetched
    if spec.get("title"):
        vl["title"] = spec["title"]
    return _draw("vega-lite", vl, renderer, _alt_text(spec, len(res.frame)), notes)


def _draw(kind: Kind, vl: dict[str, Any], renderer: str, alt_text: str,
          notes: list[str]) -> RenderedSpec:
    """Cap, clean and draw a Vega-Lite dict: every string the renderer sees is XML-safe, and a
    renderer crash or limit becomes a short error (the kernel is never at risk)."""
    from dbchat_magic.specs._caps import cap_errors
    from dbchat_magic.specs._textclean import clean_text, clean_tree
    from dbchat_magic.specs._vl_build import static_variant
    from dbchat_magic.specs._worker import RenderError, RenderFailed

    errors = cap_errors(vl)
    if errors:
        return _error([clean_text(e) for e in errors])
    vl = clean_tree(vl)
    static = static_variant(vl) if kind == "chart" else None
    try:
        bundle, more = chart_bundle(vl, renderer, clean_text(alt_text), static)
    except RenderError as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else "failed"
        return _error([f"spec: Vega-Lite could not render it: {first}"])
    except RenderFailed as exc:
        return _error([str(exc)])
    return RenderedSpec(kind, bundle, notes + more, [], vl)


def render_spec(spec: Any, namespace: Mapping[str, Any], *, renderer: str = "svg") -> RenderedSpec:
    """Validate and render one spec; bad input gives kind "error" with at most 3 lines."""
    from dbchat_magic.specs._compile import EmptyResult, compile_chart
    from dbchat_magic.specs._widgets import compile_kpi, compile_table

    errors = validate_spec(spec, namespace)
    if errors:
        return _error(errors)
    info = resolve_frame(spec, namespace)
    if isinstance(info, str):  # validate_spec resolved it already; kept for the type
        return _error([info])
    widget = spec["widget"]
    try:
        if widget == "table":
            bundle, notes, _rows = compile_table(spec, info)
            return RenderedSpec("table", bundle, notes)
        if widget == "kpi":
            bundle, notes, _value = compile_kpi(spec, info)
            return RenderedSpec("kpi", bundle, notes)
        if widget == "vega-lite":
            return _render_vegalite(spec, info, renderer)
        compiled = compile_chart(spec, info)
        return _draw("chart", compiled.vegalite, renderer, _alt_text(spec, compiled.rows),
                     compiled.notes)
    except EmptyResult as exc:
        return _error([str(exc)])
    except Exception as exc:  # a frame engine failed (e.g. Spark): report it, never raise
        msg = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        return _error([f"data: could not compute the {widget}: {type(exc).__name__}: {msg}"])
