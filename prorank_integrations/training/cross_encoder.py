"""The baseline users would pick instead: a MiniLM cross-encoder (Haystack's default ranker family) fine-tuned with
sentence-transformers on the same training groups (query, gold + hard negatives) with a listwise loss."""

from __future__ import annotations

import json
import time
from pathlib import Path

from prorank_integrations.training.common import JsonlLog, groups_for
from prorank_integrations.training.config import TrainConfig


def train_cross_encoder(cfg: TrainConfig, base: str = "all-minilm-l6-v2", *, batch_size: int = 8,
                        learning_rate: float = 5e-5, progress: bool = True) -> Path:
    """Fine-tune ``base`` (catalogue name or path) as a 1-logit cross-encoder; returns ``<output_dir>/model``."""
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import ListNetLoss

    from prorank_integrations.bench.rerankers import local_model_path

    out = Path(cfg.output_dir)
    final = out / "model"
    cfg.claim(out)
    if (final / "config.json").exists():
        return final
    train, val = groups_for(cfg)
    data = Dataset.from_dict({"query": [g.query for g in train],
                              "docs": [[g.positive, *g.negatives] for g in train],
                              "labels": [[1] + [0] * len(g.negatives) for g in train]})
    model = CrossEncoder(local_model_path(base), num_labels=1, max_length=cfg.max_length, device="cpu"
                         if not torch.cuda.is_available() else None)
    args = CrossEncoderTrainingArguments(
        output_dir=str(out / "trainer"), num_train_epochs=1, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, warmup_steps=cfg.warmup_ratio, logging_steps=10, save_steps=100,
        save_total_limit=1, report_to="none", seed=cfg.seed, disable_tqdm=not progress,
        use_cpu=not torch.cuda.is_available())
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=data, loss=ListNetLoss(model))
    start = time.time()
    trainer.train(resume_from_checkpoint=True if any((out / "trainer").glob("checkpoint-*")) else None)
    log = JsonlLog(out / "train_log.jsonl")
    ranks = []
    for g in val:
        scores = model.predict([(g.query, d) for d in [g.positive, *g.negatives]])
        ranks.append(1 + int((scores[1:] > scores[0]).sum()))
    metrics = {"val_mrr@10": sum(1 / r for r in ranks if r <= 10) / max(1, len(ranks)),
               "val_acc@1": sum(r == 1 for r in ranks) / max(1, len(ranks)), "val_groups": len(ranks)}
    log.write(event="end", stage="cross-encoder", seconds=time.time() - start, groups=len(train), **metrics)
    model.save_pretrained(str(out / "model.tmp"))
    (out / "model.tmp").rename(final)
    (final / "prorank_training.json").write_text(json.dumps({"base": base, "groups": len(train), **metrics}))
    return final
