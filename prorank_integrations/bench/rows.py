"""Per-query result rows kept as JSONL so an interrupted benchmark resumes, each file bound to what produced it.

A rows file is named by a reranker's label; ``<name>.spec`` beside it records the settings its rows were computed
with (the reranker spec, plus the generator for RAG). Reusing a label with other settings is an error, never a
silent mix of two models' rows.
"""

from __future__ import annotations

import json
from pathlib import Path


def read_rows(path: Path) -> dict[str, dict]:
    """The rows of ``path`` by ``qid`` (empty when the file does not exist yet)."""
    if not path.exists():
        return {}
    rows = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {row["qid"]: row for row in rows}


def bound_rows(path: Path, settings: str) -> dict[str, dict]:
    """The rows of ``path``, after checking they were computed with ``settings``.

    Rows cached before settings were recorded are adopted by the first settings that read them."""
    rows = read_rows(path)
    bound = path.with_suffix(".spec")
    if bound.exists() and bound.read_text().strip() != settings:
        raise ValueError(f"{path} holds rows of {bound.read_text().strip()!r}, not {settings!r}; give this reranker "
                         "another label or use another output folder")
    if rows and not bound.exists():
        bind(path, settings)
    return rows


def bind(path: Path, settings: str) -> None:
    """Record the settings that the rows about to be written to ``path`` are computed with."""
    path.with_suffix(".spec").write_text(settings + "\n")
