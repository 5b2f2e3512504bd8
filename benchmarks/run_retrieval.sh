#!/usr/bin/env bash
# The committed retrieval benchmarks: BM25 top-20 reranking of 200 sampled questions (seed 0) per data set.
# Rerankers run one at a time into a shared per-query cache (benchmarks/results/retrieval/<set>-200/cache), so an
# interrupted run resumes where it stopped; the summaries are then written from that cache: all rows on the 200
# questions, and all rows plus the 1.5B model on the first 100 of them.
# Run from the repository root after benchmarks/training/run_all.sh:
#   nohup bash benchmarks/run_retrieval.sh > runs/retrieval.log 2>&1 &
set -euo pipefail
P="${PY:-.venv/bin/python} -m prorank_integrations"
export HF_HUB_OFFLINE=1
A=benchmarks/training/adapters
R=benchmarks/results/retrieval
B=qwen2.5-coder-0.5b-instruct
ROWS=(
  "bm25=none"
  "bi-encoder=bi-encoder:all-minilm-l6-v2"
  "cross-encoder=cross-encoder:runs/cross-encoder/model"
  "stage1+2=prorank:$B+adapter=$A/stage1+2"
  "zero-shot-0.5b=prorank:$B"
  "stage2-only=prorank:$B+adapter=$A/stage2-only"
  "stage1-only=prorank:$B+adapter=$A/stage1-only"
)
BIG="zero-shot-1.5b=prorank:qwen2.5-coder-1.5b-instruct"
SETS=(squadshifts-reddit squadshifts-new-wiki)
$P models fetch $B qwen2.5-coder-1.5b-instruct all-minilm-l6-v2 --quiet
for row in "${ROWS[@]}"; do
  for set in "${SETS[@]}"; do
    $P bench retrieval --data $set --queries 200 --depth 20 --reranker "$row" \
      --out runs/retrieval/$set/${row%%=*} --cache $R/$set-200/cache
  done
done
for set in "${SETS[@]}"; do
  $P bench retrieval --data $set --queries 200 --subset 100 --depth 20 --reranker "$BIG" \
    --out runs/retrieval/$set/zero-shot-1.5b --cache $R/$set-200/cache
done
for set in "${SETS[@]}"; do
  args=(); for row in "${ROWS[@]}"; do args+=(--reranker "$row"); done
  $P bench retrieval --data $set --queries 200 --depth 20 "${args[@]}" --out $R/$set-200 --cache $R/$set-200/cache
  $P bench retrieval --data $set --queries 200 --subset 100 --depth 20 "${args[@]}" --reranker "$BIG" \
    --out $R/$set-100 --cache $R/$set-200/cache
done
