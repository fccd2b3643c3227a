"""What an answer leaves in the notebook once it ends: plain outputs with stable text/plain.

Every outside string reaches HTML only through `dbchat_magic.markup` (docs/design.md: trust): the
answer as sanitized HTML, one-line notes and errors escaped.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from dbchat_magic.markup import LiveMarkdown, clean_text, detached, escape, markdown_html
from dbchat_magic.result import ChatResult, step_line, steps_html
from dbchat_magic.ui._metrics_format import format_metrics
from dbchat_magic.ui._outcome import Outcome, outcome, outcome_line


def sent_text(text: str) -> str:
    """``clean_text(text)`` as a string of its own (`markup.detached`): the plain form an output
    sends, never the answer string a conversation keeps."""
    cleaned = clean_text(text)
    return cleaned if cleaned is not text else detached(text)


class SettledLine:
    """A one-line output shown small, with the same text as its plain repr (nbval-stable)."""

    def __init__(self, text: str) -> None:
        self.text = clean_text(text)

    def as_html(self) -> str:
        """The line as escaped HTML."""
        return f"<small>{escape(self.text)}</small>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/html": self.as_html(), "text/plain": self.text}

    def __repr__(self) -> str:
        return self.text


class OutcomeLine(SettledLine):
    """How the answer ended (stopped, cut off, failed) in its tone: amber or red."""

    def __init__(self, found: Outcome) -> None:
        super().__init__(found.text)
        self.outcome = found

    def as_html(self) -> str:
        """The line as escaped HTML in its tone's colour."""
        return self.outcome.as_html()


class AnswerOutput:
    """The settled answer: sanitized HTML, and the prose (spec JSON left out) as text/plain."""

    def __init__(self, text: str, *, fold: bool = False) -> None:
        self.html = answer_html(text, fold=fold)
        self.text = answer_plain(text, fold=fold)

    def as_html(self) -> str:
        """The answer as sanitized HTML (spec JSON folded into a closed <details>)."""
        return self.html

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/html": self.html, "text/plain": self.text}

    def __repr__(self) -> str:
        return self.text


_TEXT_KEYS = ("text/plain", "text/html")
FIT_IMAGE = "max-width:100%;height:auto"
"""A chart image's inline style: scaled down to the output area, never clipped (JupyterLab's
sanitizer keeps ``style`` with these two properties)."""


class SpecOutput:
    """A rendered chart/table/KPI mimebundle; stable text/plain (``<dbchat chart>``) if absent."""

    def __init__(self, kind: str, mimebundle: dict[str, Any]) -> None:
        self.kind = kind
        self.mimebundle = {key: clean_text(value) if key in _TEXT_KEYS else value
                           for key, value in mimebundle.items()}  # data values: no ESC codes

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = dict(self.mimebundle)
        bundle.setdefault("text/plain", repr(self))
        return bundle

    def __repr__(self) -> str:
        return f"<dbchat {self.kind or 'spec'}>"

    def as_html(self) -> str:
        """The spec as one piece of HTML (an image as a data URI, a table/KPI as its HTML).

        For an output that can hold only one entry (a --background cell's reserved output);
        interactive HTML (scripts) gives way to the static image or the text. The bundles are
        built by the package from escaped parts (specs.widgets, specs.render).
        """
        bundle = self.mimebundle
        plain = str(bundle.get("text/plain") or repr(self))
        alt = escape(plain.splitlines()[0] if plain else repr(self))
        if isinstance(bundle.get("image/svg+xml"), str):
            data = base64.b64encode(bundle["image/svg+xml"].encode("utf-8")).decode("ascii")
            return f'<img alt="{alt}" style="{FIT_IMAGE}" src="data:image/svg+xml;base64,{data}">'
        if isinstance(bundle.get("image/png"), str):
            return (f'<img alt="{alt}" style="{FIT_IMAGE}" '
                    f'src="data:image/png;base64,{bundle["image/png"]}">')
        markup = bundle.get("text/html")
        if isinstance(markup, str) and "<script" not in markup.lower():
            return f"<div>{markup.strip()}</div>"
        return f"<pre>{escape(plain)}</pre>"


FOLD_LABELS: dict[str, str] = {"chart": "chart spec (JSON)", "vega-lite": "chart spec (JSON)",
                               "table": "table spec (JSON)", "kpi": "KPI spec (JSON)"}
"""What each kind of spec is called where its JSON is folded away (the drawn output says it)."""
FOLD_CLOSE = "</details>"
CHART_KINDS = ("chart", "vega-lite")


def _spec_pieces(text: str) -> list[tuple[str, str]]:
    """``text`` split around its complete spec blocks: [(prose, ""), (block, widget), …, (prose,
    "")]; ``widget`` is the spec's kind ("chart", "table", "kpi", …)."""
    try:
        from dbchat_magic.specs import replace_specs
    except ImportError:
        return [(text, "")]
    blocks: list[tuple[str, str]] = []

    def mark(spec: dict[str, Any], block: str) -> str:
        blocks.append((block, str(spec.get("widget") or "")))
        return f"\x00{len(blocks) - 1}\x00"  # NUL never survives clean_text: no forged marks

    pieces = replace_specs(text, mark).split("\x00")
    return [blocks[int(p)] if i % 2 else (p, "") for i, p in enumerate(pieces)]


def _fold(block: str, widget: str) -> str:
    block = block.strip("\n")
    if not block.lstrip().startswith(("```", "~~~")):
        block = f"```json\n{block.strip()}\n```"
    label = FOLD_LABELS.get(widget, "spec (JSON)")
    return f"<details><summary>{label}</summary>{markdown_html(block)}{FOLD_CLOSE}"


def answer_html(text: str, *, fold: bool = False, live: LiveMarkdown | None = None) -> str:
    """The answer as sanitized HTML; ``fold`` puts each spec's JSON into a closed <details>.

    ``live`` (a streaming view's renderer) re-renders only the unfinished end of the text.
    """
    text = clean_text(text)
    if not fold:
        return live.render(text) if live is not None else markdown_html(text)
    pieces = _spec_pieces(text)
    charts = any(widget in CHART_KINDS for _p, widget in pieces[1::2])
    return "".join(_fold(p, widget) if i % 2 else markdown_html(p)
                   for i, (p, widget) in enumerate(pieces)) + (_chart_style() if charts else "")


def _chart_style() -> str:
    """The package's constant CSS that lets the interactive charts after the answer take the
    output area's width (`specs._vl_build.FIT_CSS`; sanitized away in an untrusted notebook,
    where the charts keep their fixed width)."""
    try:
        from dbchat_magic.specs import FIT_CSS
    except ImportError:
        return ""
    return f"<style>{FIT_CSS}</style>"


def answer_plain(text: str, *, fold: bool = False) -> str:
    """The answer as plain text; ``fold`` leaves the spec JSON out (the charts say it)."""
    if not fold:
        return sent_text(text)
    text = clean_text(text)
    pieces = _spec_pieces(text)
    prose = "\n".join(p.strip("\n") for p, _widget in pieces[::2])
    return re.sub(r"\n{3,}", "\n\n", prose).strip()


def status_line(result: ChatResult) -> str:
    """The one line for an answer that did not complete (`ui._outcome`), else ""."""
    return outcome_line(result)


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


class StepsOutput:
    """The agent's tool steps: a collapsed "steps" section (every value escaped) and one plain
    line per step as text/plain."""

    def __init__(self, result: ChatResult) -> None:
        self.html = steps_html(result.steps)
        self.text = "\n".join(f"step: {step_line(s)}" for s in result.steps[:50])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/html": self.html, "text/plain": self.text}

    def __repr__(self) -> str:
        return self.text


def step_outputs(result: ChatResult) -> list[Any]:
    """The steps section and, for an answer that is only tool calls, the line saying so."""
    items: list[Any] = [StepsOutput(result)] if result.steps else []
    note = result.tool_call_note
    if note:
        items.append(SettledLine(note))
    return items


def settled_outputs(result: ChatResult) -> list[Any]:
    """The steps, the answer (sanitized HTML), spec outputs, an `OutcomeLine` when not
    completed, and the metrics (none when nothing was received)."""
    items: list[Any] = step_outputs(result)
    if result.text:
        items.append(AnswerOutput(result.text, fold=bool(result.extras.get("specs"))))
    items.extend(spec_outputs(result))
    found = outcome(result)
    if found is not None:
        items.append(OutcomeLine(found))
    metrics = format_metrics(result)
    if metrics:
        items.append(SettledLine(metrics))
    items.extend(SettledLine(f"note: {note}") for note in result.extras.get("session_notes") or ())
    return items
