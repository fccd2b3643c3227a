"""Token estimates from characters (no tokenizer is available offline).

English and code average about 4 characters per token for the BPE tokenizers of the served models
(Llama 3, Claude, GPT); characters outside ASCII (CJK, symbols) are usually one token or more each,
so they count as one token apiece. The estimate is additive over pieces of text, give or take the
rounding of each piece, which is what the budget code relies on.
"""

from __future__ import annotations

import math

CHARS_PER_TOKEN = 4.0


def estimate_tokens(text: str) -> int:
    """Estimated token count of ``text`` (0 for an empty string)."""
    if not text:
        return 0
    if text.isascii():
        return math.ceil(len(text) / CHARS_PER_TOKEN)
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return math.ceil((len(text) - non_ascii) / CHARS_PER_TOKEN + non_ascii)


def truncate_to_tokens(text: str, budget: int, marker: str = "…") -> str:
    """Cut ``text`` so that its estimate stays within ``budget`` tokens, ending with ``marker``."""
    if estimate_tokens(text) <= budget:
        return text
    if budget <= estimate_tokens(marker):
        return ""
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits, by bisection (the estimate grows with the prefix)
        mid = (lo + hi + 1) // 2
        if estimate_tokens(text[:mid] + marker) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + marker
