"""Resolve a model name and load it: local path, catalogue name or hub id; base model, LoRA adapter or GGUF file.

Resolution order (first match wins):
1. an existing local path: a model folder, a ``.gguf`` file, or a peft adapter folder (its base model is read
   from ``adapter_config.json`` unless one is given);
2. a catalogue name (``prorank models list``), from the local cache, with a clear error naming the
   ``prorank models fetch`` command when it is missing;
3. anything else is a hub id, passed to transformers unchanged (the published ProRank checkpoints work as on the
   hub: ``mixedbread-ai/mxbai-rerank-base-v2``, ``mixedbread-ai/mxbai-rerank-large-v2``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prorank_integrations.engine import assets

DEFAULT_MODEL = "mixedbread-ai/mxbai-rerank-base-v2"
OFFLINE_DEFAULT = "qwen2.5-coder-0.5b-instruct"
TRAINED_DEFAULT = "prorank-qwen2.5-coder-0.5b-squad"
ADAPTERS_DIR = Path(__file__).resolve().parent.parent / "adapters"
SETTINGS_FILE = "prorank.json"  # beside a model's or adapter's weights: the prompt layout it was trained with


class ModelNotAvailableError(OSError):
    """The model could not be found locally, in the cache or on the hub; the message says what to do."""


@dataclass(frozen=True)
class ResolvedModel:
    """Where the weights come from: ``base`` is a folder or hub id; ``gguf_file`` a file name inside ``base``."""

    base: str
    adapter: str | None = None
    gguf_file: str | None = None
    is_hub: bool = False


def _adapter_base(adapter: Path) -> str:
    config = json.loads((adapter / "adapter_config.json").read_text())
    base = config.get("base_model_name_or_path")
    if not base:
        raise ModelNotAvailableError(f"adapter {adapter} names no base model; pass model=BASE and adapter={adapter}")
    return base


def _trained_adapters() -> dict[str, Path]:
    """Adapters trained by this project and shipped inside the package, by catalogue name."""
    if not ADAPTERS_DIR.is_dir():
        return {}
    return {p.name: p for p in ADAPTERS_DIR.iterdir() if (p / "adapter_config.json").exists()}


def adapter_folder(model: str, adapter: str | None = None) -> Path | None:
    """The peft adapter folder a (model, adapter) pair names, if any: the adapter path, an adapter folder given as
    the model, or a shipped adapter's catalogue name. Loads nothing."""
    if adapter is not None:
        return Path(adapter).expanduser()
    path = Path(model).expanduser()
    if (path / "adapter_config.json").exists():
        return path
    return _trained_adapters().get(model)


def resolve(model: str, adapter: str | None = None) -> ResolvedModel:
    """Turn a user's model name (and optional adapter path) into concrete weights to load."""
    if adapter is not None and not Path(adapter).expanduser().is_dir():
        raise ModelNotAvailableError(f"adapter path {adapter!r} is not a folder (expected a peft adapter folder)")
    if adapter is not None and not (Path(adapter).expanduser() / "adapter_config.json").exists():
        raise ModelNotAvailableError(f"adapter folder {adapter!r} has no adapter_config.json: not a peft adapter")
    path = Path(model).expanduser()
    if path.exists():
        if path.is_file():
            if path.suffix != ".gguf":
                raise ModelNotAvailableError(f"{path} is a file but not a .gguf checkpoint; pass a model folder")
            return ResolvedModel(str(path.parent), adapter, gguf_file=path.name)
        if (path / "adapter_config.json").exists() and adapter is None:
            inner = resolve(_adapter_base(path))
            return ResolvedModel(inner.base, str(path), inner.gguf_file, inner.is_hub)
        if not (path / "config.json").exists():
            raise ModelNotAvailableError(f"{path} has no config.json: not a transformers model folder")
        return ResolvedModel(str(path), adapter)
    trained = _trained_adapters()
    if model in trained:
        inner = resolve(_adapter_base(trained[model]))
        return ResolvedModel(inner.base, adapter or str(trained[model]), inner.gguf_file, inner.is_hub)
    if model in assets.CATALOGUE:
        if not assets.is_fetched(model):
            raise ModelNotAvailableError(
                f"catalogue model {model!r} is not in the cache {assets.home()}; run: prorank models fetch {model}"
            )
        return ResolvedModel(str(assets.model_dir(model)), adapter)
    return ResolvedModel(model, adapter, is_hub=True)


def prompt_layout(resolved: ResolvedModel, token: str | None = None) -> str:
    """The prompt layout a model was trained with, read from ``prorank.json`` in its adapter folder, or in the
    model's own folder or hub repository; ``published`` when none has one (the published checkpoints, base models)."""
    folders = [resolved.adapter, None if resolved.is_hub else resolved.base]
    if resolved.is_hub and resolved.adapter is None:
        folders.append(_hub_settings_folder(resolved.base, token))
    for folder in folders:
        if folder and (Path(folder) / SETTINGS_FILE).is_file():
            settings = json.loads((Path(folder) / SETTINGS_FILE).read_text())
            return settings.get("prompt_layout", "published")
    return "published"


def _hub_settings_folder(repo: str, token: str | None) -> str | None:
    """The folder holding a hub model's ``prorank.json``, if the repository has one (a merged model trained here)."""
    from huggingface_hub import hf_hub_download

    try:
        return str(Path(hf_hub_download(repo, SETTINGS_FILE, token=token)).parent)
    except (OSError, ValueError):  # no such file (the published checkpoints), no hub, or offline: the model's own
        return None                # loading reports those


def write_settings(folder: str | Path, *, prompt_layout: str) -> None:
    """Record the prompt layout beside trained weights, so that every loader serves the prompt that was trained."""
    (Path(folder) / SETTINGS_FILE).write_text(json.dumps({"prompt_layout": prompt_layout}, indent=2) + "\n")


def catalogue_names() -> list[str]:
    return sorted(assets.CATALOGUE) + sorted(_trained_adapters())


def load(
    resolved: ResolvedModel,
    *,
    dtype: Any,
    device: str,
    token: str | None = None,
    trust_remote_code: bool = False,
    merge_adapter: bool = True,
    model_kwargs: dict | None = None,
) -> tuple[Any, Any]:
    """Load tokenizer and causal LM (with its adapter merged by default) in eval mode on ``device``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    common = {"token": token, "trust_remote_code": trust_remote_code}
    if resolved.gguf_file:
        common["gguf_file"] = resolved.gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved.base, **common)
        model = AutoModelForCausalLM.from_pretrained(resolved.base, dtype=dtype, **common, **(model_kwargs or {}))
    except OSError as err:
        if resolved.is_hub:
            raise ModelNotAvailableError(
                f"could not load {resolved.base!r} from the Hugging Face hub ({err.__class__.__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}). Without hub access use the offline default: "
                f"`prorank models fetch {OFFLINE_DEFAULT}` and model={OFFLINE_DEFAULT!r}"
            ) from err
        raise ModelNotAvailableError(f"could not load the model at {resolved.base}: {err}") from err
    if resolved.adapter:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, resolved.adapter)
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            raise ModelNotAvailableError(f"could not load the adapter at {resolved.adapter}: {err}") from err
        if merge_adapter:
            model = model.merge_and_unload()
    return tokenizer, model.to(device).eval()


def demo_model() -> str:
    """The offline default for demos and examples: the bundled trained adapter when shipped, else the base model."""
    return TRAINED_DEFAULT if TRAINED_DEFAULT in _trained_adapters() else OFFLINE_DEFAULT
