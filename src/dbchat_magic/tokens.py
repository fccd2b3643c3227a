"""Token estimates from characters: the one estimate every budget, usage figure and rate limit
uses when the server gives no count (no tokenizer is available offline).

English and code average about 4 characters per token for the BPE tokenizers of the served models
(Llama 3, Claude, GPT); characters outside ASCII (CJK, symbols) are usually one token or more each,
so they count as one token apiece. The estimate is additive over pieces of text, give or take the
rounding of each piece, which is what the budget code relies on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CHARS_PER_TOKEN", "estimate_message_tokens", "estimate_tokens"]

CHARS_PER_TOKEN = 4.0


def estimate_tokens(text: str) -> int:
    """Estimated token count of ``text`` (0 for an empty string)."""
    if not text:
        return 0
    if text.isascii():
        return math.ceil(len(text) / CHARS_PER_TOKEN)
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return math.ceil((len(text) - non_ascii) / CHARS_PER_TOKEN + non_ascii)


def estimate_message_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Estimated tokens of the contents of chat messages (string or text-block contents)."""
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += estimate_tokens(content)
        elif isinstance(content, list):
            total += sum(estimate_tokens(str(block.get("text", ""))) for block in content
                         if isinstance(block, dict))
    return total
