"""`casiglo-train fit` command-line overrides used by the GPU scripts (training/configs/*.sh)."""
import json
from pathlib import Path

from training.cli import main

SMOKE = Path(__file__).resolve().parent.parent / "training" / "configs" / "smoke.json"


def test_max_minutes_on_the_command_line_stops_after_the_first_epoch(tmp_path):
    out = tmp_path / "budget"
    assert main(["fit", "--config", str(SMOKE), "--out", str(out), "--epochs", "3", "--max-minutes", "1e-6"]) == 0
    history = json.loads((out / "history.json").read_text())
    card = json.loads((out / "card.json").read_text())
    assert len(history) == 1
    assert card["train"]["max_minutes"] == 1e-6 and "--max-minutes 1e-06" in card["command"]
