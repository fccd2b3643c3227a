"""Widget specs: the model writes a small closed JSON spec naming a kernel DataFrame; we extract it,
validate it against the live frame, aggregate in the frame's own engine and render a chart, table or
KPI offline. Model-written code is never executed and nothing is fetched."""

from __future__ import annotations

from dbchat_magic.specs.extract import ExtractedSpec, extract_specs
from dbchat_magic.specs.render import RENDERERS, RenderedSpec, render_spec
from dbchat_magic.specs.repair import REPAIR_MARKER, repair_message
from dbchat_magic.specs.schema import SPEC_SCHEMA, SPEC_VERSION, format_rules
from dbchat_magic.specs.validate import validate_spec

__all__ = [
    "RENDERERS",
    "REPAIR_MARKER",
    "SPEC_SCHEMA",
    "SPEC_VERSION",
    "ExtractedSpec",
    "RenderedSpec",
    "extract_specs",
    "format_rules",
    "render_spec",
    "repair_message",
    "validate_spec",
]
