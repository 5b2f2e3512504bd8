"""Data bundled with the package: a small real sample for the demo, examples and tests."""

from __future__ import annotations

from pathlib import Path

from prorank_integrations.bench.data import BeirDataset, load_beir

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"


def sample_dataset() -> BeirDataset:
    """40 SQuADShifts new-wiki questions over 330 paragraphs (see sample/README.md for source and licence)."""
    return load_beir(SAMPLE_DIR)
