"""Prices: parsing settings JSON (clear errors naming the key), lookup (exact beats the most
specific glob; the user's table before the shipped defaults), cost of a real answer's usage,
estimated costs, formatting, totals, and the shipped defaults' provenance."""

from __future__ import annotations

import json
import math

import pytest

from client_helpers import ask, client_for
from dbchat_magic.errors import ConfigError
from dbchat_magic.pricing import (
    DEFAULT_USD_PER_DBU,
    DEFAULTS,
    OPEN_FMS,
    PROPRIETARY_FMS,
    Cost,
    Price,
    PriceTable,
    cost,
    default_prices,
    format_cost,
    format_total,
    format_usd,
    parse_prices,
    total_cost,
)
from dbchat_magic.result import Usage
from dbchat_magic.simulator import CLAUDE, LLAMA, Simulator


def test_exact_name_beats_globs_and_the_most_specific_glob_wins() -> None:
    table = parse_prices({
        "*": {"input": 1, "output": 1},
        "databricks-*": {"input": 2, "output": 2},
        "databricks-claude-*": {"input": 3, "output": 3},
        "databricks-claude-3-7-sonnet": {"input": 4, "output": 4},
        "databricks-c?aude-*": {"input": 5, "output": 5},  # fewer literal characters than the above
    }, defaults=False)
    assert table.lookup("databricks-claude-3-7-sonnet").input == 4
    assert table.lookup("databricks-claude-opus-4").input == 3
    assert table.lookup("databricks-gpt-5").input == 2
    assert table.lookup("my-endpoint").input == 1


def test_user_table_comes_before_defaults_and_null_hides_a_default() -> None:
    table = parse_prices({"databricks-claude-*": {"input": 9, "output": 9},
                          "databricks-gpt-5": None})
    assert table.lookup("databricks-claude-sonnet-4-5").input == 9  # user glob beats default exact
    assert table.lookup("databricks-gpt-5") is None
    default = table.lookup("databricks-gpt-5-mini")
    assert default is DEFAULTS["databricks-gpt-5-mini"] and default.estimated


def test_no_price_known_means_no_cost() -> None:
    table = parse_prices(None)
    assert table.lookup("my-custom-endpoint") is None
    assert table.cost(Usage(100, 100, 200), "my-custom-endpoint") is None
    assert format_cost(None) == ""
    assert parse_prices({}, defaults=False).lookup(LLAMA) is None


def test_cost_arithmetic_and_missing_counts() -> None:
    price = Price(input=3.0, output=15.0)
    c = cost(Usage(prompt_tokens=1000, completion_tokens=200, total_tokens=1200), price)
    assert c is not None and math.isclose(c.usd, (1000 * 3 + 200 * 15) / 1e6)
    assert not c.estimated
    assert cost(Usage(prompt_tokens=None, completion_tokens=5), price) is None


def test_estimated_usage_or_default_price_makes_the_cost_estimated() -> None:
    exact = Price(1.0, 2.0)
    assert cost(Usage(10, 10, 20, estimated=True), exact).estimated
    assert cost(Usage(10, 10, 20), DEFAULTS[LLAMA]).estimated
    assert format_cost(Cost(0.0004, estimated=True)) == "≈ $0.0004"
    assert format_cost(Cost(0.0123)) == "$0.0123"


def test_cost_of_real_answers_from_the_simulator(sim: Simulator) -> None:
    """Server usage (Llama) gives an exact count; the price comes from the user's table."""
    table = parse_prices({LLAMA: {"input": 0.5, "output": 1.5}})
    r = ask(client_for(sim))
    assert r.ok and not r.usage.estimated
    c = table.cost(r.usage, r.endpoint)
    want = (r.usage.prompt_tokens * 0.5 + r.usage.completion_tokens * 1.5) / 1e6
    assert c is not None and math.isclose(c.usd, want) and not c.estimated
    assert format_cost(c) == format_usd(want) and not format_cost(c).startswith("≈")


def test_cut_off_answer_with_counted_tokens_is_estimated() -> None:
    """A stream cut before any usage chunk: the client counts tokens, so the cost is ≈."""
    with Simulator() as sim:
        sim.inject("disconnect", after=3)
        r = ask(client_for(sim, max_retries=0), endpoint=CLAUDE)
    assert r.status in ("failed", "truncated") and r.usage.estimated
    c = parse_prices({CLAUDE: {"input": 3, "output": 15}}, defaults=False).cost(r.usage, CLAUDE)
    assert c is not None and c.estimated and format_cost(c).startswith("≈ $")


@pytest.mark.parametrize(("usd", "text"), [
    (0, "$0.00"), (1e-9, "<$0.00000001"), (0.0000961, "$0.000096"), (0.00004, "$0.000040"),
    (0.0004, "$0.0004"), (0.01234, "$0.0123"),
    (0.99994, "$0.9999"), (1.234, "$1.23"), (999.99, "$999.99"), (1234.5, "$1,234"),
])
def test_format_usd_precision(usd: float, text: str) -> None:
    assert format_usd(usd) == text


def test_conversation_total_counts_unpriced_answers() -> None:
    total = total_cost([Cost(0.01), None, Cost(0.002, estimated=True)])
    assert math.isclose(total.usd, 0.012) and total.estimated
    assert (total.priced, total.unpriced) == (2, 1)
    assert format_total(total) == "≈ $0.0120 for 2 answers (1 without a price)"
    assert format_total(total_cost([Cost(0.5)])) == "$0.5000 for 1 answer"
    assert format_total(total_cost([None, None])) == ""


def test_dbu_prices_use_the_rate_and_are_estimated_only_when_it_was_assumed() -> None:
    assumed = parse_prices({"pt": {"input_dbu": 10, "output_dbu": 20}}, defaults=False)
    p = assumed.lookup("pt")
    assert math.isclose(p.input, 10 * DEFAULT_USD_PER_DBU) and p.estimated
    table_rate = parse_prices({"pt": {"input_dbu": 10, "output_dbu": 20}, "usd_per_dbu": 0.1},
                              defaults=False)
    assert math.isclose(table_rate.lookup("pt").output, 2.0)
    assert not table_rate.lookup("pt").estimated
    own = parse_prices({"pt": {"input_dbu": 10, "output_dbu": 20, "usd_per_dbu": 0.2}},
                       defaults=False)
    assert math.isclose(own.lookup("pt").input, 2.0) and not own.lookup("pt").estimated


def test_round_trip_through_settings_json() -> None:
    data = {"a-*": {"input": 1.25, "output": 10.0}, "b": None,
            "pt": {"input_dbu": 7.0, "output_dbu": 21.0, "usd_per_dbu": 0.1}}
    table = parse_prices(data, defaults=False)
    again = parse_prices(json.loads(json.dumps(table.to_dict())), defaults=False)
    assert again.to_dict() == table.to_dict() == data


@pytest.mark.parametrize(("data", "message"), [
    ([1, 2], "prices must be an object"),
    ({"x": 3}, "prices['x'] must be an object"),
    ({"x": {"input": 1}}, "prices['x']: missing 'output'"),
    ({"x": {"input": "cheap", "output": 1}}, "prices['x'].input must be a number"),
    ({"x": {"input": -1, "output": 1}}, "prices['x'].input must be at least 0"),
    ({"x": {"input": float("nan"), "output": 1}}, "prices['x'].input must be a number"),
    ({"x": {"input": True, "output": 1}}, "prices['x'].input must be a number"),
    ({"x": {"input": 1, "output": 1, "currency": "EUR"}}, "unknown key 'currency'"),
    ({"x": {"input": 1, "output": 1, "input_dbu": 2}}, "not both"),
    ({"x": {"input": 1, "output": 1, "usd_per_dbu": 2}}, "usd_per_dbu only goes with"),
    ({"x": {"input_dbu": 1, "output_dbu": 1, "usd_per_dbu": 0}}, "usd_per_dbu must be above 0"),
    ({"usd_per_dbu": "a lot"}, "prices.usd_per_dbu must be a number"),
    ({"a/b": {"input": 1, "output": 1}}, "is not an endpoint name or glob pattern"),
    ({"": {"input": 1, "output": 1}}, "is not an endpoint name or glob pattern"),
])
def test_bad_price_tables_name_the_key(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_prices(data)  # type: ignore[arg-type]


def test_hostile_pattern_text_is_only_a_pattern() -> None:
    """Patterns are fnmatch globs, never regexes ("." is a plain dot); a class counts as no
    literal character when ranking."""
    table = parse_prices({"[!a]*": {"input": 1, "output": 1}, ".*": {"input": 2, "output": 2}},
                         defaults=False)
    assert table.lookup("abc") is None and table.lookup("bcd").input == 1
    assert table.lookup(".x").input == 2  # "." literal beats a class
    assert table.lookup("xx").input == 1  # ".*" is no regex: it needs a leading dot


def test_defaults_are_databricks_pay_per_token_with_source_and_date() -> None:
    assert DEFAULTS, "defaults ship"
    for name, price in DEFAULTS.items():
        assert name.startswith("databricks-") and name == name.lower()
        assert price.estimated and price.source in (OPEN_FMS, PROPRIETARY_FMS)
        assert price.as_of and price.as_of.startswith("20")
        assert price.dbu is not None and price.dbu[2] == DEFAULT_USD_PER_DBU
        assert 0 < price.input <= price.output
    # spot checks against the published DBU tables ($0.50 / $1.50 per 1M for Llama 3.3 70B)
    llama = default_prices().lookup(LLAMA)
    assert math.isclose(llama.input, 0.5, rel_tol=1e-3)
    assert math.isclose(llama.output, 1.5, rel_tol=1e-3)
    assert "databricks-gte-large-en" not in DEFAULTS  # embeddings are not chat answers


def test_empty_table_has_no_fallback_surprises() -> None:
    assert PriceTable().lookup(LLAMA) is None
    assert PriceTable().to_dict() == {}
