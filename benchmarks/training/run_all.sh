#!/usr/bin/env bash
# The CPU training runs behind the ablation, in order; each resumes from its checkpoint or is skipped when its
# adapter exists, then is exported (bf16 + model card) to benchmarks/training/adapters/ for the benchmarks.
# Two recipes: LoRA on the top 8 layers with 4 groups per optimiser step (the first ablation), then LoRA on all 24
# layers with one group per step (stage 2 learns far faster per CPU hour that way); the second recipe once more with
# the query-first prompt layout (for the prefix fast mode); then a stronger warmup and stage 2 from it.
# Run from the repository root: nohup bash benchmarks/training/run_all.sh > runs/train.log 2>&1 &
set -euo pipefail
P="${PY:-.venv/bin/python} -m prorank_integrations"
export HF_HUB_OFFLINE=1
A=benchmarks/training/adapters
$P train score  --config benchmarks/training/stage2-only.json
[ -d $A/stage2-only ] || $P export runs/stage2-only --out $A/stage2-only --stages "stage 2 only"
$P train warmup --config benchmarks/training/stage1.json
[ -d $A/stage1-only ] || $P export runs/stage1 --out $A/stage1-only --stages "stage 1 only (GRPO prompt warmup)"
$P train score  --config benchmarks/training/stage1+2.json
[ -d $A/stage1+2 ] || $P export runs/stage1+2 --out $A/stage1+2 --stages "stage 1 (GRPO) + stage 2 (listwise)"
$P train score  --config benchmarks/training/stage2-all-layers.json
[ -d $A/stage2-all-layers ] || $P export runs/stage2-all-layers --out $A/stage2-all-layers --stages "stage 2 only (LoRA on all layers)"
$P train warmup --config benchmarks/training/stage1-all-layers.json
[ -d $A/stage1-all-layers ] || $P export runs/stage1-all-layers --out $A/stage1-all-layers --stages "stage 1 only (GRPO, LoRA on all layers)"
$P train score  --config benchmarks/training/stage1+2-all-layers.json
[ -d $A/stage1+2-all-layers ] || $P export runs/stage1+2-all-layers --out $A/stage1+2-all-layers --stages "stage 1 (GRPO) + stage 2 (listwise), LoRA on all layers"
$P train score  --config benchmarks/training/stage2-all-layers-query-first.json
[ -d $A/stage2-all-layers-query-first ] || $P export runs/stage2-all-layers-query-first --out $A/stage2-all-layers-query-first --stages "stage 2 only (LoRA on all layers), query-first prompt layout"
# a stronger warmup (lr 1e-4, twice the first all-layer run's; 4 prompts x 4 completions at 2e-4 collapsed), then the
# same stage 2 from its exported adapter
$P train warmup --config benchmarks/training/stage1-lr1e-4.json
[ -d $A/stage1-lr1e-4 ] || $P export runs/stage1-lr1e-4 --out $A/stage1-lr1e-4 --stages "stage 1 only (GRPO, LoRA on all layers, 2 prompts x 8 completions, lr 1e-4)"
$P train score  --config benchmarks/training/stage1+2-lr1e-4.json
[ -d $A/stage1+2-lr1e-4 ] || $P export runs/stage1+2-lr1e-4 --out $A/stage1+2-lr1e-4 --stages "stage 1 (GRPO, lr 1e-4) + stage 2 (listwise), LoRA on all layers"
$P train cross-encoder --config benchmarks/training/cross-encoder.json
