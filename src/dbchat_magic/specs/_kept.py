"""Charts to keep: each drawn chart as an Altair ``Chart`` that displays offline, and its data.

Altair (and its jsonschema) is imported only when ``.chart`` is read, never on the render path.
Displaying uses the renderer registered here ("dbchat"): the Vega-Lite v5 mimetype, which
JupyterLab 4 and VS Code draw with their own bundled Vega (no CDN), plus the static SVG from the
render worker for front ends that cannot. It is enabled only while Altair's renderer is still
its CDN-loading "default".
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

RENDERER = "dbchat"
VEGALITE_V5 = "application/vnd.vegalite.v5+json"
_SCHEMA_V5 = "https://vega.github.io/schema/vega-lite/v5.json"


def _inline_datasets(vl: dict[str, Any]) -> dict[str, Any]:
    """Put the data Altair hoisted into ``datasets`` back inline (one copy, at the top)."""
    vl = dict(vl)
    datasets = vl.pop("datasets", None) or {}
    data = vl.get("data")
    if isinstance(data, dict) and data.get("name") in datasets:
        vl["data"] = {**{k: v for k, v in data.items() if k != "name"},
                      "values": datasets[data["name"]]}
    elif datasets:
        vl["datasets"] = datasets
    return vl


def _offline_bundle(spec: dict[str, Any], **_meta: Any) -> dict[str, Any]:
    """Altair renderer: the v5 mimetype (inline data) and, when the worker can draw it, SVG."""
    from dbchat_magic.specs._render_worker import VL_VERSION
    from dbchat_magic.specs._textclean import clean_tree
    from dbchat_magic.specs._vl_build import static_variant
    from dbchat_magic.specs._worker import shared_worker

    vl = clean_tree({**_inline_datasets(spec), "$schema": _SCHEMA_V5})
    bundle: dict[str, Any] = {VEGALITE_V5: vl, "text/plain": "<dbchat chart>"}
    with contextlib.suppress(Exception):  # the mimetype alone still draws in JupyterLab
        bundle["image/svg+xml"] = shared_worker().svg(static_variant(vl), VL_VERSION)
    return bundle


def use_offline_renderer() -> Any:
    """Import Altair, register the offline renderer and enable it unless the user chose one."""
    import altair as alt

    if RENDERER not in alt.renderers.names():
        alt.renderers.register(RENDERER, _offline_bundle)
    if alt.renderers.active == "default":
        alt.renderers.enable(RENDERER)
    return alt


def frame_of(vl: dict[str, Any]) -> Any:
    """The chart's inline data as a pandas DataFrame (dates parsed as the chart parses them)."""
    import pandas as pd

    from dbchat_magic.specs._records import csv_values

    data = vl.get("data") or {}
    rows = csv_values(data) if isinstance(data.get("values"), str) else list(data.get("values")
                                                                          or [])
    frame = pd.DataFrame(rows)
    parse = (data.get("format") or {}).get("parse") or {}
    for col, how in parse.items():
        if isinstance(how, str) and how.startswith("date") and col in frame:
            frame[col] = pd.to_datetime(frame[col], errors="coerce")
    return frame


@dataclass(slots=True)
class KeptChart:
    """One drawn chart: ``vegalite`` (the dict, data inlined), ``chart`` (an Altair ``Chart``,
    built on first access), ``data`` (a pandas DataFrame) and ``title``."""

    vegalite: dict[str, Any]
    kind: str = "chart"

    @property
    def title(self) -> str:
        """The chart's title ("" when it has none)."""
        title = self.vegalite.get("title")
        return str(title.get("text", "") if isinstance(title, dict) else title or "")

    @property
    def chart(self) -> Any:
        """The chart as an Altair ``Chart`` (or layer chart) that displays offline."""
        alt = use_offline_renderer()
        return alt.Chart.from_dict(self.vegalite) if "layer" not in self.vegalite else (
            alt.LayerChart.from_dict(self.vegalite))

    @property
    def data(self) -> Any:
        """The data the chart shows, as a pandas DataFrame."""
        return frame_of(self.vegalite)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return _offline_bundle(self.vegalite)

    def __repr__(self) -> str:
        return f"<dbchat {self.kind}: {self.title or 'untitled'}>"
