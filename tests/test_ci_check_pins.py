"""ci/check_pins.py, the CI guard that installing the wheel moves no runtime pin: it must fail when
a pin moves, vanishes or is off its runtime version, and when pip alone would replace one."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_pins", ROOT / "ci" / "check_pins.py")
assert _spec is not None and _spec.loader is not None
check_pins = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_pins)


@pytest.fixture
def pins(tmp_path: Path) -> Path:
    path = tmp_path / "constraints.txt"
    path.write_text("# a header\n\nIPython==8.30.0\ntyping_extensions==4.12.2  # note\n")
    return path


def test_reads_canonical_names(pins: Path) -> None:
    assert check_pins.read_pins(pins) == {"ipython": "8.30.0", "typing-extensions": "4.12.2"}


def test_a_range_is_not_a_pin(tmp_path: Path) -> None:
    bad = tmp_path / "c.txt"
    bad.write_text("pandas>=2\n")
    with pytest.raises(SystemExit, match="not a name==version pin"):
        check_pins.read_pins(bad)


def _compare(pins: Path, tmp_path: Path, before: dict, after: dict) -> int:
    for name, data in (("before", before), ("after", after)):
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    return check_pins.main(["compare", str(pins), str(tmp_path / "before.json"),
                            str(tmp_path / "after.json")])


def test_compare(pins: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same = {"ipython": "8.30.0", "typing-extensions": "4.12.2"}
    assert _compare(pins, tmp_path, same, same) == 0
    assert "2/2 pinned packages unchanged" in capsys.readouterr().out
    moved = {**same, "typing-extensions": "4.15.0"}
    assert _compare(pins, tmp_path, same, moved) == 1
    assert "typing-extensions: 4.12.2 -> 4.15.0" in capsys.readouterr().out
    assert _compare(pins, tmp_path, same, {"ipython": "8.30.0"}) == 1  # uninstalled
    off = {**same, "ipython": "9.7.0"}
    assert _compare(pins, tmp_path, off, off) == 1  # the stack is not the runtime
    assert "installed 9.7.0, runtime pins 8.30.0" in capsys.readouterr().out


def test_report(pins: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def report(*installs: tuple[str, str]) -> int:
        path = tmp_path / "report.json"
        path.write_text(json.dumps({"install": [{"metadata": {"name": n, "version": v}}
                                                for n, v in installs]}))
        return check_pins.main(["report", str(pins), str(path)])

    assert report(("dbchat-magic", "0.1.0"), ("altair", "6.3.0")) == 0
    assert "altair==6.3.0, dbchat-magic==0.1.0" in capsys.readouterr().out
    assert report(("dbchat-magic", "0.1.0"), ("Typing_Extensions", "4.15.0")) == 1
    assert "pip would change typing-extensions: runtime 4.12.2 -> 4.15.0" in capsys.readouterr().out
