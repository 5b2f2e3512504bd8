"""Export a trained adapter: compact (bf16) adapter folder with a model card, or merged full weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from prorank_integrations.engine import models

CARD = """# {name}

A ProRank reranker adapter (LoRA) for `{base}`, trained by prorank-integrations.

- Score: `logit("1") - logit("0")` at the last position of the ProRank prompt (the engine's prompt and scoring
  function; no added layers).
- Stages: {stages}
- Data: `{data}` (positives from the qrels, hard negatives from BM25 top-{depth}), {groups} training questions,
  max_length {max_length}; evaluation sets (SQuADShifts) never used for training.
- LoRA: r={lora_r}, alpha={lora_alpha}, decoder layers: {lora_layers}; modules {targets}.
- Prompt layout: `{layout}` (recorded in `prorank.json`; the engine serves it automatically).
- Validation on held-out SQuAD paragraphs ({val_groups} questions, gold among {n_docs}): MRR@10 {mrr}, acc@1 {acc}.
- Training time: {hours:.2f} h wall clock on {machine}.
- Weights stored in bf16.

Load: `ProRankScorer("{name_or_path}")`, `ProRankRanker(model="{name_or_path}")`,
`ProRankRerank(model="{name_or_path}")`.
Results: see `benchmarks/results/` of the project.
"""


def _log(run_dir: Path) -> list[dict]:
    log = run_dir / "train_log.jsonl"
    return [json.loads(x) for x in log.read_text().splitlines() if x.strip()] if log.exists() else []


def training_hours(run_dir: str | Path) -> float:
    """Wall-clock hours from the first to the last log record of a run (resumes included, pauses not removed)."""
    times = [r["time"] for r in _log(Path(run_dir)) if "time" in r]
    return (max(times) - min(times)) / 3600 if times else float("nan")


def _layers_text(layers: list[int] | int | None) -> str:
    if layers is None or layers == []:
        return "all"
    layers = [layers] if isinstance(layers, int) else sorted(layers)
    return f"layer {layers[0]}" if len(layers) == 1 else f"{len(layers)} (layers {layers[0]}-{layers[-1]})"


def export_adapter(run_dir: str | Path, target: str | Path, *, name: str | None = None,
                   stages: str = "stage 2 (listwise score learning)", machine: str = "2 CPU cores") -> Path:
    """Copy ``<run_dir>/adapter`` to ``target`` with bf16 weights and a model card."""
    import torch
    from safetensors.torch import load_file, save_file

    run_dir, target = Path(run_dir), Path(target)
    adapter = run_dir / "adapter"
    cfg = json.loads((run_dir / "config.json").read_text())
    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_file({k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in tensors.items()},
              str(tmp / "adapter_model.safetensors"))
    shutil.copy(adapter / "adapter_config.json", tmp / "adapter_config.json")
    models.write_settings(tmp, prompt_layout=cfg.get("prompt_layout", "published"))
    lora = json.loads((adapter / "adapter_config.json").read_text())  # the truth, also when stage 2 continued
    layers = lora.get("layers_to_transform")                          # a stage 1 adapter (init_adapter)
    log = _log(run_dir)
    ends = [r for r in log if r.get("event") == "end"]
    end = ends[-1] if ends else {}
    starts = [r for r in log if r.get("event") == "start" and "groups" in r]  # stage 2 logs the questions it used
    (tmp / "README.md").write_text(CARD.format(
        name=name or target.name, base=cfg["base_model"], stages=stages, data=cfg["data"], depth=cfg["depth"],
        groups=starts[-1]["groups"] if starts else cfg["max_groups"], max_length=cfg["max_length"],
        lora_r=lora["r"], lora_alpha=lora["lora_alpha"],
        lora_layers=_layers_text(layers),
        targets=", ".join(sorted(lora["target_modules"])), layout=cfg.get("prompt_layout", "published"),
        val_groups=end.get("val_groups"),
        n_docs=1 + cfg["n_negatives"], mrr=f"{end.get('val_mrr@10', float('nan')):.3f}",
        acc=f"{end.get('val_acc@1', float('nan')):.3f}", name_or_path=name or str(target),
        hours=training_hours(run_dir), machine=machine))
    (tmp / "training_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    if (run_dir / "train_log.jsonl").exists():
        shutil.copy(run_dir / "train_log.jsonl", tmp / "train_log.jsonl")
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return target


def export_merged(adapter: str | Path, target: str | Path, dtype: str = "bf16") -> Path:
    """Merge an adapter into its base model and save full weights (a plain transformers folder)."""
    from prorank_integrations.engine.scorer import resolve_dtype

    resolved = models.resolve(str(adapter))
    tokenizer, model = models.load(resolved, dtype=resolve_dtype(dtype, "cpu"), device="cpu")
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    models.write_settings(target, prompt_layout=models.prompt_layout(resolved))
    return Path(target)
