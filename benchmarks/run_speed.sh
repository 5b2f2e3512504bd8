#!/usr/bin/env bash
# The committed speed benchmark: the engine against its peers on the same weights (qwen2.5-coder-0.5b-instruct,
# bf16), the same 200 BM25 top-20 pairs of 10 squadshifts-reddit questions, max_length 512, median of 3
# alternating repeats; peak RSS of fresh scoring processes; the score cache on a session of 12 requests; scaling
# curves; ranking agreement with an fp32 reference. Needs an otherwise idle machine (over an hour here). Run from
# the repository root:
#   bash benchmarks/run_speed.sh > runs/speed.log 2>&1
set -euo pipefail
PY="${PY:-.venv/bin/python}"
export HF_HUB_OFFLINE=1
# the authors' package, a peer only (not a project dependency); torch stays pinned
$PY -m pip install -q "torch==2.13.0" "mxbai-rerank==0.1.6"
$PY -m prorank_integrations models fetch qwen2.5-coder-0.5b-instruct --quiet
$PY -m prorank_integrations bench speed --data squadshifts-reddit --queries 10 --depth 20 --max-length 512 \
  --repeats 3 --fast prefix --fast prefix,int8 --memory --out benchmarks/results/speed
# packing (the CPU default since 2026-12-05) against one sequence per forward pass and the peer, side by side
$PY -m prorank_integrations bench speed --data squadshifts-reddit --queries 10 --depth 20 --max-length 512 \
  --repeats 3 --peers sentence-transformers --out benchmarks/results/speed/packed
# on a CPU with AMX (7x the bf16 matmul peak of AVX512-BF16 alone, measured): exact, the compile and prefix modes and the peers,
# kept apart from the AVX512-BF16 tables above
if grep -q amx_bf16 /proc/cpuinfo; then
  $PY -m prorank_integrations bench speed --data squadshifts-reddit --queries 10 --depth 20 --max-length 512 \
    --repeats 3 --peers naive,sentence-transformers --fast compile --fast prefix --memory --out benchmarks/results/speed/amx
elif grep -q avx512_bf16 /proc/cpuinfo; then  # AVX512-BF16 without AMX: compile and its prefix combinations
  $PY -m prorank_integrations bench speed --data squadshifts-reddit --queries 10 --depth 20 --max-length 512 \
    --repeats 3 --peers sentence-transformers --fast compile --fast prefix,compile --fast-layout query-first \
    --fast-layout query-first:prefix,compile --memory --out benchmarks/results/speed/avx512
fi
# the score cache on a session of repeated questions, and the scaling curves (engine only)
$PY -m prorank_integrations bench speed --data squadshifts-reddit --queries 10 --depth 20 --max-length 512 \
  --repeats 1 --peers none --cache-requests 12 --curves --curve-counts 10,100,1000 \
  --out benchmarks/results/speed/engine
# ranking agreement against the truth: every bf16 row judged against an untimed naive pass in fp32
$PY -m prorank_integrations bench speed --data squadshifts-reddit --queries 10 --depth 20 --max-length 512 \
  --repeats 1 --peers naive --fast prefix --fast prefix,int8 --reference-dtype fp32 --out benchmarks/results/speed/agreement
source benchmarks/retrieval_rows.sh
quality() {  # out, rows...: the first 100 reddit questions reranked by each row (computed into the retrieval cache,
  # where cached questions cost nothing), then one summary of them all, read from the cache
  local out=$1 row args=(); shift
  for row in "$@"; do
    $PY -m prorank_integrations bench retrieval --data squadshifts-reddit --queries 200 --subset 100 --depth 20 \
      --reranker "$row" --out "runs/retrieval/squadshifts-reddit/${row%%=*}-100" --cache "$R/squadshifts-reddit-200/cache"
    args+=(--reranker "$row")
  done
  $PY -m prorank_integrations bench retrieval --data squadshifts-reddit --queries 200 --subset 100 --depth 20 \
    "${args[@]}" --out "$out" --cache "$R/squadshifts-reddit-200/cache" --cached-only
}
# the quality cost of the fast modes: the top-8 stage 2 adapter, exact against each fast mode (~15-25 min a row)
S2="prorank:$B+adapter=$A/stage2-only"
quality benchmarks/results/speed/fast-quality "stage2-only-top8=$S2" "stage2-only-top8-fast-prefix=$S2+fast=prefix" \
  "stage2-only-top8-fast-prefix-int8=$S2+fast=prefix,int8"
# the query-first prompt layout (for models trained with it): prefix mode on it, against exact, prefix and the peer;
# one repeat (~10 min). Its quality needs a model trained with that layout (training/stage2-all-layers-query-first.json).
$PY -m prorank_integrations bench speed --data squadshifts-reddit --queries 10 --depth 20 --max-length 512 --repeats 1 \
  --peers sentence-transformers --fast prefix --fast-layout query-first --out benchmarks/results/speed/query-first
# the quality of that mode: a model trained with the query-first layout, in prefix mode, against the shipped adapter
# in exact mode (~45 min, fp32 on an AVX2 machine)
S="prorank:$B+adapter=$A/stage2-all-layers"
quality benchmarks/results/speed/fast-quality-query-first "stage2-only=$S" \
  "stage2-only-query-first-fast-prefix=prorank:$B+adapter=$A/stage2-all-layers-query-first+fast=prefix"
# the quality cost of the compile and prefix modes on the shipped adapter, against exact
quality benchmarks/results/speed/fast-quality-shipped "stage2-only=$S" "stage2-only-fast-compile=$S+fast=compile" \
  "stage2-only-fast-prefix=$S+fast=prefix"
# where exact-mode time goes, by aten op
$PY benchmarks/profile_exact.py > benchmarks/results/speed/profile/profile.txt
