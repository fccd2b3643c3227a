"""IPython extension: ``%%dbchat`` (ask) and ``%dbchat`` (config/use/endpoints/history/...).

Loading must stay fast (≤ 150 ms): this module imports only IPython's magic machinery; httpx,
pandas, ipywidgets and altair are imported when a question is first asked.
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from dbchat_magic.magic import _options

__all__ = ["DbChatMagics", "load_ipython_extension", "unload_ipython_extension"]


@magics_class
class DbChatMagics(Magics):
    """``%%dbchat`` and ``%dbchat``."""

    @cell_magic("dbchat")  # type: ignore[arg-type]  # IPython types the decorator as taking Never
    @_options.cell_options
    def dbchat_cell(self, line: str, cell: str | None = None) -> None:
        """Ask the serving endpoint; the answer streams below and stays as Markdown when done.

        ``{var}`` in the question is replaced by a notebook variable's value when it exists (JSON
        and dict literals are left alone; ``{{var}}`` keeps the braces). The result lands in
        ``_dbchat_last``.
        """
        from dbchat_magic.magic._cell import run_cell
        from dbchat_magic.magic._compare_cell import is_compare, run_compare_blocking

        if is_compare(self.shell, line):
            run_compare_blocking(self.shell, line, cell)
        else:
            run_cell(self.shell, line, cell)

    @line_magic("dbchat")  # type: ignore[arg-type]
    def dbchat_line(self, line: str) -> Any:
        """``%dbchat connect URL|set KEY VALUE|config|use NAME|endpoints|…``; see ``%dbchat?``."""
        from dbchat_magic.magic._commands import run_command

        return run_command(self.shell, line)


def _attach_help() -> None:
    """``%%dbchat?`` and ``%dbchat?``: plain text from `magic._help` (options from the parser)."""
    from dbchat_magic.magic._help import cell_help, line_help

    DbChatMagics.dbchat_cell.__doc__ = cell_help(DbChatMagics.dbchat_cell.parser)  # type: ignore[assignment]
    DbChatMagics.dbchat_line.__doc__ = line_help()  # type: ignore[assignment]


_attach_help()


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (``%load_ext dbchat_magic``)."""
    ipython.register_magics(DbChatMagics)
    from dbchat_magic.magic.async_cell import install
    from dbchat_magic.session import warm_up_at_load

    install(ipython)
    warm_up_at_load(ipython)  # the chart render worker starts in the background


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics and the async-cell input transformer."""
    from dbchat_magic.magic.async_cell import uninstall
    from dbchat_magic.session import stop_warm_up

    uninstall(ipython)
    stop_warm_up(ipython)
    magics = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        magics[kind].pop("dbchat", None)
