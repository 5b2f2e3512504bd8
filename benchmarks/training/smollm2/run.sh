#!/usr/bin/env bash
# The fast path: the whole ProRank pipeline (stage 1 GRPO, stage 2 listwise, export) on SmolLM2-135M-Instruct in
# minutes on a CPU, to try settings before a long run. Run from the repository root:
#   bash benchmarks/training/smollm2/run.sh > runs/smollm2.log 2>&1
set -euo pipefail
P="${PY:-.venv/bin/python} -m prorank_integrations"
export HF_HUB_OFFLINE=1
C=benchmarks/training/smollm2
$P models fetch smollm2-135m-instruct --quiet
$P train warmup --config $C/stage1.json
$P train score --config $C/stage1+2.json
$P export runs/smollm2/stage1+2 --out runs/smollm2/adapter --stages "stage 1 (GRPO) + stage 2 (listwise), fast path"
