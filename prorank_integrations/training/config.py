"""Run configuration for both training stages, read from a JSON or YAML file (one file per run)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

FREE_TO_CHANGE = ("save_every",)  # settings a resumed run may change: they do not alter what is trained
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class TrainConfig:
    """Defaults are the CPU configuration; GPU runs raise ``max_groups``/``max_length`` and batch sizes."""

    output_dir: str = "runs/prorank"
    base_model: str = "qwen2.5-coder-0.5b-instruct"
    init_adapter: str | None = None  # stage 2 starts from the stage 1 adapter when given
    data: str = "squad-v1.1-dev"  # a BEIR folder, or a name in `prorank data` 's cache
    exclude: list[str] = field(default_factory=lambda: ["squadshifts-reddit", "squadshifts-new-wiki"])
    dtype: str = "auto"
    seed: int = 0
    max_length: int = 256
    prompt_layout: str = "published"  # or "query-first": shares more of the prompt between a query's documents
    n_negatives: int = 7
    depth: int = 30
    val_fraction: float = 0.1
    max_groups: int = 400  # training questions used (each is one group in stage 2, one pos + one neg in stage 1)
    eval_groups: int = 40  # validation questions scored after training (MRR@10 on 1 + n_negatives)
    # LoRA
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_layers: int | None = 8  # only the top N decoder layers get LoRA: backward stops there (None: all)
    lora_targets: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    # optimisation
    learning_rate: float = 2e-4
    warmup_ratio: float = 0.05
    grad_accum: int = 4
    save_every: int = 25  # optimiser steps between checkpoints
    max_grad_norm: float | None = 1.0  # stage 2 clips gradients: one bad group must not wreck the model
    # stage 2: listwise softmax cross-entropy (+ optional pointwise BCE on the binary label)
    temperature: float = 1.0
    pointwise_weight: float = 0.1
    # stage 1: GRPO
    num_generations: int = 4
    max_completion_length: int = 2
    format_weight: float = 0.5
    accuracy_weight: float = 1.0
    grpo_temperature: float = 1.0
    grpo_beta: float = 0.0
    grpo_learning_rate: float = 5e-5
    grpo_prompts_per_step: int = 2

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> TrainConfig:
        values: dict[str, Any] = {}
        if path:
            text = Path(path).read_text()
            if str(path).endswith((".yaml", ".yml")):
                import yaml

                values = yaml.safe_load(text) or {}
            else:
                values = json.loads(text)
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training config keys: {unknown}")
        return cls(**values)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)

    def claim(self, out: Path, write: bool = True) -> None:
        """Refuse to continue or reuse a run in ``out`` started with other settings (its training groups,
        checkpoints, adapter and model card belong to those), then record these settings there."""
        path = out / "config.json"
        if path.exists():
            stored, mine = asdict(TrainConfig.load(path)), asdict(self)
            changed = {k: (stored[k], v) for k, v in mine.items() if k not in FREE_TO_CHANGE and stored[k] != v}
            if changed:
                diff = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
                raise ValueError(f"{out} holds a run with other settings ({diff}); give this run another "
                                 "output_dir, or delete that folder to start over")
        if write:
            self.save(path)
