"""What the dbchat widgets look like to a test: their selectors, and scripted answers whose
progress can be read off the page (numbered words ``w001 w002 …``).

Selectors prefer the ``dbchat-*`` CSS classes when the widgets carry them and fall back to the
visible texts (ipywidgets 8 DOM: a Button is a ``<button>``, a Dropdown a ``<select>``).
`drawn_charts` reads which charts a cell's outputs visibly draw; `start_frame_sampler` and
`frame_stats` read what the live answer showed in each painted frame.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

STOP_BUTTON = "button.dbchat-stop, button:has-text('Stop')"
SEND_BUTTON = "button.dbchat-send, button:has-text('Send')"
SETTINGS_TOGGLE = "button.dbchat-settings-toggle"
QUESTION_BOX = ".dbchat-question input, .dbchat-question textarea"
ENDPOINT_SELECT = ".dbchat-endpoint select, .widget-dropdown:has(label:text-is('Endpoint')) select"
FAILED_MARK = "✗ failed"


def numbered_reply(prefix: str, count: int) -> str:
    """``"{prefix}001 {prefix}002 …"``: one simulator token per word, easy to count on screen."""
    return " ".join(f"{prefix}{i:03d}" for i in range(1, count + 1))


def words_shown(text: str, prefix: str) -> list[int]:
    """The numbers of the ``{prefix}NNN`` words visible in ``text``, in page order."""
    return [int(n) for n in re.findall(rf"\b{re.escape(prefix)}(\d{{3}})\b", text)]


def shown_count(text: str, prefix: str) -> int:
    """How many leading words of the answer are on screen (0 when none).

    Asserts that what is shown is a clean prefix ``1..N`` of the answer (no gaps, no reordering),
    ignoring repeats (the live view and the settled Markdown may both be on screen).
    """
    seen = sorted(set(words_shown(text, prefix)))
    assert seen == list(range(1, len(seen) + 1)), f"answer words out of order or missing: {seen}"
    return len(seen)


STOP_DEADLINE_MS = 15_000.0
"""A stop must show "stopped" long before the answer would have ended (15x the 1 s target of
issue 6, so a loaded CI machine cannot fail it); the measured delay goes into the junit xml and
the 1 s target is checked by bench/bench_frontend.py, not here."""

# Every visible chart in one cell's outputs: inline Vega SVGs, images, inked canvases.
_CHARTS_JS = """(cell) => {
  const out = cell.querySelector('.jp-Cell-outputArea');
  const seen = (el) => el.checkVisibility() && el.getBoundingClientRect().width > 0;
  if (!out) return {svgs: [], imgs: [], canvases: []};
  const svgs = [...out.querySelectorAll('svg.marks')].filter(seen).map(svg => ({
    bars: svg.querySelectorAll('.mark-rect path, .mark-rect rect').length,
    labels: [...svg.querySelectorAll('text')].map(t => t.textContent),
  }));
  const imgs = [...out.querySelectorAll('img')].filter(seen)
    .filter(img => img.complete && img.naturalWidth > 0).map(img => img.src);
  const canvases = [...out.querySelectorAll('canvas')].filter(seen).map(c => {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let inked = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
    return inked;
  });
  return {svgs, imgs, canvases};
}"""


def _svg_of_img(src: str) -> str | None:
    """The SVG text of an image whose src is an SVG data URI, else None."""
    head, _, payload = src.partition(",")
    if not head.startswith("data:image/svg+xml"):
        return None
    return (base64.b64decode(payload).decode() if head.endswith(";base64")
            else urllib.parse.unquote(payload))


def drawn_charts(page: Any, cell: Any) -> list[dict[str, Any]]:
    """Each chart visibly drawn in ``cell``'s outputs as ``{"bars", "labels"}`` (``bars`` is None
    for a canvas, whose marks cannot be counted from the DOM)."""
    found = page.evaluate(_CHARTS_JS, cell.element_handle())
    charts = [dict(s) for s in found["svgs"]]
    for src in found["imgs"]:
        svg = _svg_of_img(src)
        if svg is None:
            continue
        group = re.search(r'<g[^>]*class="mark-rect role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S)
        bars = len(re.findall(r"<path\b", group.group(1))) if group else 0
        labels = [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text\b[^>]*>(.*?)</text>", svg)]
        charts.append({"bars": bars, "labels": labels})
    charts += [{"bars": None, "labels": []} for inked in found["canvases"] if inked]
    return charts


# Before each paint (requestAnimationFrame), how much text the cell's newest live answer
# (`.dbchat-answer`) shows: its text length, or -1 while there is none / it is hidden.
_FRAME_SAMPLER_JS = """(cell) => {
  const frames = [];
  window.__dbchatFrames = frames;
  window.__dbchatSampling = true;
  const tick = (t) => {
    const answers = cell.querySelectorAll('.dbchat-answer');
    const el = answers[answers.length - 1];
    const len = el && el.checkVisibility() ? el.innerText.trim().length : -1;
    frames.push([t, len]);
    if (window.__dbchatSampling) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def start_frame_sampler(page: Any, cell: Any) -> None:
    """Sample the live answer's text length in ``cell`` on every animation frame (before paint)."""
    page.evaluate(_FRAME_SAMPLER_JS, cell.element_handle())


def stop_frame_sampler(page: Any) -> list[tuple[float, int]]:
    """Stop sampling; (``performance.now()`` ms, text length or -1) for each frame sampled."""
    frames = page.evaluate("window.__dbchatSampling = false; window.__dbchatFrames")
    return [(float(t), int(n)) for t, n in frames]


@dataclass
class FrameStats:
    """What the painted frames of one stream showed, between the first text and the settled text.

    ``steps`` is how many different lengths the frames showed (the text grew in that many steps);
    ``shrinking`` frames show the answer empty or shorter than in the frame before; ``below``
    frames show less than the most the answer had shown so far; ``longest_ms`` is the longest run
    of such frames (from its first frame to the next frame that is whole again).
    """

    frames: int
    steps: int
    shrinking: int
    below: int
    longest_ms: float


def frame_stats(samples: list[tuple[float, int]], full_length: int) -> FrameStats:
    """`FrameStats` of the frames from the first one with text up to the first showing
    ``full_length`` characters or more (or the last one before the live answer was hidden)."""
    start = next((i for i, (_, n) in enumerate(samples) if n > 0), len(samples))
    window: list[tuple[float, int]] = []
    for t, n in samples[start:]:
        if n >= full_length:
            window.append((t, n))
            break
        if n < 0:  # hidden: the settled outputs took over
            break
        window.append((t, n))
    shrinking = below = 0
    longest = 0.0
    most, prev = 0, 0
    run_start: float | None = None
    for t, n in window:
        shrinking += n < prev
        if n < most:
            below += 1
            run_start = t if run_start is None else run_start
        elif run_start is not None:
            longest = max(longest, t - run_start)
            run_start = None
        most, prev = max(most, n), n
    if run_start is not None and window:
        longest = max(longest, window[-1][0] - run_start)
    steps = len({n for _, n in window})
    return FrameStats(len(window), steps, shrinking, below, round(longest, 1))
