"""Find a data set by explicit path or by name in the project's data cache (``$PRORANK_HOME/data/NAME``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from prorank_integrations.bench.data import BeirDataset, load_beir
from prorank_integrations.engine.assets import home

SQUAD_SETS = ("squad-v1.1-dev", "squadshifts-reddit", "squadshifts-new-wiki")


def data_dir(name: str) -> Path:
    return home() / "data" / name


@lru_cache(maxsize=8)
def resolve_dataset(name_or_path: str, split: str = "test") -> BeirDataset:
    """A BEIR folder given by path, else a cached data set by name; never looks anywhere else."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return load_beir(path, split)
    cached = data_dir(name_or_path)
    if cached.is_dir():
        return load_beir(cached, split)
    hint = " run: prorank data fetch squad" if name_or_path in SQUAD_SETS else ""
    raise FileNotFoundError(f"no data set {name_or_path!r}: not a folder, and not in the cache {cached.parent}.{hint}")
