#!/usr/bin/env bash
# Writes the committed retrieval summaries from the per-query cache that run_retrieval.sh fills, computing nothing:
# benchmarks/results/retrieval/<set>-200 (all rows, 200 questions) and <set>-100 (all rows plus the 1.5B model on
# the first 100). Rows the cache does not yet hold for every question are listed under "incomplete".
set -uo pipefail
P="${PY:-.venv/bin/python} -m prorank_integrations"
export HF_HUB_OFFLINE=1
source benchmarks/retrieval_rows.sh
for set in "${SETS[@]}"; do
  args=(); for row in "${CHEAP[@]}" "${PRORANK[@]}"; do args+=(--reranker "$row"); done
  $P bench retrieval --data $set --queries 200 --depth 20 "${args[@]}" --out $R/$set-200 --cache $R/$set-200/cache \
    --cached-only
  $P bench retrieval --data $set --queries 200 --subset 100 --depth 20 "${args[@]}" --reranker "$BIG" \
    --out $R/$set-100 --cache $R/$set-200/cache --cached-only
done
