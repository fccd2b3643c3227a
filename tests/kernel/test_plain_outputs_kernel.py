"""Live views without widgets where the front end could not show them: an ipywidgets 7 kernel
(JupyterLab 4 has no widget manager for it) streams plain outputs updated by display id, and says
once why and what to install. ipywidgets 8 kernels keep their widgets; the setting decides too."""

from __future__ import annotations

from typing import Any

import pytest

from dbchat_magic.simulator import Gate

KernelHarness = Any  # the class lives in tests/kernel/conftest.py (not importable)
NOTE = "live widgets are off: this kernel has ipywidgets 7"


def _ipywidgets_major() -> int:
    import ipywidgets

    return int(ipywidgets.__version__.split(".")[0])


def _widget_opens(ex: Any) -> list[Any]:
    return [m for m in ex.of_type("comm_open")
            if m.content.get("target_name") == "jupyter.widget"]


def _updates(ex: Any) -> list[str]:
    return [str((m.content.get("data") or {}).get("text/plain", ""))
            for m in ex.of_type("update_display_data")]


def _html(ex: Any) -> str:
    """Every text/html the cell displayed or updated, joined."""
    return "\n".join(str((m.content.get("data") or {}).get("text/html", "")) for m in
                     ex.of_type("display_data", "update_display_data"))


def _set_widgets(kernel: KernelHarness, value: str) -> None:
    done = kernel.execute("from dbchat_magic.config import Settings\n"
                          f"Settings.load().replace(widgets={value!r}).save()")
    assert done.status == "ok", done.outputs


def _ask_held_mid_stream(kernel: KernelHarness, sim: Any, code: str) -> Any:
    """Run ``code`` with the answer held after its first words until an in-place update has
    shown them (no race with the render throttle), then let it finish."""
    gate = Gate(after_tokens=4)
    sim.set_pacing(gate=gate)
    try:
        ex = kernel.start(code)
        kernel.wait(ex, 60, until=lambda e: any("Simulated answer" in t for t in _updates(e)))
    finally:
        gate.open()
        sim.set_pacing(gate=None)
    return kernel.wait(ex, 60)


def _streamed_plainly(ex: Any) -> None:
    assert ex.status == "ok", ex.outputs
    assert not _widget_opens(ex)  # no widget model: nothing for a front end to fail on
    assert any("Simulated answer" in text for text in _updates(ex))  # streamed in place
    assert "Simulated answer" in ex.text_outputs()  # and settled as plain outputs


@pytest.mark.skipif(_ipywidgets_major() != 7, reason="the ipywidgets 7 stack (.venv-dbr)")
def test_an_ipywidgets7_kernel_streams_plain_outputs_and_says_why_once(kernel: KernelHarness,
                                                                       kernel_sim: Any):
    _set_widgets(kernel, "auto")
    first = _ask_held_mid_stream(kernel, kernel_sim, "%%dbchat\nhello")
    second = _ask_held_mid_stream(kernel, kernel_sim, "%%dbchat\nhello again")
    for ex in (first, second):
        _streamed_plainly(ex)
    assert NOTE in _html(first) and "ipywidgets&gt;=8" in _html(first)
    final = first.of_type("update_display_data")[-1].content["data"]
    assert NOTE in final["text/html"] and final["text/plain"] == "<dbchat answer>"  # it stays
    assert NOTE not in _html(second)  # said once per kernel
    panel = kernel.execute("%dbchat panel")
    assert panel.status == "ok" and NOTE in panel.stdout and not _widget_opens(panel)
    _set_widgets(kernel, "on")  # JupyterLab 3 / Notebook 6 users can force widgets
    forced = kernel.execute("%%dbchat\nwith widgets", timeout=60)
    assert forced.status == "ok" and _widget_opens(forced)


@pytest.mark.skipif(_ipywidgets_major() < 8, reason="the ipywidgets 8 stack (.venv)")
def test_an_ipywidgets8_kernel_keeps_widgets_unless_the_setting_is_off(kernel: KernelHarness,
                                                                       kernel_sim: Any):
    _set_widgets(kernel, "auto")
    live = kernel.execute("%%dbchat\nhello", timeout=60)
    assert live.status == "ok" and _widget_opens(live) and NOTE not in _html(live)
    _set_widgets(kernel, "off")
    try:
        plain = _ask_held_mid_stream(kernel, kernel_sim, "%%dbchat\nno widgets please")
    finally:
        _set_widgets(kernel, "on")
    _streamed_plainly(plain)
    assert NOTE not in _html(plain)  # asked for: nothing to explain


def test_a_plain_background_answer_settles_in_its_own_output(kernel: KernelHarness,
                                                             kernel_sim: Any):
    _set_widgets(kernel, "off")
    try:
        ex = kernel.execute("%%dbchat --background -o bg_plain\nin the background", timeout=60)
        assert ex.status == "ok" and not _widget_opens(ex)
        seen: list[Any] = []
        for _ in range(400):
            check = kernel.execute("print(globals().get('bg_plain') and bg_plain.status)")
            seen += check.messages
            if check.stdout.strip() == "completed":
                break
        assert check.stdout.strip() == "completed"
    finally:
        _set_widgets(kernel, "on")
    finals = [m for m in ex.messages + seen if m.msg_type == "update_display_data"]
    assert finals and "Simulated answer" in str(finals[-1].content["data"]["text/plain"])
    assert "first token" in str(finals[-1].content["data"]["text/plain"])  # the metrics too
