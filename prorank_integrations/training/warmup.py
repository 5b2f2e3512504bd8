"""Stage 1, prompt warmup with GRPO (TRL's ``GRPOTrainer``): teach the model to answer the ProRank prompt with a
well-formed and correct 0/1 label.

The prompt of each example is the engine's encoding of a (query, document) pair, truncated as at serving time and
decoded to text, since TRL takes text prompts and tokenises them again: where a BPE tokenizer merges across a cut
or a line break the ids can differ slightly from the served ones (stage 2 trains on the served ids exactly).
Positives and hard negatives are balanced. Rewards: a format reward (the completion is exactly one of the
relevance tokens) and an accuracy reward (it is the pair's label), weighted by the config.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any
from unittest import mock

from prorank_integrations.training.common import (
    JsonlLog,
    engine_for,
    evaluate_groups,
    groups_for,
    save_adapter,
    trainable_model,
)
from prorank_integrations.training.config import TrainConfig
from prorank_integrations.training.data import Group


def warmup_examples(engine: Any, groups: list[Group]) -> list[dict[str, Any]]:
    """Two examples per question, one positive and one hard negative (the first-stage's best wrong paragraph)."""
    rows = []
    for g in groups:
        for doc, label in ((g.positive, 1), (g.negatives[0], 0)):
            ids = engine.encode(g.query, [doc])[0]
            rows.append({"prompt": engine.tokenizer.decode(ids), "label": label})
    return rows


def make_rewards(labels: tuple[str, str], format_weight: float, accuracy_weight: float):
    """The two reward functions and their weights, in TRL's signature (``completions`` plus dataset columns)."""
    positive, negative = labels

    def format_reward(completions: list[str], **_: Any) -> list[float]:
        return [1.0 if c.rstrip() in (positive, negative) else 0.0 for c in completions]

    def accuracy_reward(completions: list[str], label: list[int], **_: Any) -> list[float]:
        return [1.0 if c.rstrip() == (positive if y == 1 else negative) else 0.0 for c, y in zip(completions, label)]

    return [format_reward, accuracy_reward], [format_weight, accuracy_weight]


def answer_positions_only() -> contextlib.AbstractContextManager:
    """TRL's fused LM head projects only the answer positions on CUDA/XPU but every position elsewhere (to keep tile
    shapes fixed for compilers). On a CPU that is a 151,936-word projection of all ~260 positions of each sampled
    sequence, forward and backward, for a 2-token answer: a third of a GRPO step here (profiled with py-spy). Inside
    this context TRL scores the answer positions only, everywhere; the log-probabilities are the same (tested)."""
    import trl.trainer.utils as trl_utils

    if not hasattr(trl_utils, "_use_triton"):  # another TRL: leave it as it is
        return contextlib.nullcontext()
    return mock.patch.object(trl_utils, "_use_triton", lambda device: True)


def train_warmup(cfg: TrainConfig, *, progress: bool = True) -> Path:
    """Run (or resume) stage 1; returns the adapter folder ``<output_dir>/adapter``."""
    import torch
    from accelerate import PartialState
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    out = Path(cfg.output_dir)
    final = out / "adapter"
    processes = PartialState(cpu=not torch.cuda.is_available())  # the processes of a torchrun/accelerate launch
    with processes.main_process_first():  # the main process records the settings and builds the groups
        cfg.claim(out, write=processes.is_main_process)
        if (final / "adapter_config.json").exists():
            return final
        train, val = groups_for(cfg)
    tokenizer, model = trainable_model(cfg)
    engine = engine_for(model, tokenizer, cfg)
    dataset = Dataset.from_list(warmup_examples(engine, train))
    reward_funcs, weights = make_rewards(engine.prompt.relevance_tokens, cfg.format_weight, cfg.accuracy_weight)
    log = JsonlLog(out / "train_log.jsonl")

    class LogToFile(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and state.is_world_process_zero:
                log.write(event="step", stage="warmup", step=state.global_step, **logs)

    args = GRPOConfig(
        output_dir=str(out / "trainer"),
        per_device_train_batch_size=cfg.grpo_prompts_per_step * cfg.num_generations,
        gradient_accumulation_steps=1,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.grpo_temperature,
        beta=cfg.grpo_beta,
        learning_rate=cfg.grpo_learning_rate,
        warmup_steps=cfg.warmup_ratio,
        num_train_epochs=1,
        reward_weights=weights,
        logging_steps=1,
        save_steps=cfg.save_every,
        save_total_limit=1,
        report_to="none",
        seed=cfg.seed,
        use_cpu=not torch.cuda.is_available(),
        bf16=False,
        disable_tqdm=not progress,
        remove_unused_columns=False,
        gradient_checkpointing=False,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=reward_funcs, args=args, train_dataset=dataset,
                          processing_class=tokenizer, callbacks=[LogToFile()])
    resume = any((out / "trainer").glob("checkpoint-*"))
    with answer_positions_only():
        trainer.train(resume_from_checkpoint=True if resume else None)
    if processes.is_main_process:
        log.write(event="end", stage="warmup", **evaluate_groups(engine, val))
        save_adapter(trainer.model, cfg, final)
    processes.wait_for_everyone()
    return final
