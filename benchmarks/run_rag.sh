#!/usr/bin/env bash
# The committed RAG benchmark: 100 sampled squadshifts-reddit questions (seed 0), BM25 top-20 -> reranker -> top-3
# contexts -> qwen2.5-coder-0.5b-instruct (greedy), through a real Haystack pipeline and a real LlamaIndex query
# engine; judge-free RAGAS metrics. Per-question rows resume. `prorank-stage2-top8` is the adapter shipped until
# the all-layer recipe replaced it (same weights as benchmarks/training/adapters/stage2-only). Run from the root:
#   nohup bash benchmarks/run_rag.sh > runs/rag.log 2>&1 &
# Judge metrics need a capable judge: add --judge openai:MODEL@URL (rows already answered are judged, not re-run).
set -uo pipefail
P="${PY:-.venv/bin/python} -m prorank_integrations"
export HF_HUB_OFFLINE=1
$P models fetch qwen2.5-coder-0.5b-instruct all-minilm-l6-v2 --quiet
$P bench rag --data squadshifts-reddit --queries 100 --depth 20 --k 3 \
  --reranker "none" --reranker "bi-encoder=bi-encoder:all-minilm-l6-v2" \
  --reranker "prorank-stage2-top8=prorank:qwen2.5-coder-0.5b-instruct+adapter=benchmarks/training/adapters/stage2-only" \
  --reranker "prorank=prorank:${PRORANK_MODEL:-prorank-qwen2.5-coder-0.5b-squad}" \
  --generator local:qwen2.5-coder-0.5b-instruct --out benchmarks/results/rag/squadshifts-reddit-100 "$@"
