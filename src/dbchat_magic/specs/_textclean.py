"""The characters the chart renderer can take: XML 1.0 characters only.

vl-convert turns every chart into SVG (PNG goes through SVG too) and parses it as XML; a character
XML 1.0 forbids — a C0 control other than tab, newline and carriage return, a lone surrogate,
U+FFFE or U+FFFF — in a title, label, field name, column name or data value makes it panic and
abort its process (measured: "NonXmlChar" → "panic in a function that cannot unwind"). Every
string bound for the renderer goes through `clean_text`; `clean_tree` applies it to a whole
Vega-Lite dict (keys and values alike, so a cleaned column name still matches its field).
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
"""What a forbidden character becomes (visible, so two cleaned labels stay told apart)."""
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: str) -> str:
    """``text`` with every character that is not a valid XML 1.0 character replaced by U+FFFD."""
    return _NOT_XML.sub(REPLACEMENT, text) if _NOT_XML.search(text) else text


def clean_tree(node: Any) -> Any:
    """A copy of a JSON-like tree with `clean_text` applied to every string key and value."""
    if isinstance(node, str):
        return clean_text(node)
    if isinstance(node, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_tree(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [clean_tree(v) for v in node]
    return node
