"""Widget specs: the model writes a small closed JSON spec naming a kernel DataFrame; we extract it,
validate it against the live frame, aggregate in the frame's own engine and render a chart, table or
KPI offline. Model-written code is never executed and nothing is fetched."""

from __future__ import annotations

from dbchat_magic.specs._describe import block_span, describe_spec, replace_specs, specs_as_words
from dbchat_magic.specs._extract import ExtractedSpec, extract_specs
from dbchat_magic.specs._render import RENDERERS, RenderedSpec, render_spec
from dbchat_magic.specs._repair import REPAIR_MARKER, repair_message
from dbchat_magic.specs._schema import SPEC_SCHEMA, SPEC_VERSION, format_rules
from dbchat_magic.specs._validate import validate_spec
from dbchat_magic.specs._vl_build import FIT_CSS
from dbchat_magic.specs._worker import RenderWorker, shared_worker

__all__ = [
    "FIT_CSS",
    "RENDERERS",
    "REPAIR_MARKER",
    "SPEC_SCHEMA",
    "SPEC_VERSION",
    "ExtractedSpec",
    "RenderWorker",
    "RenderedSpec",
    "block_span",
    "describe_spec",
    "extract_specs",
    "format_rules",
    "render_spec",
    "repair_message",
    "replace_specs",
    "shared_worker",
    "specs_as_words",
    "validate_spec",
]
