"""The committed LCDB excerpt as a long frame and as curve matrices."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from policy_store.curves import StudyCurves

EXCERPT = Path(__file__).parent.parent / "data" / "replay" / "lcdb-accuracy-excerpt.csv"


def lcdb_long() -> pd.DataFrame:
    raw = pd.read_csv(EXCERPT)
    raw["step"] = raw.groupby("openmlid")["size_train"].rank(method="dense").astype(int) - 1
    return pd.DataFrame({
        "task": "lcdb/" + raw["openmlid"].astype(str) + "/accuracy",
        "study": "lcdb-accuracy/" + raw["openmlid"].astype(str) + "/" + raw["outer_seed"].astype(str) + "-"
                 + raw["inner_seed"].astype(str),
        "trial": raw["learner"], "step": raw["step"], "value": raw["score_valid"],
        "cost_seconds": raw["traintime"], "metric": "accuracy", "direction": "maximize",
    })


def lcdb_curves() -> list[StudyCurves]:
    long = lcdb_long()
    return [StudyCurves.from_frame(g, study=s, direction="maximize", task=g["task"].iloc[0])
            for s, g in long.groupby("study", sort=True)]
