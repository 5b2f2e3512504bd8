"""SQuAD JSON -> BEIR conversion behind `prorank data fetch squad` (ids as in the committed results)."""

import json
import tarfile

import pytest

from prorank_integrations.bench import squad
from prorank_integrations.bench.datasets import resolve_dataset
from prorank_integrations.bench.squad import FILES, fetch_squad, squad_to_beir

SQUAD = {"data": [
    {"title": "A", "paragraphs": [
        {"context": "Alpha para.", "qas": [{"id": "q1", "question": "What is alpha?",
                                             "answers": [{"text": "Alpha", "answer_start": 0},
                                                         {"text": "Alpha", "answer_start": 0},
                                                         {"text": "para", "answer_start": 6}]}]},
        {"context": "Second para.", "qas": [{"id": "q2", "question": "Which para?", "answers": []}]}]},
    {"title": "B", "paragraphs": [{"context": "Beta.", "qas": [{"id": "q3", "question": "Beta?",
                                                                "answers": [{"text": "Beta", "answer_start": 0}]}]}]},
]}


def test_ids_follow_article_and_paragraph_indices():
    ds = squad_to_beir(SQUAD, "x")
    assert list(ds.corpus) == ["0-0", "0-1", "1-0"]
    assert ds.qrels == {"q1": {"0-0": 1}, "q2": {"0-1": 1}, "q3": {"1-0": 1}}
    assert ds.answers["q1"] == ["Alpha", "para"]  # duplicates removed, order kept
    assert ds.corpus["1-0"] == {"title": "B", "text": "Beta."}


def test_fetch_from_an_archive_builds_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PRORANK_HOME", str(tmp_path / "home"))
    src = tmp_path / "src" / "bigbench" / "benchmark_tasks" / "squad_shifts"
    src.mkdir(parents=True)
    for name in FILES.values():
        (src / name).write_text(json.dumps(SQUAD))
    archive = tmp_path / "bigbench-1.0.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tmp_path / "src" / "bigbench", arcname="bigbench-1.0.0/bigbench")
    paths = fetch_squad(archive)
    assert set(paths) == set(FILES)
    resolve_dataset.cache_clear()
    ds = resolve_dataset("squadshifts-reddit")
    assert len(ds.queries) == 3 and "SQuADShifts" in (paths["squadshifts-reddit"] / "README.md").read_text()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="does not hold"):
        fetch_squad(tmp_path / "empty", force=True)


def test_default_fetch_builds_the_sets_from_the_bundled_snapshot(tmp_path, monkeypatch):
    monkeypatch.setenv("PRORANK_HOME", str(tmp_path / "home"))
    paths = fetch_squad()
    resolve_dataset.cache_clear()
    reddit = resolve_dataset("squadshifts-reddit")
    assert (len(reddit.corpus), len(reddit.queries)) == (2035, 9767)
    assert all(len(rels) == 1 and set(rels) <= set(reddit.corpus) for rels in reddit.qrels.values())
    assert len(resolve_dataset("squad-v1.1-dev").queries) == 10565
    assert "CC BY-SA 4.0" in (paths["squad-v1.1-dev"] / "README.md").read_text()
    resolve_dataset.cache_clear()


def test_a_damaged_snapshot_is_refused(tmp_path, monkeypatch):
    damaged = tmp_path / "squad_beir.tar.xz"
    data = bytearray(squad.SNAPSHOT.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(squad, "SNAPSHOT", damaged)
    monkeypatch.setenv("PRORANK_HOME", str(tmp_path / "home"))
    with pytest.raises(RuntimeError, match="damaged"):
        fetch_squad()
    assert not (tmp_path / "home" / "data" / "squadshifts-reddit").exists()
