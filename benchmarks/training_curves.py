"""Stage 2 training curves at a glance: listwise loss and the positive's margin over the mean hard negative,
per group (running mean over 20 groups), for every stage 2 log under ``benchmarks/``. Writes
``benchmarks/results/training/stage2_curves.png``.

    python benchmarks/training_curves.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
LOGS = {
    "stage2-only (top 8 layers, 4 groups/step)": ROOT / "training/adapters/stage2-only/train_log.jsonl",
    "stage1+2 (top 8 layers, 4 groups/step)": ROOT / "training/adapters/stage1+2/train_log.jsonl",
    "all layers, lr 2e-4, no clipping (collapsed)":
        ROOT / "results/training/stage2-all-layers-lr2e-4-no-clipping/train_log.jsonl",
    "stage2-all-layers (lr 1e-4, clipping 1.0)": ROOT / "training/adapters/stage2-all-layers/train_log.jsonl",
    "stage2-all-layers, query-first prompt layout":
        ROOT / "training/adapters/stage2-all-layers-query-first/train_log.jsonl",
}
OUT = ROOT / "results" / "training" / "stage2_curves.png"


def _running(values: list[float], n: int = 10) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return np.array([v[max(0, i - n + 1): i + 1].mean() for i in range(len(v))])


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, gap_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for name, path in LOGS.items():
        if not path.exists():
            continue
        steps = [r for r in map(json.loads, path.read_text().splitlines()) if r.get("event") == "step"]
        groups = [r["groups_done"] for r in steps]
        window = max(1, round(20 / (groups[1] - groups[0]))) if len(groups) > 1 else 1  # logs hold 1 or 4 groups/step
        loss_ax.plot(groups, _running([r["loss"] for r in steps], window), label=name)
        gap_ax.plot(groups, _running([r["pos_score"] - r["neg_mean"] for r in steps], window), label=name)
    loss_ax.axhline(np.log(8), color="grey", ls=":", lw=1, label="ln 8 (no preference among 8)")
    loss_ax.set(xlabel="training questions (groups of 1 gold + 7 hard negatives)", ylabel="listwise loss",
                title="stage 2 loss (running mean)")
    gap_ax.set(xlabel="training questions", ylabel="score(gold) - mean score(negatives)",
               title="margin of the gold paragraph (running mean)")
    for ax in (loss_ax, gap_ax):
        ax.grid(alpha=0.3)
    loss_ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT, dpi=120)
    print(OUT)


if __name__ == "__main__":
    main()
