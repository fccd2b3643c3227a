"""Widget lifetime in-process: a retired view and a panel's hidden turns keep no open widget.

The kernel-level counts after many answers are in tests/kernel/test_lifetime_kernel.py.
"""

from __future__ import annotations

import pytest

from dbchat_magic.config import Settings
from dbchat_magic.result import ChatResult
from dbchat_magic.simulator import LLAMA, Simulator

pytest.importorskip("ipywidgets")

from dbchat_magic.ui import ChatPanel
from dbchat_magic.ui._answer_view import WidgetAnswerView
from dbchat_magic.ui._widget_lifetime import close_tree, live_widgets, tree


@pytest.fixture
def live(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    Settings().replace(endpoint=LLAMA).save()
    return sim


def _open_under(root: object) -> list[object]:
    return [w for w in tree(root) if getattr(w, "comm", None) is not None]


def test_a_view_tree_includes_layouts_and_styles() -> None:
    view = WidgetAnswerView(endpoint="sim", on_stop=lambda: None)
    widgets = tree(view.widget)
    assert view.widget.layout in widgets and view.stop_button.layout in widgets
    assert view.status.layout in widgets and view.reasoning_out in widgets
    if hasattr(view.stop_button, "style"):
        assert view.stop_button.style in widgets
    assert len(widgets) == len({id(w) for w in widgets}) >= 20
    close_tree(view.widget)


def test_retire_closes_every_widget_and_comm_of_the_view() -> None:
    before = set(live_widgets())
    view = WidgetAnswerView(endpoint="sim", on_stop=lambda: None)
    made = set(live_widgets()) - before
    assert len(made) >= 20  # ~24: ten widgets, their layouts, and styles
    result = ChatResult(endpoint="sim", status="completed", text="done")
    view.finish(result)
    view.retire()
    assert set(live_widgets()) - before == set()
    assert _open_under(view.widget) == []
    view.update(result)  # a late update on a retired view is ignored, never an error
    view.retire()  # and retiring twice is harmless


def test_a_closed_view_renders_nothing_more() -> None:
    view = WidgetAnswerView(endpoint="sim", on_stop=None, stop_mode="hint")
    view.close()
    view.finish(ChatResult(endpoint="sim", status="completed", text="late"))
    assert view.answer.outputs == ()


def test_hidden_panel_turns_keep_no_widgets_and_come_back_from_data(live: Simulator) -> None:
    panel = ChatPanel(list_endpoints=False, namespace={}, visible_turns=2)
    counts = []
    for i in range(6):
        panel.ask(f"question {i}")
        assert panel.wait(60) is not None
        counts.append(len(live_widgets()))
    assert counts[1] == counts[2] == counts[5], counts  # flat once the window is full
    hidden = panel.turns[:4]
    assert all(t.view is None and t.widget is None for t in hidden)
    assert [t.result.status for t in hidden] == ["completed"] * 4  # type: ignore[union-attr]
    panel.show_earlier()
    restored = panel.turns[2]
    assert restored.view is not None and restored.widget in panel.history.children
    shown = restored.view.answer.outputs[0]["data"]["text/plain"]
    assert shown == restored.result.text  # type: ignore[union-attr]
    assert LLAMA in restored.view.footer.value
    panel.ask("one more")
    panel.wait(60)
    assert restored.view is None  # it left the window again: closed
    assert len(live_widgets()) == counts[5]


def test_panel_close_closes_everything(live: Simulator) -> None:
    before = set(live_widgets())
    panel = ChatPanel(list_endpoints=False, namespace={}, visible_turns=1)
    panel.ask("hello")
    panel.wait(60)
    assert set(live_widgets()) - before
    panel.close()
    assert set(live_widgets()) - before == set()


def test_sending_an_answer_leaves_no_utf8_copy_in_the_text_it_keeps() -> None:
    """Serializing a non-ASCII string caches its UTF-8 form inside it for its lifetime (it then
    counts in ``sys.getsizeof``); what the settled output and the answer widget send must be
    their own strings, not the kept answer."""
    import sys

    import orjson

    from dbchat_magic.ui._answer_view import html_entry
    from dbchat_magic.ui._settled import AnswerOutput, sent_text

    texts = [f"Umsatz {i} über Plan 🙂 数据 " * 20 for i in range(50)]  # kept, as a turn keeps it
    assert sent_text("plain ascii") == "plain ascii" and sent_text("a\x01b") == "ab"
    bundles = [b for text in texts for b in (AnswerOutput(text)._repr_mimebundle_(),
                                             html_entry("<p>x</p>", text)["data"])]
    assert all(b["text/plain"] in texts and all(b["text/plain"] is not t for t in texts)
               for b in bundles)
    sizes = [sys.getsizeof(t) for t in texts]
    for bundle in bundles:
        orjson.dumps(bundle)  # what jupyter_client's Session does with a message
    assert [sys.getsizeof(t) for t in texts] == sizes  # no UTF-8 form cached in a kept text
    orjson.dumps(texts[0])  # the check can fail: sending the kept string itself caches it
    assert sys.getsizeof(texts[0]) > sizes[0] + len(texts[0].encode())
