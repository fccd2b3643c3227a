"""The help text of ``%%dbchat?`` and ``%dbchat?`` (and ``%dbchat help``): plain text, in one place.

The cell options come from the cell magic's own argument parser (so they cannot drift from what
is parsed); the line commands and the examples are written here.
"""

from __future__ import annotations

import argparse

_WIDTH = 96

LINE_COMMANDS = """Line commands (%dbchat …):
  %dbchat connect URL [--openai] [--token-env VAR | --no-auth] [--name PROFILE]
                              connect to a Databricks workspace or an OpenAI-compatible server
                              (vLLM, llama.cpp, Ollama, OpenAI); saved as profile PROFILE (default:
                              the host) and used from the next question on. The style is detected
                              with one GET URL/v1/models (--openai forces it); --token-env reads
                              the token from that environment variable (never saved or shown);
                              --no-auth sends no credentials
  %dbchat set KEY VALUE       change one setting (saved; validated like settings.json), e.g.
                              max_tokens 512, temperature 0, context_tokens 8192, auth none
  %dbchat config              effective settings and credential source (no token is shown)
  %dbchat use NAME            use endpoint, model or profile NAME (saved; from the next question
                              on); a name the server does not list is refused
  %dbchat endpoints           chat endpoints of the workspace (models of an OpenAI-style server)
  %dbchat history [-c CHAT]   questions and answers of a conversation
  %dbchat reset [-c CHAT]     forget a conversation
  %dbchat panel [-c CHAT]     open a ChatPanel (its own chat, or continue CHAT)
  %dbchat export PATH [-c CHAT] [--force]
                              save a conversation as Markdown (.md, charts as SVG files in
                              PATH_charts/) or JSON (.json), with reasoning and metrics; an
                              existing file is only replaced with --force
  %dbchat last                show the last answer with its charts (the result: _dbchat_last)
  %dbchat log [TEXT] [--endpoint E] [--since DATE] [--limit N] [-c CHAT]
                              search the history log (every word of TEXT; DATE: 2026-11-01 or 7d)
  %dbchat log --forget [-c CHAT] [--before DATE] [--id N[,N…]]
                              delete logged turns (at least one criterion)
  %dbchat stats [--by endpoint|day] [--since DATE] [--endpoint E]
                              count, p50/p95 first token and total, tok/s, tokens, cost
  %dbchat export PATH --log -c CHAT [--force]
                              a whole conversation from the log (.md or .json)
  %dbchat help                this text
"""

EXAMPLES = """Examples:
  1. A local llama.cpp server, then a question (one cell each):
       %dbchat connect http://127.0.0.1:8000 --no-auth
       %%dbchat
       Name three colours.
  2. A question about a DataFrame, with the result kept in a variable:
       %%dbchat -d sales -o answer
       Which region grew fastest? Show a chart.
  3. A second conversation on another endpoint, cooler and shorter:
       %%dbchat -c review -e databricks-claude-sonnet-4 -t 0 -m 300
       Review the plan above in three bullet points.
"""

CELL_INTRO = """%%dbchat [options] [question]: ask the chosen endpoint; the answer streams below the
cell (Stop/■ ends it) and stays as Markdown when done. Write the question after the options or
in the cell body. {var} is replaced by a notebook variable's value when it exists ({{var}} keeps
the braces; JSON and dict literals are left alone). The result is kept in _dbchat_last.
"""


def cell_help(parser: argparse.ArgumentParser) -> str:
    """``%%dbchat?``: what the cell does, every option (from the cell magic's ``parser``, set by
    IPython's ``@magic_arguments``), the line commands, three examples."""
    actions = parser._actions
    formatter = argparse.HelpFormatter("%%dbchat", width=_WIDTH, max_help_position=30)
    formatter.add_usage(None, actions, [], prefix="Usage: ")
    formatter.start_section("Options")
    formatter.add_arguments([a for a in actions if a.option_strings and a.dest != "help"])
    formatter.end_section()
    return "\n".join([CELL_INTRO, formatter.format_help().rstrip(), "", LINE_COMMANDS,
                      EXAMPLES])


def line_help() -> str:
    """``%dbchat?`` and ``%dbchat help``: the line commands and three examples."""
    return "\n".join(["%dbchat COMMAND: manage dbchat from a line magic; %%dbchat? lists the "
                      "cell options.", "", LINE_COMMANDS, EXAMPLES])
