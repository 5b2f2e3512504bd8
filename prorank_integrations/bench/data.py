"""Load any folder in BEIR layout: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``, optional
``answers.jsonl`` (gold answer strings, for RAG answer metrics). Real BEIR sets downloaded elsewhere load unchanged."""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class BeirDataset:
    """One BEIR-layout data set held in memory (ids as strings, insertion order kept)."""

    name: str
    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    answers: dict[str, list[str]] = field(default_factory=dict)

    def doc_text(self, doc_id: str) -> str:
        """The text retrievers and rerankers read: the paragraph (titles here are article names or placeholders)."""
        return self.corpus[doc_id]["text"]

    def sample_queries(self, n: int | None = None, seed: int = 0) -> list[str]:
        """Deterministic sample of judged query ids: ``random.Random(seed).sample(sorted ids, n)``."""
        ids = sorted(q for q in self.qrels if q in self.queries)
        if n is None or n >= len(ids):
            return ids
        return random.Random(seed).sample(ids, n)


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_beir(folder: str | Path, split: str = "test") -> BeirDataset:
    """Read a BEIR folder; missing files give one clear error naming what is missing."""
    root = Path(folder).expanduser()
    needed = [root / "corpus.jsonl", root / "queries.jsonl", root / "qrels" / f"{split}.tsv"]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{root} is not a BEIR-layout folder for split {split!r}; missing: {missing}")
    corpus = {str(d["_id"]): {"title": d.get("title", ""), "text": d["text"]} for d in _read_jsonl(needed[0])}
    queries = {str(q["_id"]): q["text"] for q in _read_jsonl(needed[1])}
    qrels: dict[str, dict[str, int]] = {}
    with needed[2].open(encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t")
        header = next(rows)
        if header[0] != "query-id":  # some BEIR exports have no header line
            rows = iter([header, *rows])
        for qid, did, score in rows:
            qrels.setdefault(qid, {})[did] = int(score)
    answers_path = root / "answers.jsonl"
    answers = {str(a["_id"]): list(a["answers"]) for a in _read_jsonl(answers_path)} if answers_path.exists() else {}
    return BeirDataset(root.name, corpus, queries, qrels, answers)


def write_beir(dataset: BeirDataset, folder: str | Path, split: str = "test") -> Path:
    """Write a data set in BEIR layout (the inverse of :func:`load_beir`)."""
    root = Path(folder)
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    with (root / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for did, doc in dataset.corpus.items():
            row = {"_id": did, "title": doc.get("title", ""), "text": doc["text"]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (root / "queries.jsonl").open("w", encoding="utf-8") as f:
        for qid, text in dataset.queries.items():
            f.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    with (root / "qrels" / f"{split}.tsv").open("w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, rels in dataset.qrels.items():
            for did, score in rels.items():
                f.write(f"{qid}\t{did}\t{score}\n")
    if dataset.answers:
        with (root / "answers.jsonl").open("w", encoding="utf-8") as f:
            for qid, answers in dataset.answers.items():
                f.write(json.dumps({"_id": qid, "answers": answers}, ensure_ascii=False) + "\n")
    return root


def subset(dataset: BeirDataset, qids: list[str], doc_ids: list[str], name: str | None = None) -> BeirDataset:
    """The given questions (with their judgements and answers) over the given paragraphs plus their gold ones."""
    keep = dict.fromkeys(doc_ids)
    for q in qids:
        keep.update(dict.fromkeys(d for d in dataset.qrels[q] if d in dataset.corpus))
    return BeirDataset(
        name or dataset.name,
        {d: dataset.corpus[d] for d in keep},
        {q: dataset.queries[q] for q in qids},
        {q: dict(dataset.qrels[q]) for q in qids},
        {q: dataset.answers[q] for q in qids if q in dataset.answers},
    )
