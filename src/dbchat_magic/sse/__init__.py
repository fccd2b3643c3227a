"""Server-sent events from raw bytes: `SSEDecoder` (WHATWG rules) and `ServerSentEvent`."""

from dbchat_magic.sse._decoder import SSEDecoder
from dbchat_magic.sse._event import ServerSentEvent

__all__ = ["SSEDecoder", "ServerSentEvent"]
