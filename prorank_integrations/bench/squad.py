"""`prorank data fetch squad`: SQuAD v1.1 dev and SQuADShifts (reddit, new-wiki) in BEIR layout.

Sources, by ``--source``:
- default: the BEIR snapshot bundled with the package (``data/squad_beir.tar.xz``, 2 MB, sha256 pinned), converted
  from the SQuAD JSON files of the BIG-bench source distribution ``bigbench==1.0.0``, the one the committed results
  used. It is bundled because PyPI no longer serves that release (only ``bigbench==0.0.1``, which holds no data), and
  no other registry reachable offline carries these files;
- ``bigbench``: that source distribution from the package index, for mirrors that still serve it;
- a folder or .tar.gz/.zip archive holding the standard SQuAD JSON files (for example a BIG-bench checkout).
Paragraph ids are ``ARTICLE-PARAGRAPH`` indices within each file, query ids the SQuAD ids, so every source gives the
ids of the committed results.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from prorank_integrations.bench.data import BeirDataset, load_beir, write_beir
from prorank_integrations.bench.datasets import data_dir

FILES = {"squad-v1.1-dev": "squaddev_v1.1.json", "squadshifts-reddit": "reddit_v1.0.json",
         "squadshifts-new-wiki": "new_wiki_v1.0.json"}
PACKAGE = ("bigbench", "1.0.0")
SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "squad_beir.tar.xz"
SNAPSHOT_SHA256 = "2080a76206b28ce5a84e68765a4fab93ba491cde728e92dcc45b21b42bbb4d67"
ATTRIBUTION = """SQuAD v1.1 (Rajpurkar et al., 2016), CC BY-SA 4.0; SQuADShifts (Miller et al., 2020, "The Effect of
Natural Distribution Shift on Question Answering Models"), its authors' terms. Converted from the BIG-bench source
distribution; the files carry the BIG-bench canary: do not put benchmark data into language-model pre-training corpora.
"""


def squad_to_beir(squad: dict, name: str) -> BeirDataset:
    """Standard SQuAD JSON -> BEIR: one document per paragraph, one query per question, its paragraph as gold."""
    corpus, queries, qrels, answers = {}, {}, {}, {}
    for a, article in enumerate(squad["data"]):
        for p, paragraph in enumerate(article["paragraphs"]):
            did = f"{a}-{p}"
            corpus[did] = {"title": article.get("title", ""), "text": paragraph["context"]}
            for qa in paragraph["qas"]:
                queries[qa["id"]] = qa["question"]
                qrels[qa["id"]] = {did: 1}
                answers[qa["id"]] = list(dict.fromkeys(ans["text"] for ans in qa.get("answers", [])))
    return BeirDataset(name, corpus, queries, qrels, answers)


def _download_source(work: Path) -> Path:
    name, version = PACKAGE
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "--no-build-isolation",
           f"{name}=={version}", "-d", str(work)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    archives = list(work.glob(f"{name}-{version}*"))
    if proc.returncode != 0 or not archives:
        raise RuntimeError(
            f"could not download {name}=={version} from the package index ({proc.stderr.strip().splitlines()[-1:]}).\n"
            "Use the bundled snapshot (prorank data fetch squad, without --source), or pass the SQuAD JSON files "
            "yourself: prorank data fetch squad --source PATH, where PATH is a folder or archive holding "
            f"{', '.join(FILES.values())} (for example a BIG-bench checkout)."
        )
    return archives[0]


def _find_files(source: Path, work: Path) -> dict[str, Path]:
    """Locate the three JSON files inside a folder or a .tar.gz/.zip archive (extracting only those)."""
    found: dict[str, Path] = {}
    if source.is_dir():
        for data_name, file_name in FILES.items():
            hits = sorted(source.rglob(file_name))
            if hits:
                found[data_name] = hits[0]
    elif tarfile.is_tarfile(source):
        with tarfile.open(source) as tf:
            for member in tf.getmembers():
                for data_name, file_name in FILES.items():
                    if member.name.endswith("/" + file_name) and data_name not in found:
                        target = work / file_name
                        with tf.extractfile(member) as src, target.open("wb") as dst:
                            shutil.copyfileobj(src, dst)
                        found[data_name] = target
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            for member in zf.namelist():
                for data_name, file_name in FILES.items():
                    if member.endswith("/" + file_name) and data_name not in found:
                        target = work / file_name
                        target.write_bytes(zf.read(member))
                        found[data_name] = target
    missing = [FILES[n] for n in FILES if n not in found]
    if missing:
        raise FileNotFoundError(f"{source} does not hold {missing}")
    return found


def _snapshot(work: Path) -> dict[str, BeirDataset]:
    """The bundled BEIR snapshot, checked against its pinned digest before anything is read from it."""
    digest = hashlib.sha256(SNAPSHOT.read_bytes()).hexdigest()
    if digest != SNAPSHOT_SHA256:
        raise RuntimeError(f"{SNAPSHOT} is damaged: sha256 {digest}, expected {SNAPSHOT_SHA256}")
    with tarfile.open(SNAPSHOT) as tf:
        tf.extractall(work / "snapshot", filter="data")
    return {name: load_beir(work / "snapshot" / name) for name in FILES}


def _from_squad_json(source: Path, work: Path) -> dict[str, BeirDataset]:
    files = _find_files(source, work)
    return {name: squad_to_beir(json.loads(path.read_text(encoding="utf-8")), name) for name, path in files.items()}


def fetch_squad(source: str | Path | None = None, force: bool = False) -> dict[str, Path]:
    """Build the three BEIR folders in the data cache; a no-op for folders already there (unless ``force``).

    ``source``: None for the bundled snapshot, ``"bigbench"`` for the package index, else a folder or archive."""
    targets = {name: data_dir(name) for name in FILES}
    if not force and all((t / "corpus.jsonl").exists() for t in targets.values()):
        return targets
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if source is None:
            sets = _snapshot(work)
        elif str(source) == PACKAGE[0]:
            sets = _from_squad_json(_download_source(work), work)
        else:
            sets = _from_squad_json(Path(source).expanduser(), work)
        for name, dataset in sets.items():
            staged = write_beir(dataset, work / "staged" / name)
            (staged / "README.md").write_text(f"# {name}\n\n{ATTRIBUTION}")
            if targets[name].exists():
                shutil.rmtree(targets[name])
            targets[name].parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(staged), targets[name])
    return targets
