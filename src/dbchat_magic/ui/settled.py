"""What an answer leaves in the notebook once it ends: plain outputs with stable text/plain."""

from __future__ import annotations

import base64
import html
import re
from typing import Any

from dbchat_magic.result import ChatResult
from dbchat_magic.ui.error_hints import explain_error
from dbchat_magic.ui.metrics_format import STATUS_ICONS, STATUS_WORDS, format_metrics


class SettledLine:
    """A one-line output shown as Markdown, with the same text as its plain repr (nbval-stable)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_markdown_(self) -> str:
        return f"<small>{self.text}</small>"

    def __repr__(self) -> str:
        return self.text


class SpecOutput:
    """A rendered chart/table/KPI mimebundle; stable text/plain (``<dbchat chart>``) if absent."""

    def __init__(self, kind: str, mimebundle: dict[str, Any]) -> None:
        self.kind = kind
        self.mimebundle = dict(mimebundle)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = dict(self.mimebundle)
        bundle.setdefault("text/plain", repr(self))
        return bundle

    def __repr__(self) -> str:
        return f"<dbchat {self.kind or 'spec'}>"

    def as_markdown(self) -> str:
        """The spec as Markdown with inline HTML (an image as a data URI, a table/KPI as HTML).

        For an output that can hold only one Markdown entry (a --background cell's reserved
        output); interactive HTML (scripts) gives way to the static image or the text.
        """
        bundle = self.mimebundle
        plain = str(bundle.get("text/plain") or repr(self))
        alt = html.escape(plain.splitlines()[0] if plain else repr(self), quote=True)
        if isinstance(bundle.get("image/svg+xml"), str):
            data = base64.b64encode(bundle["image/svg+xml"].encode("utf-8")).decode("ascii")
            return f'<img alt="{alt}" src="data:image/svg+xml;base64,{data}">'
        if isinstance(bundle.get("image/png"), str):
            return f'<img alt="{alt}" src="data:image/png;base64,{bundle["image/png"]}">'
        markup = bundle.get("text/html")
        if isinstance(markup, str) and "<script" not in markup.lower():
            # one HTML block: a blank line inside would end it and turn the rest into Markdown
            return "<div>" + re.sub(r"\n\s*\n", "\n", markup.strip()) + "</div>"
        fence = "````" if "```" in plain else "```"
        return f"{fence}\n{plain}\n{fence}"


def fold_spec_json(text: str) -> str:
    """Fold the spec JSON blocks of an answer into ``<details>`` so the prose reads cleanly."""
    try:
        from dbchat_magic.specs.describe import replace_specs
    except ImportError:
        return text

    def fold(_spec: dict[str, Any], block: str) -> str:
        block = block.strip("\n")
        if not block.lstrip().startswith(("```", "~~~")):
            block = f"```json\n{block.strip()}\n```"
        return f"\n<details><summary>chart spec (JSON)</summary>\n\n{block}\n\n</details>\n"

    return replace_specs(text, fold)


def status_line(result: ChatResult) -> str:
    """``"■ stopped: <why> — <next step>"`` for an answer that did not complete, else ""."""
    if result.ok:
        return ""
    word = STATUS_WORDS.get(result.status, result.status)
    icon = STATUS_ICONS.get(result.status, "·")
    return f"{icon} {word}: {explain_error(result.error, status=result.status)}"


def spec_outputs(result: ChatResult) -> list[Any]:
    """Rendered specs from ``result.extras["specs"]``, their notes/errors, the repair note."""
    items: list[Any] = []
    for rendered in result.extras.get("specs") or ():
        bundle = getattr(rendered, "mimebundle", None)
        if bundle:
            items.append(SpecOutput(getattr(rendered, "kind", "spec"), bundle))
        for note in getattr(rendered, "notes", None) or ():
            items.append(SettledLine(f"note: {note}"))
        for error in getattr(rendered, "errors", None) or ():
            items.append(SettledLine(f"chart not drawn: {error}"))
    if result.extras.get("repaired"):
        items.append(SettledLine(repair_note(result.extras.get("repair") or {})))
    return items


def repair_note(repair: dict[str, Any]) -> str:
    """What the repair turn fixed, in one line (the drawn chart is the repaired spec; the answer's
    JSON above still shows the spec as first written)."""
    fixed = "; ".join(str(e) for e in repair.get("errors_before") or ())
    if len(fixed) > 200:
        fixed = fixed[:199] + "…"
    return ("note: the chart shows the repaired spec" + (f" (fixed: {fixed})" if fixed else "")
            + "; the JSON above is as the model first wrote it")


def settled_outputs(result: ChatResult) -> list[Any]:
    """Markdown answer, spec outputs, a status line when not completed, and the metrics line."""
    from IPython.display import Markdown

    items: list[Any] = []
    if result.text:
        folded = fold_spec_json(result.text) if result.extras.get("specs") else result.text
        items.append(Markdown(folded))
    items.extend(spec_outputs(result))
    line = status_line(result)
    if line:
        items.append(SettledLine(line))
    metrics = format_metrics(result)
    if metrics:
        items.append(SettledLine(metrics))
    return items
