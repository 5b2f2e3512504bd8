#!/usr/bin/env bash
# The committed RAG benchmark: 100 sampled squadshifts-reddit questions (seed 0), BM25 top-20 -> reranker -> top-3
# contexts -> qwen2.5-coder-0.5b-instruct (greedy), through a real Haystack pipeline and a real LlamaIndex query
# engine; judge-free RAGAS metrics. Per-question rows resume. Rows are bound to the generator's dtype (`auto`: bf16 on
# a CPU with AVX512-BF16, else fp32), since greedy answers differ between dtypes: on a machine of the other kind the
# run refuses to mix and needs another --out. `results/rag/squadshifts-reddit-100-bf16/` holds an earlier run on a
# bf16 machine (with the first recipe's adapter, `prorank-stage2-top8`). Run from the repository root:
#   nohup bash benchmarks/run_rag.sh > runs/rag.log 2>&1 &
# Judge metrics need a capable judge: add --judge openai:MODEL@URL (rows already answered are judged, not re-run).
set -uo pipefail
P="${PY:-.venv/bin/python} -m prorank_integrations"
export HF_HUB_OFFLINE=1
$P models fetch qwen2.5-coder-0.5b-instruct all-minilm-l6-v2 --quiet
$P bench rag --data squadshifts-reddit --queries 100 --depth 20 --k 3 \
  --reranker "none" --reranker "bi-encoder=bi-encoder:all-minilm-l6-v2" \
  --reranker "prorank=prorank:${PRORANK_MODEL:-prorank-qwen2.5-coder-0.5b-squad}" \
  --generator local:qwen2.5-coder-0.5b-instruct --out benchmarks/results/rag/squadshifts-reddit-100 "$@"
