"""The streaming chat client: `ChatClient`, `EndpointInfo`, and the typed events it yields.

``ChatClient(settings).stream(messages)`` yields `TextDelta` / `ReasoningDelta` / `UsageUpdate` /
`StreamEnd`; ``await ChatClient(settings).complete(messages)`` returns a `ChatResult`. Importing
this package does not import databricks-sdk.
"""

from dbchat_magic.client._accumulate import end_result
from dbchat_magic.client._client import ChatClient, EndpointInfo
from dbchat_magic.client._ratelimit import RateLimiter
from dbchat_magic.client._request import MAX_BODY_BYTES, chat_url
from dbchat_magic.client._server_probe import ModelList
from dbchat_magic.events import ReasoningDelta, StreamEnd, StreamEvent, TextDelta, UsageUpdate
from dbchat_magic.result import ChatResult, Metrics, Usage

__all__ = [
    "MAX_BODY_BYTES",
    "ChatClient",
    "ChatResult",
    "EndpointInfo",
    "Metrics",
    "ModelList",
    "RateLimiter",
    "ReasoningDelta",
    "StreamEnd",
    "StreamEvent",
    "TextDelta",
    "Usage",
    "UsageUpdate",
    "chat_url",
    "end_result",
]
