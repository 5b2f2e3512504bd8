#!/usr/bin/env bash
# The CPU training runs behind the ablation, in order; each step resumes from its checkpoint or is skipped when
# its adapter exists. Run from the repository root: nohup bash benchmarks/training/run_all.sh > runs/train.log 2>&1 &
set -euo pipefail
PY=${PY:-.venv/bin/python}
export HF_HUB_OFFLINE=1
$PY -m prorank_integrations train score  --config benchmarks/training/stage2-only.json
$PY -m prorank_integrations train warmup --config benchmarks/training/stage1.json
$PY -m prorank_integrations train score  --config benchmarks/training/stage1+2.json
$PY -m prorank_integrations train cross-encoder --config benchmarks/training/cross-encoder.json
