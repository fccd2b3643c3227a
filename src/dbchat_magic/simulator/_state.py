"""`ServerState`: what the request handler reads and updates — the simulator's settings, its
pending faults and its statistics. The `Simulator` owns one and exposes its fields."""

from __future__ import annotations

from dataclasses import dataclass

from dbchat_magic.simulator._endpoints import Endpoint
from dbchat_magic.simulator._faults import FaultBook
from dbchat_magic.simulator._responders import ScriptedResponder
from dbchat_magic.simulator._stats import Stats
from dbchat_magic.simulator._stream import Pacing


@dataclass
class ServerState:
    """One simulator's behaviour as the request handler sees it (changed from the test thread,
    read on the server loop: plain attribute reads and writes)."""

    token: str | None
    endpoints: dict[str, Endpoint]
    pacing: Pacing
    responder: ScriptedResponder
    reply_tokens: int
    idle_timeout: float | None
    """Close a keep-alive connection that waits longer than this for its next request, as the
    load balancers in front of Databricks do (None: keep idle connections forever)."""
    oauth_client: tuple[str, str]
    stats: Stats
    faults: FaultBook
