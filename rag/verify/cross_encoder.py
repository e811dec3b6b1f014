"""The project's own cross-encoder: one small model that reads two texts together and
scores two relations between them.

- task `support`: does evidence `b` (one to three sentences) state everything claim `a`
  says?
- task `answer`: does sentence `b` state (part of) the answer to question `a`?

It is the bundled MiniLM (all-MiniLM-L6-v2) fine-tuned by `make train` (`train/`), exported
to int8 ONNX under `models/cross_encoder/` with a card (`card.json`: data hash, recipe,
scores, sha256). Every load checks the file against the card's sha256, as the embedder
does against its pin, so a swapped or damaged model fails loudly. The tokenizer is the
embedder's pinned one, so both models read text the same way.

It gives raw logits: the checker and the answer selector each turn theirs into a
calibrated probability with a stack fitted on development data (`rag/verify/
thresholds.json`). The card's Platt scaling records how the logits of the training run's
held-out articles were calibrated on their own.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelFilesError

# Beside the package in the checkout (`make run` installs it editable), not inside it:
# trained models live in the repository's models/ folder with their cards.
MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "cross_encoder"
TASKS = ("support", "answer")
# A claim with three sentences of evidence fits; longer pairs lose the end of the longer
# text first (the evidence, usually), which the caller keeps short by choosing windows.
MAX_PAIR_WORDPIECES = 192
BATCH_SIZE = 16


def encode_pairs(tokenizer: Any, pairs: Sequence[tuple[str, str]]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[CLS] a [SEP] b [SEP] as int64 ids, mask and segment ids, padded to the longest pair
    (truncation is the tokenizer's, `pair_tokenizer`). Shared by training and inference, so
    the model is always fed as it was trained."""
    encodings = tokenizer.encode_batch([(a, b) for a, b in pairs])
    ids = [e.ids for e in encodings]
    types = [e.type_ids for e in encodings]
    width = max(len(x) for x in ids)
    out = np.zeros((len(ids), width), dtype=np.int64)
    mask = np.zeros_like(out)
    segments = np.zeros_like(out)
    for row, (i, t) in enumerate(zip(ids, types, strict=True)):
        out[row, : len(i)] = i
        mask[row, : len(i)] = 1
        segments[row, : len(t)] = t
    return out, mask, segments


def pair_tokenizer(tokenizer_path: Path, max_len: int = MAX_PAIR_WORDPIECES) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_len, strategy="longest_first")
    return tokenizer


def read_card(model_dir: Path = MODEL_DIR) -> dict[str, Any]:
    path = model_dir / "card.json"
    try:
        card: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFilesError(f"cannot read the cross-encoder's card {path}: {exc}") from exc
    return card


class CrossEncoder:
    """Calibrated pair scores from the committed int8 ONNX cross-encoder."""

    def __init__(self, model_dir: Path = MODEL_DIR, *, threads: int | None = None) -> None:
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        import onnxruntime as ort

        from rag.index.embeddings import bundled_model_files, sha256_file

        card = read_card(model_dir)
        model_path = model_dir / card["file"]
        if not model_path.is_file():
            raise ModelFilesError(f"the cross-encoder model is missing: {model_path}")
        found = sha256_file(model_path)
        if found != card["sha256"]:
            raise ModelFilesError(
                f"{model_path} does not match its card (sha256 {found}, card {card['sha256']}):"
                " re-run `make train` or restore the committed file")
        self.card = card
        self._tokenizer = pair_tokenizer(bundled_model_files()[1], int(card["max_wordpieces"]))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model_path), options,
                                             providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def logits(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Raw logits, shape (len(pairs), 2), columns in `TASKS` order."""
        if not pairs:
            return np.zeros((0, len(TASKS)), dtype=np.float32)
        # Similar lengths batch together, so little of each batch is padding.
        lengths = [len(a) + len(b) for a, b in pairs]
        order = sorted(range(len(pairs)), key=lambda i: lengths[i])
        out = np.zeros((len(pairs), len(TASKS)), dtype=np.float32)
        for first in range(0, len(order), BATCH_SIZE):
            rows = order[first : first + BATCH_SIZE]
            ids, mask, segments = encode_pairs(self._tokenizer, [pairs[i] for i in rows])
            with self._lock:
                (result,) = self._session.run(
                    None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": segments})
            out[rows] = result
        return out


_default_lock = threading.Lock()


@cache
def _default() -> CrossEncoder:
    return CrossEncoder()


def default_cross_encoder() -> CrossEncoder:
    """The process's one cross-encoder, loaded on first use."""
    with _default_lock:
        return _default()

