"""The demo model over real loopback HTTP: data-aware specs, the repair turn, the guard."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from dbchat_magic import prompts
from dbchat_magic.config import Settings
from dbchat_magic.conversation import Conversation
from dbchat_magic.session import AskOptions, Session
from dbchat_magic.simulator import CHAT_AGENT, LLAMA, RESPONSES_AGENT, SimRequest, Simulator
from dbchat_magic.simulator.demo_model import demo_model, parse_data_context, repair
from dbchat_magic.specs import REPAIR_MARKER, extract_specs, repair_message, validate_spec
from dbchat_magic.specs._records import csv_values


@pytest.fixture(scope="module")
def ns() -> dict:
    rng = np.random.default_rng(5)
    n = 3000
    sales = pd.DataFrame({
        "region": rng.choice(["EU", "US", "APAC"], n),
        "product": rng.choice(["tea", "coffee"], n),
        "revenue": (rng.random(n) * 100).round(2),
        "order_date": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 14, n), "D"),
    })
    people = pd.DataFrame({"name": ["Ann", "Bob"], "age": [31, 45]})
    return {"sales": sales, "people": people}


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator(responder=demo_model) as sim:
        for key, value in sim.env().items():
            monkeypatch.setenv(key, value)
        yield sim


def _ask(question: str, ns: dict, *, frames: list[str] | None = None, **settings) -> tuple:
    current = Settings(endpoint=LLAMA).replace(**settings)
    session = Session(Conversation("demo"), settings=lambda: current)
    prepared = session.prepare(question, AskOptions(frames=frames), ns)
    result = session.start(prepared, ns).wait(60)
    assert result.status == "completed", result.error
    return result, result.extras.get("specs", [])


def test_reads_the_data_context_the_prompt_composer_writes(ns):
    text = prompts.describe_frames({**ns, "s": pd.Series([1.5], name="price")})
    frames = {f.name: f for f in parse_data_context(text)}
    assert set(frames) == {"sales", "people", "s"}
    assert frames["sales"].columns.keys() == {"region", "product", "revenue", "order_date"}
    assert frames["sales"].of_class("date") == ["order_date"]
    assert frames["sales"].of_class("numeric") == ["revenue"]
    assert frames["people"].rows == "2" and frames["s"].kind == "pandas Series"


@pytest.mark.parametrize(("question", "kind", "check"), [
    ("What is revenue by region?", "chart", lambda s: s["mark"] == "bar"
     and s["x"]["field"] == "region" and s["y"]["aggregate"] == "sum"),
    ("Average revenue by product please", "chart", lambda s: s["x"]["field"] == "product"
     and s["y"]["aggregate"] == "mean"),
    ("Show the daily trend of revenue", "chart", lambda s: s["mark"] == "line"
     and s["x"] == {"field": "order_date", "type": "temporal", "timeUnit": "day"}),
    ("Show me the top 5 orders", "table", lambda s: s["limit"] == 5
     and s["sort"] == "-revenue"),
    ("What is the total revenue?", "kpi", lambda s: s["aggregate"] == "sum"
     and s["field"] == "revenue"),
    ("How many orders are there?", "kpi", lambda s: s["aggregate"] == "count"),
])
def test_questions_get_valid_specs_that_render(demo, ns, question, kind, check):
    result, rendered = _ask(question, ns, frames=["sales"])
    [found] = extract_specs(result.text)
    assert found.spec["widget"] == kind and check(found.spec), found.spec
    assert validate_spec(found.spec, ns) == []
    assert [r.kind for r in rendered] == [kind] and rendered[0].ok
    assert demo.stats.requests == 1 and not result.extras.get("repaired")
    assert result.text.split("\n")[0].endswith(".")


def test_broken_spec_is_repaired_in_one_turn(demo, ns):
    result, rendered = _ask("Show revenue by region, broken please", ns, frames=["sales"])
    [first] = extract_specs(result.text)
    assert first.spec["x"]["field"] == "rgeion"
    assert demo.stats.requests == 2 and result.extras["repaired"] is True
    assert result.extras["repair"]["errors_before"] == [
        'x.field: no column "rgeion" in sales; did you mean "region"?']
    sent = demo.stats.last_body["messages"][-1]["content"]
    assert sent.startswith(REPAIR_MARKER) and '"rgeion"' in sent
    assert rendered[0].kind == "chart" and rendered[0].ok
    values = csv_values(rendered[0].vegalite["data"])
    want = ns["sales"].groupby("region")["revenue"].sum()
    assert {v["region"]: v["sum_revenue"] for v in values} == pytest.approx(want.to_dict())


def test_repair_off_shows_the_errors(demo, ns):
    _, rendered = _ask("revenue by region broken", ns, frames=["sales"], spec_repair=False)
    assert demo.stats.requests == 1
    assert rendered[0].kind == "error"
    assert rendered[0].errors == ['x.field: no column "rgeion" in sales; did you mean "region"?']


def test_hostile_spec_is_rejected_even_after_the_repair_turn(demo, ns):
    result, rendered = _ask("draw something hostile with sales", ns, frames=["sales"])
    assert demo.stats.requests == 2 and not result.extras.get("repaired")
    [r] = rendered
    assert r.kind == "error" and r.vegalite is None
    assert r.errors[0] == 'spec.data.url: the data comes from the frame named in "data"; remove it'
    assert "example.com" not in str(r.mimebundle.get("image/svg+xml", ""))


def test_picks_the_frame_named_in_the_question(demo, ns):
    _, rendered = _ask("list people", ns)
    assert rendered[0].kind == "table"
    assert "Ann" in rendered[0].mimebundle["text/plain"]


def test_no_frames_gives_a_plain_answer(demo):
    result, rendered = _ask("revenue by region?", {})
    assert rendered == [] and "-d name" in result.text


def test_repair_applies_each_hint():
    spec = {"widget": "chart", "data": "sale", "mark": "bar",
            "x": {"field": "regon", "type": "quantitative"},
            "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"},
            "filters": [{"field": "Region", "op": "==", "value": "EU"}]}
    message = repair_message(spec, [
        'data: no DataFrame named "sale"; did you mean "sales"?',
        'x.type: "region" is str, not numeric; use "nominal"',
        'filters[0].field: no column "Region" in sales; did you mean "region"?'])
    [fixed] = extract_specs(repair(message))
    assert fixed.spec["data"] == "sales" and fixed.spec["x"]["type"] == "nominal"
    assert fixed.spec["filters"][0]["field"] == "region"


def test_responder_is_deterministic(ns):
    system = prompts.describe_frames(ns)
    req = SimRequest(LLAMA, [{"role": "system", "content": system},
                             {"role": "user", "content": "revenue by region"}], {}, {})
    assert demo_model(req) == demo_model(req)


@pytest.mark.parametrize("endpoint", [CHAT_AGENT, RESPONSES_AGENT])
def test_demo_model_answers_through_an_agent_endpoint(demo, ns, endpoint):
    """The demo model behind a ChatAgent / ResponsesAgent: same chart, plus the agent's steps."""
    result, rendered = _ask("What is revenue by region?", ns, frames=["sales"], endpoint=endpoint)
    [found] = extract_specs(result.text)
    assert found.spec["widget"] == "chart" and found.spec["x"]["field"] == "region"
    assert [r.kind for r in rendered] == ["chart"] and rendered[0].ok
    assert [s.kind for s in result.steps] == ["call", "output"]
