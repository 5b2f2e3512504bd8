#!/usr/bin/env bash
# The committed retrieval benchmarks: BM25 top-20 reranking of 200 sampled questions (seed 0) per data set.
# Rerankers run one at a time into a shared per-query cache (benchmarks/results/retrieval/<set>-200/cache), so an
# interrupted run resumes where it stopped. Cheapest and most decisive work first: the first 100 questions of every
# row, then the 1.5B model on those 100, then the rows' remaining 100. Summaries are written by
# benchmarks/summarise_retrieval.sh from whatever the cache holds.
# Run from the repository root:
#   nohup bash benchmarks/run_retrieval.sh > runs/retrieval.log 2>&1 &
set -uo pipefail
P="${PY:-.venv/bin/python} -m prorank_integrations"
export HF_HUB_OFFLINE=1
source benchmarks/retrieval_rows.sh
$P models fetch $B qwen2.5-coder-1.5b-instruct all-minilm-l6-v2 --quiet
ce_rows_missing() {  # the cross-encoder is trained (0.38 h on 2 cores) only where the cache lacks its rows
  for set in "${SETS[@]}"; do
    [ "$(cat "$R/$set-200/cache/cross-encoder.jsonl" 2>/dev/null | wc -l)" -lt 200 ] && return 0
  done
  return 1
}
if [ ! -f runs/cross-encoder/model/config.json ] && ce_rows_missing; then
  $P train cross-encoder --config benchmarks/training/cross-encoder.json
fi
rerank() {  # set, row, subset
  $P bench retrieval --data "$1" --queries 200 --subset "$3" --depth 20 --reranker "$2" \
    --out "runs/retrieval/$1/${2%%=*}-$3" --cache "$R/$1-200/cache" || echo "FAILED: $1 $2 $3"
}
for set in "${SETS[@]}"; do for row in "${CHEAP[@]}"; do rerank "$set" "$row" 200; done; done
for set in "${SETS[@]}"; do for row in "${PRORANK[@]}"; do rerank "$set" "$row" 100; done; done
for set in "${SETS[@]}"; do rerank "$set" "$BIG" 100; done
for set in "${SETS[@]}"; do for row in "${PRORANK[@]}"; do rerank "$set" "$row" 200; done; done
bash benchmarks/summarise_retrieval.sh
