"""In-domain validation of served models: MRR@10 of the gold paragraph among BM25 hard negatives, on the held-out
SQuAD v1.1 dev questions of the training split (the first 40), with the engine as served (adapters merged, bf16).

Command: python benchmarks/training/validate.py LABEL=ADAPTER_OR_EMPTY ... > benchmarks/results/training/val.jsonl
"""

import json
import sys

from prorank_integrations.engine.scorer import ProRankScorer
from prorank_integrations.training.common import evaluate_groups, groups_for
from prorank_integrations.training.config import TrainConfig

# the validation split of the training runs, rebuilt deterministically when runs/ is absent (fresh clone)
val = groups_for(TrainConfig.load("benchmarks/training/stage2-only.json"))[1][:40]
for arg in sys.argv[1:]:
    label, _, adapter = arg.partition("=")
    scorer = ProRankScorer("qwen2.5-coder-0.5b-instruct", adapter=adapter or None, max_length=256, batch_size=8,
                           cache_size=0)
    print(json.dumps({"label": label, "adapter": adapter or None, **evaluate_groups(scorer, val)}), flush=True)
