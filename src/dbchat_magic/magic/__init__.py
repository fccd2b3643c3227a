"""IPython extension: ``%%dbchat`` (ask) and ``%dbchat`` (config/use/endpoints/history/...).

Loading must stay fast (≤ 150 ms): this module imports only IPython's magic machinery; httpx,
pandas, ipywidgets and altair are imported when a question is first asked.
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

__all__ = ["DbChatMagics", "load_ipython_extension", "unload_ipython_extension"]


@magics_class
class DbChatMagics(Magics):
    """``%%dbchat`` and ``%dbchat``."""

    @cell_magic("dbchat")
    def dbchat_cell(self, line: str, cell: str | None = None) -> None:
        """Ask the serving endpoint; see ``%%dbchat?`` for options."""
        from dbchat_magic.magic._cell import run_cell
        from dbchat_magic.magic._compare_cell import is_compare, run_compare_blocking

        if is_compare(line):
            run_compare_blocking(self.shell, line, cell)
        else:
            run_cell(self.shell, line, cell)

    @line_magic("dbchat")
    def dbchat_line(self, line: str) -> Any:
        """``%dbchat config|use NAME|endpoints|history|reset|panel|export PATH|last``."""
        from dbchat_magic.magic._commands import run_command

        return run_command(self.shell, line)


def _attach_help() -> None:
    """Give ``%%dbchat?`` the full option list without importing heavy modules at load time."""
    from dbchat_magic.magic._cell import dbchat_cell_help
    from dbchat_magic.magic._commands import COMMANDS_HELP

    DbChatMagics.dbchat_cell.__doc__ = dbchat_cell_help.__doc__
    DbChatMagics.dbchat_line.__doc__ = COMMANDS_HELP


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (``%load_ext dbchat_magic``)."""
    _attach_help()
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
