"""The options of ``%%dbchat`` (the help text: `magic._help`): light (IPython only), so the
extension loads fast and the magics carry their full help from the start.

`cell_options` is IPython's own `magic_arguments` construction: it gives the cell magic its parser
and appends the option list to its docstring (``%%dbchat?``); `parse_options` reads a line with the
parser of the magic the shell has registered.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

F = TypeVar("F", bound=Callable[..., Any])

_CELL_ARGUMENTS = (
    argument("-e", "--endpoint", metavar="NAME", help="serving endpoint for this question"),
    argument("-t", "--temperature", type=float, help="sampling temperature (e.g. 0.2)"),
    argument("-m", "--max-tokens", type=int, metavar="N", help="maximum tokens in the answer"),
    argument("-p", "--persona", metavar="NAME",
             help="persona for the system prompt (e.g. analyst)"),
    argument("-d", "--data", metavar="DF1,DF2", help="DataFrames to describe in the context"),
    argument("-o", "--output", metavar="VAR", help="store the ChatResult in this variable"),
    argument("-c", "--chat", metavar="NAME", default="default",
             help="named conversation (default: one shared conversation)"),
    argument("--new", action="store_true", help="start this conversation afresh"),
    argument("--background", action="store_true",
             help="return at once; the answer streams while other cells run"),
    argument("--show-prompt", action="store_true",
             help="print exactly the messages that would be sent; send nothing"),
    argument("--no-history", action="store_true",
             help="ask without earlier turns (and do not record this one)"),
    argument("--no-raise", action="store_true",
             help="a failed answer does not end the cell in error (Run All carries on)"),
    argument("--compare", metavar="A,B[,C…]",
             help="ask 2-6 endpoints or profiles at once, side by side, with a table per endpoint"),
    argument("question", nargs="*", help="question text (or write it in the cell body)"),
)


def cell_options(func: F) -> F:
    """Decorate the ``%%dbchat`` magic with its options (``func.parser``, help in ``__doc__``)."""
    for add in reversed(_CELL_ARGUMENTS):  # as if written as decorators, first option on top
        func = add(func)
    return magic_arguments(name="%dbchat")(func)


def parse_options(shell: Any, line: str) -> argparse.Namespace:
    """The options of a ``%%dbchat`` line, read by the registered magic's parser (IPython's
    one-line ``UsageError`` when they are bad)."""
    return parse_argstring(shell.find_cell_magic("dbchat"), line)
