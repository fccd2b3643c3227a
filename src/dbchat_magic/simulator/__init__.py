"""A Databricks Model Serving simulator: a real local HTTP server for demos, tests and benchmarks.

>>> with Simulator() as sim:             # doctest: +SKIP
...     os.environ.update(sim.env())     # DATABRICKS_HOST / DATABRICKS_TOKEN
...     sim.inject("429", retry_after=1)  # the next chat request is rate limited
"""

from __future__ import annotations

from dbchat_magic.simulator._endpoints import (
    CHAT_AGENT,
    CLAUDE,
    DEFAULT_ENDPOINTS,
    EMBEDDINGS,
    LLAMA,
    NOT_READY,
    REASONING,
    RESPONSES_AGENT,
    Endpoint,
)
from dbchat_magic.simulator._faults import FAULT_NAMES, RESPONSE_FAULTS, STREAM_FAULTS, Fault
from dbchat_magic.simulator._responders import (
    Reply,
    Responder,
    ScriptedResponder,
    SimRequest,
    content_text,
    default_reply,
    tokenize,
)
from dbchat_magic.simulator._server import Simulator
from dbchat_magic.simulator._stats import Disconnect, LogEntry, Stats
from dbchat_magic.simulator._stream import Gate

__all__ = [
    "CHAT_AGENT",
    "CLAUDE",
    "DEFAULT_ENDPOINTS",
    "EMBEDDINGS",
    "FAULT_NAMES",
    "LLAMA",
    "NOT_READY",
    "REASONING",
    "RESPONSES_AGENT",
    "RESPONSE_FAULTS",
    "STREAM_FAULTS",
    "Disconnect",
    "Endpoint",
    "Fault",
    "Gate",
    "LogEntry",
    "Reply",
    "Responder",
    "ScriptedResponder",
    "SimRequest",
    "Simulator",
    "Stats",
    "content_text",
    "default_reply",
    "tokenize",
]
