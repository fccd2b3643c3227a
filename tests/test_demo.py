"""``python -m dbchat_magic.demo``: streams an answer from the simulator and prints its metrics."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dbchat_magic.demo import _ANSWER, main, run_notebook, summarize_output

QUICKSTART = Path(__file__).resolve().parents[1] / "notebooks" / "01_quickstart.ipynb"

LABELS = ("time to first token", "total time", "tokens", "tokens/s")


def test_demo_command_streams_and_prints_metrics() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbchat_magic.demo", "--tokens-per-second", "60",
         "--first-token-delay", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    arrivals: list[tuple[float, bytes]] = []
    while True:
        piece = proc.stdout.read1(4096)  # type: ignore[attr-defined]
        if not piece:
            break
        arrivals.append((time.monotonic(), piece))
    assert proc.wait(timeout=60) == 0, proc.stderr.read().decode() if proc.stderr else ""
    out = b"".join(p for _, p in arrivals).decode()
    assert _ANSWER in out
    for label in LABELS:
        assert label in out
    assert "status               completed" in out
    # Token by token: the answer arrived in many pieces spread over time, not in one write.
    answer_pieces = [t for t, p in arrivals if p.strip() and not p.startswith(b"dbchat")]
    assert len(answer_pieces) > 10
    assert answer_pieces[-1] - answer_pieces[0] > 0.3  # 64 tokens at 60/s ≈ 1 s


def test_demo_in_process_custom_question(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["How are sales?", "--tokens-per-second", "0", "--first-token-delay", "0"]) == 0
    out = capsys.readouterr().out
    assert "> How are sales?" in out and "Simulated answer to 'How are sales?'" in out
    assert "tokens               " in out and "completion" in out


@pytest.mark.kernel
def test_demo_runs_a_notebook_headless(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('hello from the kernel')"),
                nbformat.v4.new_code_cell("from IPython.display import Markdown\n"
                                          "Markdown('**an answer**')")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    out = io.StringIO()
    assert run_notebook(str(path), out) == 0
    text = out.getvalue()
    assert "[cell 0] hello from the kernel" in text and "[cell 1] **an answer**" in text


def test_summarize_output_reads_like_a_transcript() -> None:
    assert summarize_output({"output_type": "stream", "text": ["a\n", "b\n"]}) == "a\nb"
    assert summarize_output({"output_type": "error", "ename": "CellError",
                             "evalue": "dbchat: no such frame"}) == "error: dbchat: no such frame"
    widget = {"output_type": "display_data", "data": {
        "application/vnd.jupyter.widget-view+json": {"model_id": "x"},
        "text/plain": "<dbchat answer>"}}
    assert summarize_output(widget) == ""  # the live view: its answer follows as Markdown
    retired = {"output_type": "display_data",
               "data": {"text/plain": "<dbchat answer>", "text/html": ""}}
    assert summarize_output(retired) == ""  # what the live view leaves once its answer settled
    answer = {"output_type": "display_data", "data": {"text/markdown": [
        "Here is revenue by region.\n\n\n<details><summary>chart spec (JSON)</summary>\n\n",
        "```json\n{\"widget\": \"chart\"}\n```\n\n</details>\n\n"]}}
    assert summarize_output(answer) == "Here is revenue by region."
    footer = {"output_type": "display_data", "data": {
        "text/markdown": "<small>first token 4 ms · 3 tokens</small>"}}
    assert summarize_output(footer) == "first token 4 ms · 3 tokens"
    # what this version writes: sanitized HTML with the prose (spec JSON left out) as text/plain
    answer = {"output_type": "display_data", "data": {
        "text/html": "<p>Here is revenue by region.</p><details>…</details>",
        "text/plain": "Here is revenue by region."}}
    assert summarize_output(answer) == "Here is revenue by region."
    footer = {"output_type": "display_data", "data": {
        "text/html": "<small>first token 4 ms · 3 tokens</small>",
        "text/plain": "first token 4 ms · 3 tokens"}}
    assert summarize_output(footer) == "first token 4 ms · 3 tokens"
    chart = {"output_type": "display_data", "data": {
        "image/svg+xml": "<svg/>", "text/plain": "bar chart of sales (4 points)"}}
    assert summarize_output(chart) == "(chart drawn: bar chart of sales (4 points))"
    frame = {"output_type": "execute_result", "data": {"text/html": "<table/>",
                                                       "text/plain": "   a\n0  1"}}
    assert summarize_output(frame) == "   a\n0  1"


@pytest.mark.kernel
def test_headless_quickstart_prints_answers_and_charts() -> None:
    pytest.importorskip("nbclient")
    out = io.StringIO()
    assert run_notebook(str(QUICKSTART), out) == 0, out.getvalue()
    text = out.getvalue()
    assert "Start with the big picture" in text  # the streamed prose answer
    assert "Here is the total revenue by region in `sales`, largest first." in text
    assert "(chart drawn: bar chart of sales: sum of revenue by region (4 points))" in text
    assert "(chart drawn: line chart of sales" in text
    assert "tok/s" in text and "failed" not in text
    assert "<details>" not in text and "<small>" not in text and "<dbchat" not in text
