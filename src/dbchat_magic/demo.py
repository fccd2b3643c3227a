"""Terminal demo: ``python -m dbchat_magic.demo`` streams one answer from the built-in simulator.

No credentials or network needed: a local Databricks-protocol simulator is started, `ChatClient`
streams the answer to stdout token by token, and the metrics are printed (time to first token,
total time, tokens, tokens/s). ``--notebook PATH`` instead executes a notebook headless and prints
the answers it produced.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from typing import Any, TextIO

from dbchat_magic.client import ChatClient, ChatResult, ReasoningDelta, TextDelta
from dbchat_magic.config import Settings

DEFAULT_QUESTION = "What is a p-value? Explain it in three sentences."
_ANSWER = (
    "A p-value is the probability of seeing data at least as extreme as yours if the null "
    "hypothesis were true. A small p-value (say below 0.05) means such data would be unusual "
    "under the null, so you have evidence against it. It is not the probability that the null "
    "hypothesis is true, and it says nothing about how large or important an effect is."
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dbchat_magic.demo", description=__doc__.split(
        "\n")[0])
    p.add_argument("question", nargs="?", default=DEFAULT_QUESTION, help="what to ask")
    p.add_argument("--tokens-per-second", type=float, default=40.0,
                   help="simulator pacing (0 = as fast as possible)")
    p.add_argument("--first-token-delay", type=float, default=0.4,
                   help="simulated seconds before the first token")
    p.add_argument("--endpoint", default=None, help="simulated endpoint (default: Llama 3.3)")
    p.add_argument("--notebook", metavar="PATH", help="execute PATH headless and print answers")
    return p


def format_metrics(result: ChatResult) -> str:
    """The metrics block printed after the answer."""
    m, u = result.metrics, result.usage
    est = " (estimated)" if u.estimated else ""
    ttft = f"{m.time_to_first_token:.3f} s" if m.time_to_first_token is not None else "-"
    rate = f"{m.tokens_per_second:.1f}" if m.tokens_per_second else "-"
    lines = [
        f"status               {result.status}" + (f": {result.error}" if result.error else ""),
        f"model                {result.model or '-'} (endpoint {result.endpoint})",
        f"time to first token  {ttft}",
        f"total time           {m.total_time or 0:.3f} s",
        f"tokens               {u.prompt_tokens} prompt + {u.completion_tokens} completion"
        f" = {u.total_tokens}{est}",
        f"tokens/s             {rate}",
        f"retries              {m.retries}",
    ]
    return "\n".join(lines)


async def stream_answer(client: ChatClient, question: str, out: TextIO,
                        endpoint: str | None = None) -> ChatResult:
    """Ask ``question``, writing each text delta to ``out`` as it arrives; return the result."""
    messages = [{"role": "system", "content": "You are a concise data-science assistant."},
                {"role": "user", "content": question}]
    thinking = False

    def show(ev: object) -> None:
        nonlocal thinking
        if isinstance(ev, ReasoningDelta):
            if not thinking:
                out.write("(thinking) ")
                thinking = True
            out.write(ev.text)
        elif isinstance(ev, TextDelta):
            if thinking:
                out.write("\n\n")
                thinking = False
            out.write(ev.text)
        out.flush()

    try:
        await client.warm_up()  # as a notebook session does at load: imports, connection pool
        return await client.complete(messages, endpoint=endpoint, on_event=show)
    finally:
        await client.aclose()


def run_terminal(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Start the simulator, stream one answer, print metrics; 0 when the answer completed."""
    out = out or sys.stdout
    from dbchat_magic.simulator import Simulator

    pace = args.tokens_per_second or None
    with Simulator(tokens_per_second=pace, first_token_delay=args.first_token_delay) as sim:
        if args.question == DEFAULT_QUESTION:
            sim.script("p-value", _ANSWER)
        client = ChatClient(Settings(host=sim.url), token=sim.token)
        out.write(f"dbchat-magic demo: simulator at {sim.url}\n\n> {args.question}\n\n")
        out.flush()
        result = asyncio.run(stream_answer(client, args.question, out, args.endpoint))
    out.write("\n\n" + format_metrics(result) + "\n")
    out.flush()
    return 0 if result.ok else 1


_DETAILS = re.compile(r"\n*<details>.*?</details>\n*", re.DOTALL)
_SMALL = re.compile(r"^<small>(.*)</small>$", re.DOTALL)
_RETIRED_VIEW = re.compile(r"<dbchat [\w ]+>")  # a live view's text/plain, kept once retired
_IMAGES = ("image/svg+xml", "image/png", "application/vnd.vegalite.v5+json")


def _joined(value: object) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def summarize_output(output: dict[str, Any]) -> str:
    """One notebook output as terminal text ("" for outputs with nothing to read, like widgets)."""
    if output.get("output_type") == "stream":
        return _joined(output.get("text")).rstrip("\n")
    if output.get("output_type") == "error":
        return f"error: {output.get('evalue', '')}"
    data = output.get("data") or {}
    plain = _joined(data.get("text/plain"))
    if any(kind in data for kind in _IMAGES):
        return f"(chart drawn: {plain})" if plain else "(chart drawn)"
    if "text/markdown" in data:
        text = _DETAILS.sub("\n", _joined(data["text/markdown"])).strip()
        small = _SMALL.match(text)
        return small[1] if small else text
    if "application/vnd.jupyter.widget-view+json" in data or _RETIRED_VIEW.fullmatch(plain):
        return ""  # the live view (or the empty output it leaves); its answer follows as Markdown
    return plain


def run_notebook(path: str, out: TextIO | None = None) -> int:
    """Execute a notebook headless (it starts its own simulator) and print its outputs as text."""
    out = out or sys.stdout
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    except CellExecutionError as err:
        out.write(f"the notebook failed: {str(err).splitlines()[0] if str(err) else err}\n")
        return 1
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            text = summarize_output(output)
            if text:
                out.write(f"[cell {i}] {text}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m dbchat_magic.demo``."""
    args = _parser().parse_args(argv)
    if args.notebook:
        return run_notebook(args.notebook)
    return run_terminal(args)


if __name__ == "__main__":
    sys.exit(main())
