"""Training groups from a BEIR-layout set: each question with its gold paragraph and first-stage hard negatives.

Questions are split into train and validation by their gold paragraph (a paragraph's questions never straddle the
split), with a fixed seed. Evaluation sets are refused by name, and any question whose text appears in a data set
passed as ``exclude`` is dropped, so an evaluation question can never leak into training.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from prorank_integrations.bench.data import BeirDataset

EVALUATION_SETS = ("squadshifts-reddit", "squadshifts-new-wiki", "squadshifts-nyt", "squadshifts-amazon")


@dataclass
class Group:
    """One training example: a query, its positive paragraph and hard negatives (texts and ids)."""

    qid: str
    query: str
    positive: str
    negatives: list[str]
    positive_id: str
    negative_ids: list[str]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def build_groups(
    dataset: BeirDataset,
    *,
    n_negatives: int = 7,
    depth: int = 30,
    val_fraction: float = 0.1,
    seed: int = 0,
    exclude: list[BeirDataset] | None = None,
    first_stage: str = "bm25",
) -> tuple[list[Group], list[Group]]:
    """(train, validation) groups. Negatives are the first stage's top ``depth`` minus every judged positive,
    in first-stage order, ``n_negatives`` of them (questions with fewer are dropped)."""
    if dataset.name in EVALUATION_SETS:
        raise ValueError(f"{dataset.name} is an evaluation set; it must never be used for training")
    from prorank_integrations.bench.first_stage import first_stage as make_first_stage

    banned = {_norm(q) for other in exclude or [] for q in other.queries.values()}
    qids = [q for q in sorted(dataset.qrels) if q in dataset.queries and _norm(dataset.queries[q]) not in banned]
    hits = make_first_stage(first_stage, dataset).search([dataset.queries[q] for q in qids], k=depth)
    groups = []
    for qid, ranked in zip(qids, hits):
        positives = [d for d, rel in dataset.qrels[qid].items() if rel > 0 and d in dataset.corpus]
        if not positives:
            continue
        negatives = [d for d, _ in ranked if dataset.qrels[qid].get(d, 0) <= 0][:n_negatives]
        if len(negatives) < n_negatives:
            continue
        pos = positives[0]
        groups.append(Group(qid, dataset.queries[qid], dataset.doc_text(pos), [dataset.doc_text(d) for d in negatives],
                            pos, negatives))
    paragraphs = sorted({g.positive_id for g in groups})
    random.Random(seed).shuffle(paragraphs)
    val_paragraphs = set(paragraphs[: max(1, int(len(paragraphs) * val_fraction))])
    train = [g for g in groups if g.positive_id not in val_paragraphs]
    val = [g for g in groups if g.positive_id in val_paragraphs]
    random.Random(seed).shuffle(train)
    return train, val


def save_groups(groups: list[Group], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for g in groups:
            f.write(json.dumps(asdict(g), ensure_ascii=False) + "\n")


def load_groups(path: Path) -> list[Group]:
    with path.open(encoding="utf-8") as f:
        return [Group(**json.loads(line)) for line in f if line.strip()]
