"""Where the history database lives.

1. The ``history_path`` setting, when set (a file, or a directory to hold ``history.db``).
2. On Databricks (``DATABRICKS_RUNTIME_VERSION`` set): ``/Workspace/Users/<user>/.dbchat/
   history.db`` when the user's workspace folder exists and is writable (it survives a cluster
   restart); the user comes from the notebook's working directory (DBR 14+: the notebook's
   folder) or the notebook context. Otherwise the config directory, which a cluster restart
   erases: a note says so and names ``history_path``. (A ``/Volumes/…`` path can be set too, but
   Databricks documents that volumes take no random writes, which SQLite needs: if opening or
   writing fails there, logging turns off with one note.)
3. Elsewhere: ``config_dir()/history.db`` (``$DBCHAT_CONFIG_DIR`` or ~/.config/dbchat-magic).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from dbchat_magic.config import config_dir

FILE_NAME = "history.db"
WORKSPACE_USERS = Path("/Workspace/Users")


def history_location(setting: str | os.PathLike[str] | None = None, *,
                     env: Mapping[str, str] | None = None, user: str | None = None,
                     workspace_users: Path = WORKSPACE_USERS) -> tuple[Path, str | None]:
    """The database path by the rule above, and a note when it will not survive a restart."""
    env = os.environ if env is None else env
    if setting:
        p = Path(setting).expanduser()
        return (p / FILE_NAME if p.is_dir() or str(setting).endswith(("/", os.sep)) else p), None
    local = config_dir() / FILE_NAME
    if not env.get("DATABRICKS_RUNTIME_VERSION"):
        return local, None
    user = user or _databricks_user(workspace_users)
    if user and "/" not in user and user not in (".", ".."):
        home = workspace_users / user
        if home.is_dir() and os.access(home, os.W_OK | os.X_OK):
            return home / ".dbchat" / FILE_NAME, None
    return local, (f"history is kept in {local}, which a cluster restart erases; set "
                   "history_path to a folder that lasts (your /Workspace/Users/… folder)")


def _databricks_user(workspace_users: Path) -> str | None:
    """The user name from the working directory under /Workspace/Users, else the notebook
    context (None when neither tells)."""
    try:
        rel = Path.cwd().relative_to(workspace_users)
        if rel.parts:
            return rel.parts[0]
    except (ValueError, OSError):
        pass
    dbutils = getattr(sys.modules.get("__main__"), "dbutils", None)
    try:
        ctx = dbutils.notebook.entry_point.getDbutils().notebook().getContext()  # type: ignore[union-attr]
        name = ctx.userName().get()
        return str(name) if name else None
    except Exception:
        return None
