"""What both stages share: data groups (cached per run), the trainable model (base + LoRA) and the engine prompt."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prorank_integrations.bench.datasets import resolve_dataset
from prorank_integrations.engine import models
from prorank_integrations.engine.scorer import ProRankScorer, resolve_dtype
from prorank_integrations.training.config import TrainConfig
from prorank_integrations.training.data import Group, build_groups, load_groups, save_groups


def groups_for(cfg: TrainConfig) -> tuple[list[Group], list[Group]]:
    """Train/validation groups, built once per output folder and reused on resume."""
    out = Path(cfg.output_dir)
    train_path, val_path = out / "groups.train.jsonl", out / "groups.val.jsonl"
    if not train_path.exists():
        dataset = resolve_dataset(cfg.data)
        exclude = [resolve_dataset(name) for name in cfg.exclude]
        train, val = build_groups(dataset, n_negatives=cfg.n_negatives, depth=cfg.depth,
                                  val_fraction=cfg.val_fraction, seed=cfg.seed, exclude=exclude)
        save_groups(val, val_path)
        save_groups(train, train_path)
    return load_groups(train_path)[: cfg.max_groups], load_groups(val_path)[: cfg.eval_groups]


def trainable_model(cfg: TrainConfig) -> tuple[Any, Any]:
    """(tokenizer, peft model): the base with a new LoRA on the top ``lora_layers`` layers, or ``init_adapter``
    loaded trainable. Lower layers have no trainable weights, so autograd stops before them."""
    from peft import LoraConfig, PeftModel, get_peft_model

    dtype = resolve_dtype(cfg.dtype, "cpu" if not torch.cuda.is_available() else "cuda")
    resolved = models.resolve(cfg.base_model)
    tokenizer, base = models.load(resolved, dtype=dtype, device="cpu")
    if cfg.init_adapter:
        trained_with = models.prompt_layout(models.ResolvedModel(cfg.base_model, cfg.init_adapter))
        if trained_with != cfg.prompt_layout:
            raise ValueError(f"init_adapter {cfg.init_adapter} was trained with prompt layout {trained_with!r}, "
                             f"this run uses {cfg.prompt_layout!r}: set prompt_layout to match")
        model = PeftModel.from_pretrained(base, cfg.init_adapter, is_trainable=True)
    else:
        n_layers = base.config.num_hidden_layers
        layers = None if cfg.lora_layers is None else list(range(max(0, n_layers - cfg.lora_layers), n_layers))
        lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=cfg.lora_targets, layers_to_transform=layers, task_type="CAUSAL_LM")
        model = get_peft_model(base, lora)
    model.peft_config["default"].base_model_name_or_path = cfg.base_model
    return tokenizer, model


def engine_for(model: Any, tokenizer: Any, cfg: TrainConfig) -> ProRankScorer:
    """The serving engine around the model being trained: the same prompt and the same scoring function."""
    return ProRankScorer.from_model(model, tokenizer, max_length=cfg.max_length, batch_size=8, cache_size=0,
                                    prompt_layout=cfg.prompt_layout)


def save_adapter(model: Any, cfg: TrainConfig, final: Path) -> None:
    """Write the trained adapter with its prompt layout, atomically: ``final`` exists only when complete."""
    tmp = final.with_name(final.name + ".tmp")
    model.save_pretrained(tmp)
    models.write_settings(tmp, prompt_layout=cfg.prompt_layout)
    tmp.rename(final)


def evaluate_groups(scorer: ProRankScorer, groups: list[Group]) -> dict[str, float]:
    """MRR@10 and accuracy (positive ranked first) of the positive among its hard negatives."""
    if not groups:
        return {}
    scorer.device = str(next(scorer.model.parameters()).device)  # accelerate or TRL may have moved the model since
    was_training = scorer.model.training
    scorer.model.eval()
    ranks = []
    for g in groups:
        scores = scorer.score(g.query, [g.positive, *g.negatives])
        ranks.append(1 + int((scores[1:] > scores[0]).sum()))
    scorer.model.train(was_training)
    ranks_arr = np.array(ranks)
    return {"val_mrr@10": float(np.mean(np.where(ranks_arr <= 10, 1.0 / ranks_arr, 0.0))),
            "val_acc@1": float(np.mean(ranks_arr == 1)), "val_groups": len(groups)}


class JsonlLog:
    """Append-only metrics log (one JSON object a line), safe across resumes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **record: Any) -> None:
        record.setdefault("time", time.time())
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
