"""Training curves at a glance, for every log under ``benchmarks/``. Stage 2: listwise loss and the positive's margin
over the mean hard negative, per group (running mean over 20 groups), in ``results/training/stage2_curves.png``.
Stage 1 (GRPO): the accuracy reward of the sampled answers and the policy's entropy per step (running mean over 5
steps), in ``results/training/stage1_curves.png``.

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
STAGE1_LOGS = {
    "stage1-all-layers (2 prompts x 8 answers, lr 5e-5)": ROOT / "training/adapters/stage1-all-layers/train_log.jsonl",
    "4 prompts x 4 answers, lr 2e-4 (collapsed)": ROOT / "results/training/stage1-lr2e-4-4x4-collapsed/train_log.jsonl",
    "stage1-lr1e-4 (2 prompts x 8 answers, lr 1e-4)": ROOT / "training/adapters/stage1-lr1e-4/train_log.jsonl",
}
OUT = ROOT / "results" / "training" / "stage2_curves.png"
OUT_STAGE1 = ROOT / "results" / "training" / "stage1_curves.png"


def _running(values: list[float], n: int = 10) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return np.array([v[max(0, i - n + 1): i + 1].mean() for i in range(len(v))])


def _steps(path: Path) -> list[dict]:
    return [r for r in map(json.loads, path.read_text().splitlines()) if r.get("event") == "step" and "loss" in r]


def _group_window(groups: list[int]) -> int:
    """Stage 2 logs hold 1 or 4 groups per step: a running mean over about 20 groups either way."""
    return max(1, round(20 / (groups[1] - groups[0]))) if len(groups) > 1 else 1


def plot(plt, logs: dict[str, Path], x_key: str, window, left, right, guide: tuple[float, str],
         titles: tuple[tuple[str, str, str], tuple[str, str, str]], out: Path) -> None:
    """Two panels of running means over every log in ``logs``; ``left``/``right`` read a value off a step row."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, path in logs.items():
        if not path.exists():
            continue
        steps = _steps(path)
        x = [r[x_key] for r in steps]
        for ax, value in zip(axes, (left, right)):
            ax.plot(x, _running([value(r) for r in steps], window(x)), label=name)
    axes[0].axhline(guide[0], color="grey", ls=":", lw=1, label=guide[1])
    for ax, (xlabel, ylabel, title) in zip(axes, titles):
        ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(out)


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot(plt, STAGE1_LOGS, "step", lambda x: 5, lambda r: r["rewards/accuracy_reward/mean"], lambda r: r["entropy"],
         (0.5, "chance (balanced labels)"),
         (("GRPO step", "accuracy reward (mean over sampled answers)", "stage 1: correct 0/1 answers (running mean)"),
          ("GRPO step", "entropy of the answer tokens", "stage 1: policy entropy")), OUT_STAGE1)
    plot(plt, LOGS, "groups_done", _group_window, lambda r: r["loss"], lambda r: r["pos_score"] - r["neg_mean"],
         (np.log(8), "ln 8 (no preference among 8)"),
         (("training questions (groups of 1 gold + 7 hard negatives)", "listwise loss", "stage 2 loss (running mean)"),
          ("training questions", "score(gold) - mean score(negatives)",
           "margin of the gold paragraph (running mean)")), OUT)


if __name__ == "__main__":
    main()
