"""Outside text → safe HTML, Markdown or terminal text: the one owner of that rule (docs/design.md:
trust).

Everything not written by the package (model text and reasoning, spec fields, DataFrame values,
server messages, endpoint and host names) passes through here before it becomes markup:

- `markdown_html(text)`: the model's Markdown as sanitized HTML (formatting kept, nothing runs);
- `escape(text)`: one outside string as HTML text/attribute (for lines the package builds);
- `clean_text(text)` / `one_line(text)`: no escape sequences or control characters (terminal);
- `detached(text)`: a copy to send of a string that is kept (no UTF-8 form cached in it);
- `safe_markdown(text)`: Markdown that stays Markdown but carries no raw HTML, image or
  disallowed link (the ``.md`` export); `safe_inline(text)` for one line of it; `fenced(text)`
  for text kept verbatim in a code block;
- `LiveMarkdown`: `markdown_html` for a growing text, re-rendering only its unfinished end.

It imports nothing else from the package (layer 0). markdown-it-py, mdit-py-plugins and nh3 are
imported on first use.
"""

from __future__ import annotations

from dbchat_magic.markup._export import fenced, safe_inline, safe_markdown, unsafe_constructs
from dbchat_magic.markup._live import LiveMarkdown
from dbchat_magic.markup._render import (
    ATTRIBUTES,
    TAGS,
    URL_SCHEMES,
    allowed_url,
    markdown_html,
    sanitize_html,
)
from dbchat_magic.markup._text import clean_text, detached, escape, one_line

__all__ = [
    "ATTRIBUTES", "TAGS", "URL_SCHEMES", "LiveMarkdown", "allowed_url", "clean_text", "detached",
    "escape",
    "fenced", "markdown_html", "one_line", "safe_inline", "safe_markdown", "sanitize_html",
    "unsafe_constructs",
]
