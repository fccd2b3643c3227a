"""What an answer costs: a price table (endpoint name or glob → USD or DBU per million tokens),
lookup, cost of a `Usage`, and footer/total formatting.

Settings shape (key ``prices``), every number per million tokens::

    {"databricks-claude-*": {"input": 3.0, "output": 15.0},
     "my-pt-endpoint": {"input_dbu": 7.143, "output_dbu": 21.429, "usd_per_dbu": 0.07},
     "databricks-gpt-5": null,          # no price: hides a shipped default
     "usd_per_dbu": 0.07}               # the $/DBU rate for DBU entries without their own

Lookup: the user's table first, then the shipped defaults; in each, an exact name beats globs and
among globs the most specific wins (most literal characters). Without a known price there is no
cost (None), never a guess. Shipped defaults (`DEFAULTS`) are estimates: a cost from one, or from
estimated token counts, is "estimated" and shown as "≈ $…".
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dbchat_magic.errors import ConfigError
from dbchat_magic.result import Usage

__all__ = [
    "DEFAULTS",
    "DEFAULTS_AS_OF",
    "DEFAULT_USD_PER_DBU",
    "OPEN_FMS",
    "PER_MILLION",
    "PROPRIETARY_FMS",
    "Cost",
    "CostTotal",
    "Price",
    "PriceTable",
    "cost",
    "dbu_price",
    "default_prices",
    "format_cost",
    "format_total",
    "format_usd",
    "parse_prices",
    "total_cost",
]

PER_MILLION = 1_000_000
# List $/DBU of serverless real-time inference (AWS, US East, Premium) used by the sources below;
# rates differ by cloud, region, tier and contract: set "usd_per_dbu" to yours.
DEFAULT_USD_PER_DBU = 0.07
_RATE_KEY = "usd_per_dbu"
_USD_KEYS = frozenset({"input", "output"})
_DBU_KEYS = frozenset({"input_dbu", "output_dbu"})
_ENTRY_KEYS = _USD_KEYS | _DBU_KEYS | {_RATE_KEY}
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million input and output tokens; ``estimated`` for shipped defaults (and DBU
    prices converted at the assumed $/DBU rate). ``dbu`` keeps the DBU rates and $/DBU when the
    price was given in DBU."""

    input: float
    output: float
    estimated: bool = False
    source: str | None = None
    as_of: str | None = None
    dbu: tuple[float, float, float] | None = None  # (input_dbu, output_dbu, usd_per_dbu)


@dataclass(frozen=True, slots=True)
class Cost:
    """What one answer cost in USD; ``estimated`` when its price or its token counts were."""

    usd: float
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class CostTotal:
    """The sum over several answers: ``priced`` answers had a cost, ``unpriced`` had none."""

    usd: float
    estimated: bool
    priced: int
    unpriced: int


@dataclass(frozen=True)
class PriceTable:
    """Patterns → `Price` (None: "no price known", which stops the lookup), then ``fallback``."""

    entries: Mapping[str, Price | None] = field(default_factory=dict)
    fallback: PriceTable | None = None

    def lookup(self, endpoint: str) -> Price | None:
        """The price for ``endpoint``: exact name, else the most specific glob, else fallback."""
        if endpoint in self.entries:
            return self.entries[endpoint]
        globs = [p for p in self.entries if _is_glob(p) and fnmatch.fnmatchcase(endpoint, p)]
        if globs:
            return self.entries[max(globs, key=_specificity)]
        return self.fallback.lookup(endpoint) if self.fallback is not None else None

    def cost(self, usage: Usage, endpoint: str) -> Cost | None:
        """The cost of ``usage`` on ``endpoint`` (None when no price is known)."""
        price = self.lookup(endpoint)
        return cost(usage, price) if price is not None else None

    def to_dict(self) -> dict[str, Any]:
        """This table's own entries as settings JSON (what `parse_prices` reads back)."""
        return {name: _entry_dict(p) for name, p in self.entries.items()}


def _is_glob(pattern: str) -> bool:
    return any(c in _GLOB_CHARS for c in pattern)


def _specificity(pattern: str) -> tuple[int, int, str]:
    """More literal characters first (``*``, ``?`` and a ``[...]`` class count none), then the
    longer pattern, then a fixed order."""
    literal, i = 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "[":
            end = pattern.find("]", i + 2)
            if end != -1:
                i = end + 1
                continue
            literal += 1  # an unclosed "[" is a literal character to fnmatch
        elif c not in "*?":
            literal += 1
        i += 1
    return literal, len(pattern), pattern


def _entry_dict(price: Price | None) -> dict[str, float] | None:
    if price is None:
        return None
    if price.dbu is None:
        return {"input": price.input, "output": price.output}
    out = {"input_dbu": price.dbu[0], "output_dbu": price.dbu[1]}
    if not price.estimated:  # the rate was given, not assumed: keep it
        out[_RATE_KEY] = price.dbu[2]
    return out


def cost(usage: Usage, price: Price) -> Cost | None:
    """USD for ``usage`` at ``price``; None when a token count is missing."""
    if usage.prompt_tokens is None or usage.completion_tokens is None:
        return None
    usd = (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / PER_MILLION
    return Cost(usd, estimated=usage.estimated or price.estimated)


def total_cost(costs: Iterable[Cost | None]) -> CostTotal:
    """Add up answers' costs; None entries (no price known) are counted as ``unpriced``."""
    usd, estimated, priced, unpriced = 0.0, False, 0, 0
    for c in costs:
        if c is None:
            unpriced += 1
        else:
            usd += c.usd
            estimated = estimated or c.estimated
            priced += 1
    return CostTotal(usd, estimated, priced, unpriced)


def format_usd(usd: float) -> str:
    """Dollars with a precision that fits the amount: "$0.000096" (two significant digits below
    $0.0001), "$0.0004", "$0.0123", "$1.23", "$1,234"."""
    if usd == 0:
        return "$0.00"
    if usd < 1e-8:
        return "<$0.00000001"
    if usd < 0.0001:
        return f"${usd:.{1 - math.floor(math.log10(usd))}f}"
    if usd < 1:
        return f"${usd:.4f}"
    if usd < 1000:
        return f"${usd:,.2f}"
    return f"${usd:,.0f}"


def format_cost(c: Cost | None) -> str:
    """The footer text: "≈ $0.0004" (estimated), "$0.0123", or "" when no cost is known."""
    if c is None:
        return ""
    return ("≈ " if c.estimated else "") + format_usd(c.usd)


def format_total(total: CostTotal) -> str:
    """A conversation's total: "≈ $0.0123 for 4 answers (1 without a price)", "" when none."""
    if not total.priced:
        return ""
    text = ("≈ " if total.estimated else "") + format_usd(total.usd)
    text += f" for {total.priced} answer{'s' if total.priced != 1 else ''}"
    if total.unpriced:
        text += f" ({total.unpriced} without a price)"
    return text


def parse_prices(data: Mapping[str, Any] | None, *, defaults: bool = True,
                 where: str = "prices") -> PriceTable:
    """A `PriceTable` from settings JSON, the shipped defaults behind it (unless ``defaults``
    is False). Raises `ConfigError` naming the bad key."""
    fallback = default_prices() if defaults else None
    if data is None:
        return PriceTable({}, fallback)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be an object mapping endpoint names or glob patterns "
                          f"to prices (got {type(data).__name__})")
    rate_given = _is_rate(data.get(_RATE_KEY))
    rate = (_number(data[_RATE_KEY], f"{where}.{_RATE_KEY}", positive=True) if rate_given
            else DEFAULT_USD_PER_DBU)
    entries: dict[str, Price | None] = {}
    for name, value in data.items():
        if name == _RATE_KEY and rate_given:
            continue
        _check_pattern(name, where)
        entries[name] = _parse_entry(value, f"{where}[{name!r}]", rate, rate_given=rate_given)
    return PriceTable(entries, fallback)


def _is_rate(value: Any) -> bool:
    """The table-level "usd_per_dbu" holds a number; an object or null there is an endpoint."""
    return value is not None and not isinstance(value, Mapping)


def _check_pattern(name: Any, where: str) -> None:
    if not isinstance(name, str) or not name.strip() or "/" in name or len(name) > 200:
        raise ConfigError(f"{where}: {name!r} is not an endpoint name or glob pattern "
                          "(a non-empty name without '/', e.g. \"databricks-claude-*\")")


def _parse_entry(value: Any, where: str, rate: float, *, rate_given: bool) -> Price | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be an object such as {{\"input\": 0.5, \"output\": 1.5}} "
                          f"(USD per million tokens) or null (got {value!r})")
    keys = set(value)
    unknown = sorted(str(k) for k in keys - _ENTRY_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; use input/output (USD per "
                          "million tokens) or input_dbu/output_dbu (+ usd_per_dbu)")
    if keys & _USD_KEYS and keys & _DBU_KEYS:
        raise ConfigError(f"{where}: give either input/output (USD) or input_dbu/output_dbu, "
                          "not both")
    wanted = _DBU_KEYS if keys & _DBU_KEYS else _USD_KEYS
    missing = sorted(wanted - keys)
    if missing:
        raise ConfigError(f"{where}: missing {missing[0]!r}")
    if wanted is _USD_KEYS:
        if _RATE_KEY in keys:
            raise ConfigError(f"{where}: usd_per_dbu only goes with input_dbu/output_dbu")
        return Price(_number(value["input"], f"{where}.input"),
                     _number(value["output"], f"{where}.output"))
    own_rate = _RATE_KEY in keys
    if own_rate:
        rate = _number(value[_RATE_KEY], f"{where}.{_RATE_KEY}", positive=True)
    return dbu_price(_number(value["input_dbu"], f"{where}.input_dbu"),
                     _number(value["output_dbu"], f"{where}.output_dbu"), rate,
                     estimated=not (rate_given or own_rate))


def _number(value: Any, where: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where} must be a number (got {value!r})")
    if value < 0 or (positive and value == 0) or value > 1e6:
        bound = "above 0" if positive else "at least 0"
        raise ConfigError(f"{where} must be {bound} and at most 1,000,000 (got {value!r})")
    return float(value)


def dbu_price(input_dbu: float, output_dbu: float, usd_per_dbu: float = DEFAULT_USD_PER_DBU, *,
              estimated: bool = False, source: str | None = None,
              as_of: str | None = None) -> Price:
    """A `Price` from DBU per million tokens at ``usd_per_dbu``."""
    return Price(input_dbu * usd_per_dbu, output_dbu * usd_per_dbu, estimated=estimated,
                 source=source, as_of=as_of, dbu=(input_dbu, output_dbu, usd_per_dbu))


# --- shipped defaults: Databricks pay-per-token foundation models only -------------------------
# DBU per million tokens from the "Standard Pay Per Token" tables of the two Databricks pricing
# pages below, as recorded by BerriAI/litellm model_prices_and_context_window.json (commit
# 00035b69f416, whose entries name these pages as their source). The pages state no date; the
# numbers were retrieved on DEFAULTS_AS_OF. Independent pages agree: usagepricing.com ("list prices
# as of June 2026": Llama 4 Maverick 7.143/21.429, Llama 3.1 8B 2.143/6.429, GPT OSS 20B
# 1.000/4.286) and databrickspricing.com ("updated April 2026": Llama 3.3 70B $0.50/$1.50).
# Converted at DEFAULT_USD_PER_DBU; all are estimates (long-context tiers, regions, discounts and
# contracts differ). Retired models and embeddings are left out.
OPEN_FMS = "https://www.databricks.com/product/pricing/foundation-model-serving"
PROPRIETARY_FMS = "https://www.databricks.com/product/pricing/proprietary-foundation-model-serving"
DEFAULTS_AS_OF = "2026-12-01 (retrieved; the page states no date)"
_DEFAULT_DBU: tuple[tuple[str, float, float, str], ...] = (
    ("databricks-meta-llama-3-3-70b-instruct", 7.143, 21.429, OPEN_FMS),
    ("databricks-meta-llama-3-1-8b-instruct", 2.143, 6.429, OPEN_FMS),
    ("databricks-llama-4-maverick", 7.143, 21.429, OPEN_FMS),
    ("databricks-gpt-oss-120b", 2.143, 8.571, OPEN_FMS),
    ("databricks-gpt-oss-20b", 1.0, 4.286, OPEN_FMS),
    ("databricks-gemma-3-12b", 2.143, 7.143, OPEN_FMS),
    ("databricks-claude-3-7-sonnet", 42.857, 214.286, PROPRIETARY_FMS),
    ("databricks-claude-sonnet-4", 42.857, 214.286, PROPRIETARY_FMS),
    ("databricks-claude-sonnet-4-5", 42.857, 214.286, PROPRIETARY_FMS),
    ("databricks-claude-haiku-4-5", 14.286, 71.429, PROPRIETARY_FMS),
    ("databricks-claude-opus-4", 214.286, 1071.429, PROPRIETARY_FMS),
    ("databricks-claude-opus-4-1", 214.286, 1071.429, PROPRIETARY_FMS),
    ("databricks-claude-opus-4-5", 71.429, 357.143, PROPRIETARY_FMS),
    ("databricks-gemini-2-5-flash", 4.286, 35.714, PROPRIETARY_FMS),
    ("databricks-gemini-2-5-pro", 17.857, 142.857, PROPRIETARY_FMS),
    ("databricks-gpt-5", 17.857, 142.857, PROPRIETARY_FMS),
    ("databricks-gpt-5-1", 17.857, 142.857, PROPRIETARY_FMS),
    ("databricks-gpt-5-mini", 3.571, 28.571, PROPRIETARY_FMS),
    ("databricks-gpt-5-nano", 0.714, 5.714, PROPRIETARY_FMS),
)
DEFAULTS: Mapping[str, Price] = {
    name: dbu_price(i, o, estimated=True, source=src, as_of=DEFAULTS_AS_OF)
    for name, i, o, src in _DEFAULT_DBU
}


def default_prices() -> PriceTable:
    """The shipped defaults alone (exact endpoint names; estimates)."""
    return PriceTable(DEFAULTS)
