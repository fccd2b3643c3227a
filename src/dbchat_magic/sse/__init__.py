"""Server-sent events from raw bytes: `SSEDecoder` (WHATWG rules, bounded), `ServerSentEvent`,
`EventTooLarge`."""

from dbchat_magic.sse._decoder import EventTooLarge, SSEDecoder
from dbchat_magic.sse._event import ServerSentEvent

__all__ = ["EventTooLarge", "SSEDecoder", "ServerSentEvent"]
