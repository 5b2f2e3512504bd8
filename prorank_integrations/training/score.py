"""Stage 2, fine-grained score learning: listwise softmax cross-entropy on the engine's own score.

Each step scores one group (the positive and its hard negatives) with :func:`relevance_scores`, the function that
serves the model, so what is trained is exactly what is served. Runs on one CPU or many GPUs through accelerate
(``accelerate launch -m prorank_integrations train score --config run.json``): with N processes each round gives
every process its own group (a remainder of fewer than N groups is left out), and an optimiser step covers
``grad_accum`` rounds. The scoring function calls the decoder directly, past any DDP wrapper, so the processes'
gradients are averaged here, explicitly, before each step (data parallel, the same update as one process
accumulating the same groups). Checkpoints hold the adapter, optimiser, scheduler and position, and a rerun
resumes from the newest one.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from prorank_integrations.engine.scorer import left_pad, relevance_scores
from prorank_integrations.training.common import (
    JsonlLog,
    engine_for,
    evaluate_groups,
    groups_for,
    save_adapter,
    trainable_model,
)
from prorank_integrations.training.config import TrainConfig


def group_loss(scores: torch.Tensor, temperature: float, pointwise_weight: float) -> torch.Tensor:
    """Softmax cross-entropy with the positive at index 0, plus a pointwise BCE on the 0/1 labels."""
    listwise = torch.nn.functional.cross_entropy((scores / temperature)[None],
                                               torch.zeros(1, dtype=torch.long, device=scores.device))
    if pointwise_weight <= 0:
        return listwise
    labels = torch.zeros_like(scores)
    labels[0] = 1.0
    return listwise + pointwise_weight * torch.nn.functional.binary_cross_entropy_with_logits(scores, labels)


def _latest_checkpoint(out: Path) -> Path | None:
    ckpts = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return ckpts[-1] if ckpts else None


def train_score(cfg: TrainConfig, *, progress: bool = True) -> Path:
    """Run (or resume) stage 2; returns the final adapter folder ``<output_dir>/adapter``."""
    from accelerate import Accelerator
    from transformers import get_linear_schedule_with_warmup

    out = Path(cfg.output_dir)
    final = out / "adapter"
    accelerator = Accelerator()  # accumulation is explicit below, so that a last, shorter window still steps
    world, rank, main = accelerator.num_processes, accelerator.process_index, accelerator.is_main_process
    if accelerator.mixed_precision != "no":  # the model is never wrapped, so accelerate's autocast would not apply
        raise ValueError(f"stage 2 computes in the config's dtype ({cfg.dtype}); launch without --mixed_precision "
                         f"{accelerator.mixed_precision} and set dtype in the config instead")
    with accelerator.main_process_first():  # the main process records the settings and builds the groups
        cfg.claim(out, write=main)
        if (final / "adapter_config.json").exists():
            return final
        train, val = groups_for(cfg)
    torch.manual_seed(cfg.seed)
    rounds = len(train) // world
    tokenizer, model = trainable_model(cfg)
    engine = engine_for(model, tokenizer, cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    total_steps = math.ceil(rounds / cfg.grad_accum)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    start = 0
    ckpt = _latest_checkpoint(out)
    if ckpt is not None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(str(ckpt / "adapter" / "adapter_model.safetensors")))
        state = torch.load(ckpt / "trainer_state.pt", weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        start = state["groups_done"] // world
    model.to(accelerator.device)
    if world > 1:
        _broadcast_from_main(params)
    model.train()
    log = JsonlLog(out / "train_log.jsonl")
    if start == 0 and main:
        log.write(event="start", stage="score", groups=rounds * world, processes=world,
                  trainable=sum(p.numel() for p in params))
    bar = tqdm(total=rounds * world, initial=start * world, desc="stage 2 (score)", unit="group",
               disable=not (progress and main))
    running, t0, grad_norm = [], time.time(), None
    for r in range(start, rounds):
        g = train[r * world + rank]
        window = min(cfg.grad_accum, rounds - (r - r % cfg.grad_accum))  # rounds in this optimiser step
        last = (r + 1) % cfg.grad_accum == 0 or r + 1 == rounds
        ids, mask = left_pad(engine.encode(g.query, [g.positive, *g.negatives]), engine.pad_id, accelerator.device)
        scores = relevance_scores(model, ids, mask, engine.prompt.token_ids)
        loss = group_loss(scores, cfg.temperature, cfg.pointwise_weight)
        (loss / window).backward()
        if last:
            if world > 1:
                _average_gradients(params, accelerator)
            if cfg.max_grad_norm:
                grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm))
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        running.append(loss.item())
        bar.update(world)
        done = (r + 1) * world
        if last:
            step = math.ceil((r + 1) / cfg.grad_accum)
            if main:
                log.write(event="step", step=step, groups_done=done, loss=sum(running) / len(running),
                          lr=scheduler.get_last_lr()[0], sec_per_group=(time.time() - t0) / (len(running) * world),
                          pos_score=float(scores[0].detach()), neg_mean=float(scores[1:].detach().mean()),
                          grad_norm=grad_norm)
            bar.set_postfix(loss=f"{sum(running) / len(running):.3f}")
            running, t0 = [], time.time()
            if step % cfg.save_every == 0 and r + 1 < rounds:
                accelerator.wait_for_everyone()
                if main:
                    _save_checkpoint(model, optimizer, scheduler, done, out)
    bar.close()
    accelerator.wait_for_everyone()
    if main:
        log.write(event="end", stage="score", **evaluate_groups(engine, val))
        save_adapter(model, cfg, final)
        for old in out.glob("checkpoint-*"):
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def _broadcast_from_main(params: list[torch.nn.Parameter]) -> None:
    """Start every process from the main process's trainable weights (as DDP would when wrapping)."""
    import torch.distributed as dist

    for p in params:
        dist.broadcast(p.data, src=0)


def _average_gradients(params: list[torch.nn.Parameter], accelerator) -> None:
    """Mean of the processes' gradients, in one all-reduce over a flat buffer."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = accelerator.reduce(torch.cat([g.reshape(-1) for g in grads]), reduction="mean")
    offset = 0
    for p, g in zip(params, grads):
        p.grad = flat[offset: offset + g.numel()].view_as(g)
        offset += g.numel()


def _save_checkpoint(model, optimizer, scheduler, groups_done: int, out: Path) -> None:
    """Write ``checkpoint-N`` atomically, then drop older ones."""
    tmp = out / f".checkpoint-{groups_done}"
    model.save_pretrained(tmp / "adapter")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(), "groups_done": groups_done}, tmp / "trainer_state.pt")
    tmp.rename(out / f"checkpoint-{groups_done}")
    for old in out.glob("checkpoint-*"):
        if old.name != f"checkpoint-{groups_done}":
            shutil.rmtree(old)
