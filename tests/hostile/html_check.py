"""Parse HTML we emit and list what lies outside an allow-list (tags, attributes, URLs).

Shared by the markup unit tests, the kernel tests and (for saved notebooks) the browser test.
"""

from __future__ import annotations

from html.parser import HTMLParser

from dbchat_magic.markup import ATTRIBUTES, TAGS, allowed_url
from dbchat_magic.specs import FIT_CSS
from dbchat_magic.ui._outcome import COLORS as OUTCOME_COLORS
from dbchat_magic.ui._panel_style import PANEL_CSS, TRANSCRIPT_CSS

_URL_ATTRS = {"href", "src", "action", "formaction", "data", "srcdoc", "xlink:href", "poster"}
EXPORT_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "code",
                "pre", "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th",
                "td", "a"}
EXPORT_ATTRS = {"a": {"href", "title"}, "ol": {"start"}, "code": {"class"}, "th": {"style"},
                 "td": {"style"}}


class _Elements(HTMLParser):
    """Every start tag with its attributes, and every comment/declaration/processing instruction."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.other: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        self.other.append(f"comment {data!r}")

    def handle_decl(self, decl: str) -> None:
        self.other.append(f"decl {decl!r}")

    def unknown_decl(self, data: str) -> None:
        self.other.append(f"decl {data!r}")

    def handle_pi(self, data: str) -> None:
        self.other.append(f"pi {data!r}")


def elements(markup: str) -> _Elements:
    parser = _Elements()
    parser.feed(markup)
    parser.close()
    return parser


def violations(markup: str, tags: set[str] | frozenset[str], attrs: dict[str, set[str]],
               extra_attrs: dict[str, set[str]] | None = None) -> list[str]:
    """What in ``markup`` lies outside the allow-list (empty when it is safe)."""
    found = elements(markup)
    bad = list(found.other)
    for tag, values in found.elements:
        if tag not in tags:
            bad.append(f"<{tag}>")
            continue
        allowed = attrs.get(tag, set()) | (extra_attrs or {}).get(tag, set())
        for name, value in values.items():
            if name not in allowed or name.startswith("on"):
                bad.append(f"<{tag} {name}>")
            elif name in _URL_ATTRS and not allowed_url(value):
                bad.append(f"<{tag} {name}={value[:40]!r}>")
            elif name == "style" and value not in ("text-align:left", "text-align:right",
                                                   "text-align:center"):
                bad.append(f"<{tag} style={value!r}>")
    return bad


def assert_safe_html(markup: str) -> None:
    bad = violations(markup, TAGS, ATTRIBUTES, {"a": {"rel"}})
    assert not bad, f"outside the allow-list: {bad}\n{markup}"


PACKAGE_TAGS = TAGS | {"details", "summary", "small", "b"}
"""Elements the package itself adds around sanitized answers (folds, status and metric lines)."""
_PACKAGE_ATTRS = {**{tag: set(names) for tag, names in ATTRIBUTES.items()},
                  "a": {"href", "title", "rel"}, "small": {"style"}, "span": {"class", "style"},
                  "div": {"class", "style"}}
_PACKAGE_STYLES = {"color:#b00020", "color:#666",
                   *(f"color:{colour}" for colour in OUTCOME_COLORS.values())}  # outcome lines
PACKAGE_CSS = (PANEL_CSS, TRANSCRIPT_CSS, FIT_CSS)
"""The package's own style sheets (constants: the panel's, its transcript's and the one rule that
lets charts fit their output area); nothing else."""


def package_violations(markup: str) -> list[str]:
    """Like `violations`, for whole outputs: the package's own wrappers are allowed too."""
    bad = []
    for css in PACKAGE_CSS:  # exactly the package's constant CSS, never anything else
        markup = markup.replace(f"<style>{css}</style>", "")
    for problem in violations(markup, PACKAGE_TAGS, _PACKAGE_ATTRS):
        style = (problem.removeprefix("<small style=").removeprefix("<span style=")
                 .removeprefix("<div style="))
        if style.strip(">").strip("'\"") not in _PACKAGE_STYLES:
            bad.append(problem)
    return bad
