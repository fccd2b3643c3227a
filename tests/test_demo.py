"""``python -m dbchat_magic.demo``: streams an answer from the simulator and prints its metrics."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dbchat_magic.demo import _ANSWER, main, run_notebook

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
