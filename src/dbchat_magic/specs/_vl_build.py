"""Build the Vega-Lite dict of a validated chart spec directly (no Altair, no jsonschema in the
kernel): every key comes from a closed set written here, every value from the validated spec or the
aggregated frame, so the output is valid Vega-Lite v5 by construction (tests check it against the
Vega-Lite schema). Titles, labels and values stay data: Vega draws them as text and its tooltip
handler escapes them."""

from __future__ import annotations

from typing import Any

SCHEMA_V5 = "https://vega.github.io/schema/vega-lite/v5.json"
HEIGHT = 300
WIDTH = 320
"""Whole width of an interactive chart, axes and legend included (``autosize: fit``), where the
output area's width is not known; otherwise the chart takes the area's width (`FIT_PATCH`)."""
MIN_FIT = 200
"""A measured width below this is not the output area's (JupyterLab 4's vega-embed root is an
inline-block measuring 0 until `FIT_CSS` makes it a block): the chart keeps `WIDTH`."""
FIT_WIDTH = f"containerSize()[0] >= {MIN_FIT} ? containerSize()[0] : {WIDTH}"
FIT_PATCH: list[dict[str, Any]] = [{"op": "add", "path": "/signals", "value": [
    {"name": "width", "init": FIT_WIDTH,
     "on": [{"events": "window:resize", "update": FIT_WIDTH}]}]}]
"""A JSON patch of the compiled Vega spec (vega-embed's ``patch`` option, read from ``usermeta``):
the width follows the container, falling back to `WIDTH`. Not Vega-Lite's ``"width":
"container"``: in JupyterLab 4.6 (vega-embed 6) that measures the inline-block root, 0 px, and the
fit layout then hangs the page; with this signal a front end without `FIT_CSS` (an untrusted
notebook, whose ``<style>`` is sanitized away) or without the patch draws `WIDTH` wide. Builder
charts compile to no signals of their own (tests check it), so replacing ``/signals`` loses none."""
FIT_CSS = ".jp-RenderedVegaCommon5 > .vega-embed.fit-x { display: block; }"
"""Makes vega-embed's root (marked ``fit-x`` for a fit-sized chart shown without actions) a block
as wide as the output area, so `FIT_PATCH` measures the area (as a later vega-embed fix does)."""
STATIC_WIDTH = 480
"""Whole width of the static image (front ends scale images down to their output area)."""
ARC_SIZE = 300
SHORT_LABEL = 12
"""Nominal labels up to this many characters (and few enough to fit) are drawn horizontally."""
_LABEL_PX = 7.0
_FIT_PX = 280.0
_TIME = {  # spec time unit → (tick interval, months per tick, label format)
    "month": ("month", 1, "%b %Y"), "yearmonth": ("month", 1, "%b %Y"),
    "quarter": ("month", 3, "Q%q %Y"), "year": ("year", 1, "%Y"),
}
_BAND_UNITS = {"month": "yearmonth", "yearmonth": "yearmonth", "quarter": "yearquarter",
               "year": "year"}
_MAX_TICKS = 12
NEUTRAL = "#888888"
"""Axis, legend and title colour of the static image: legible on white and on a dark theme."""
STATIC_CONFIG: dict[str, Any] = {
    "background": "transparent",
    "view": {"stroke": NEUTRAL, "strokeOpacity": 0.4},
    "axis": {"labelColor": NEUTRAL, "titleColor": NEUTRAL, "domainColor": NEUTRAL,
             "tickColor": NEUTRAL, "gridColor": NEUTRAL, "gridOpacity": 0.3},
    "legend": {"labelColor": NEUTRAL, "titleColor": NEUTRAL},
    "title": {"color": NEUTRAL},
}
INTERACTIVE_CONFIG: dict[str, Any] = {"background": "transparent",
                                      "title": {"anchor": "start", "fontSize": 14}}
"""The interactive chart leaves colours to the front end's theme (JupyterLab picks Vega's dark
theme itself when its own theme is dark); the transparent background suits both."""


def time_axis(unit: str | None, points: int) -> dict[str, Any] | None:
    """Axis settings whose ticks match a month/quarter/year unit (at most ~12 ticks), else None."""
    if unit not in _TIME:
        return None
    interval, months, fmt = _TIME[unit]
    step = months * max(1, -(-points // _MAX_TICKS))
    if interval == "year":
        step = max(1, -(-points // _MAX_TICKS))
    return {"format": fmt, "tickCount": {"interval": interval, "step": step}}


def time_format(unit: str | None) -> str | None:
    """The label format of a month/quarter/year unit (None for finer units)."""
    return _TIME[unit][2] if unit in _TIME else None


def label_angle(labels: list[str]) -> int | None:
    """0 (horizontal) when every category label is short and they fit side by side, else None."""
    if not labels:
        return None
    longest = max(len(s) for s in labels)
    if longest <= SHORT_LABEL and len(labels) * (longest + 2) * _LABEL_PX <= _FIT_PX:
        return 0
    return None


def band_time_unit(unit: str | None) -> str | None:
    """The Vega-Lite time unit that gives bars one band per month/quarter/year (None otherwise)."""
    return _BAND_UNITS.get(unit) if unit else None


def default_title(spec: dict[str, Any], x_title: str, y_title: str) -> str:
    """The spec's title, or "<y> by <x>" (and "per <color>") derived from the fields."""
    if spec.get("title"):
        return str(spec["title"])
    title = f"{y_title} by {x_title}"
    color = spec.get("color")
    if isinstance(color, dict) and color.get("field"):
        title += f" per {color.get('title') or color['field']}"
    return title


def sized(vl: dict[str, Any], mark: str) -> dict[str, Any]:
    """``vl`` with its size: arcs square; others as wide as the output area (`FIT_PATCH`, else
    `WIDTH`) in all (fit: nothing is cut off)."""
    if mark == "arc":
        return {**vl, "width": ARC_SIZE, "height": ARC_SIZE}
    meta = vl.get("usermeta") or {}
    embed = {**meta.get("embedOptions", {}), "patch": FIT_PATCH}
    return {**vl, "width": WIDTH, "height": HEIGHT, "usermeta": {**meta, "embedOptions": embed},
            "autosize": {"type": "fit", "contains": "padding"}}


def static_variant(vl: dict[str, Any]) -> dict[str, Any]:
    """The same chart for a static image: neutral colours legible on light and dark."""
    out = {**vl, "config": {**STATIC_CONFIG, **{k: v for k, v in (vl.get("config") or {}).items()
                                                 if k not in STATIC_CONFIG}}}
    out["config"]["title"] = {**(vl.get("config") or {}).get("title", {}), "color": NEUTRAL}
    if out.get("width") == WIDTH:
        out["width"] = STATIC_WIDTH
    out.pop("usermeta", None)  # embed options (`FIT_PATCH`) mean nothing to an image
    return out


EMBED = {"embedOptions": {"renderer": "svg", "actions": False}}
"""Read by vega-embed (JupyterLab's renderer): draw as SVG (text stays text, searchable) and show no
actions menu (it offers "Open in Vega Editor", a web site); fit-sized charts add `FIT_PATCH`."""


def with_schema(body: dict[str, Any], data: dict[str, Any], title: str,
                mark: str) -> dict[str, Any]:
    """The top-level dict: schema, inline data, title, size and the interactive config."""
    vl = {"$schema": SCHEMA_V5, "data": data, "title": title, **body,
          "config": INTERACTIVE_CONFIG, "usermeta": EMBED}
    return sized(vl, mark)
