"""Cutting text to a token budget (the estimate itself is `dbchat_magic.tokens`)."""

from __future__ import annotations

from dbchat_magic.tokens import estimate_tokens


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
