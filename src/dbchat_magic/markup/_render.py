"""Model Markdown → safe HTML: markdown-it renders (raw HTML stays text), nh3 keeps an allow-list.

markdown-it runs CommonMark + GFM tables and strikethrough with ``html=False`` (every ``<`` the
model wrote is escaped), no linkify, and a link allow-list (http, https, mailto) checked on the
normalised URL, so entity, case and whitespace tricks (``JaVaScRiPt:``, ``java&#09;script:``)
fail. Images never load (a remote image is a beacon): they become a link or their alt text.
``$…$`` / ``$$…$$`` math is kept verbatim for the notebook's MathJax. nh3 (ammonia) then drops any
tag, attribute or URL outside the allow-list below, as a second, independent wall.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from dbchat_magic.markup._text import clean_text

TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a", "span", "div",
})
"""Every element the sanitized HTML may contain."""
ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"}, "ol": {"start"}, "code": {"class"}, "span": {"class"},
    "div": {"class"}, "th": {"style"}, "td": {"style"},
}
"""Every attribute it may carry (values are checked again by `_attribute_filter`)."""
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
_URL = re.compile(r"(?:https?://|mailto:)[^\s\x00-\x1f\x7f<>\"'`]*\Z", re.IGNORECASE)
_CODE_CLASS = re.compile(r"language-[\w+#.-]{1,40}\Z")
_CLASSES = {"span": frozenset({"math inline"}), "div": frozenset({"math block"})}
_ALIGN = frozenset({"text-align:left", "text-align:right", "text-align:center"})


def allowed_url(url: str) -> bool:
    """True for an absolute http(s) URL or a mailto: address, as written (no decoding here)."""
    return bool(_URL.match(url))


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if attr in ("href", "src"):
        return value if allowed_url(value) else None
    if attr == "class":
        ok = _CODE_CLASS.match(value) if tag == "code" else value in _CLASSES.get(tag, ())
        return value if ok else None
    if attr == "style":
        return value if value in _ALIGN else None
    if attr == "start":
        return value if value.isdigit() and len(value) <= 9 else None
    return value


def _valid_link(url: str) -> bool:
    """markdown-it's link check, on the normalised URL (entities decoded, then %-encoded)."""
    return allowed_url(url)


def _math_rule(fence: str, tag: str, css: str) -> Any:
    """A render rule that keeps math as ``fence``-delimited text (MathJax typesets it in place)."""

    def render(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
        content = html.escape(f"{fence}{str(tokens[idx].content).strip()}{fence}", quote=False)
        end = "\n" if tag == "div" else ""
        return f'<{tag} class="{css}">{content}</{tag}>{end}'

    return render


def _image(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    """An image becomes a link to it (never loaded), or its alt text when the URL is not allowed."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env).strip()
    src = str(token.attrGet("src") or "")
    label = html.escape(f"image: {alt}" if alt else "image", quote=False)
    if not allowed_url(src):
        return label
    return f'<a href="{html.escape(src, quote=True)}">{label}</a>'


@cache
def _parser() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = _valid_link  # type: ignore[method-assign]
    dollarmath_plugin(md, allow_labels=False, allow_space=False, allow_digits=False,
                      double_inline=True)
    md.add_render_rule("math_inline", _math_rule("$", "span", "math inline"))
    md.add_render_rule("math_inline_double", _math_rule("$$", "span", "math inline"))
    md.add_render_rule("math_block", _math_rule("$$", "div", "math block"))
    md.add_render_rule("image", _image)
    return md


def sanitize_html(markup: str) -> str:
    """``markup`` with only the allowed tags, attributes and URLs left (nh3 / ammonia)."""
    import nh3

    return str(nh3.clean(markup, tags=set(TAGS), attributes=ATTRIBUTES,
                         attribute_filter=_attribute_filter, url_schemes=set(URL_SCHEMES),
                         link_rel=LINK_REL, strip_comments=True))


def markdown_html(text: str) -> str:
    """The model's Markdown ``text`` as safe HTML (formatting kept, nothing runnable)."""
    text = clean_text(text)
    if not text.strip():
        return ""
    return sanitize_html(_parser().render(text))
