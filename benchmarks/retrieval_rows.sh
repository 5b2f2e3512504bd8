# The rows of the committed retrieval benchmarks (sourced by run_retrieval.sh and summarise_retrieval.sh).
A=benchmarks/training/adapters
R=benchmarks/results/retrieval
B=qwen2.5-coder-0.5b-instruct
CHEAP=(
  "bm25=none"
  "bi-encoder=bi-encoder:all-minilm-l6-v2"
  "cross-encoder=cross-encoder:runs/cross-encoder/model"
)
PRORANK=(  # the labels name the all-layer recipe; "-top8": the first recipe (LoRA on the top 8 layers)
  "zero-shot-0.5b=prorank:$B"
  "stage2-only=prorank:$B+adapter=$A/stage2-all-layers"
  "stage1+2=prorank:$B+adapter=$A/stage1+2-all-layers"
  "stage1-only=prorank:$B+adapter=$A/stage1-all-layers"
  "stage1-only-lr1e-4=prorank:$B+adapter=$A/stage1-lr1e-4"  # stage 1 at twice the rate, and stage 2 from it
  "stage1+2-lr1e-4=prorank:$B+adapter=$A/stage1+2-lr1e-4"
  "stage2-only-top8=prorank:$B+adapter=$A/stage2-only"
  "stage1+2-top8=prorank:$B+adapter=$A/stage1+2"
  "stage1-only-top8=prorank:$B+adapter=$A/stage1-only"
)
BIG="zero-shot-1.5b=prorank:qwen2.5-coder-1.5b-instruct"
SETS=(squadshifts-reddit squadshifts-new-wiki)
