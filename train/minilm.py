"""MiniLM-L6 (BERT, 6 layers, 384 wide) in plain PyTorch, initialised from the bundled int8
ONNX embedder by dequantising its weights (int8 × per-channel scale), plus a two-head
cross-encoder on top. No `transformers`: the architecture is small and fixed, and owning
it keeps the export to ONNX exactly the graph the runtime feeds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

HIDDEN = 384
HEADS = 12
LAYERS = 6
INTERMEDIATE = 1536
VOCAB = 30522
MAX_POSITIONS = 512
# Matrices per layer in the ONNX graph, in the order its MatMuls appear.
_LAYER_MATRICES = ("query", "key", "value", "attn_out", "intermediate", "output")


class Layer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)
        self.attn_out = nn.Linear(HIDDEN, HIDDEN)
        self.attn_norm = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.intermediate = nn.Linear(HIDDEN, INTERMEDIATE)
        self.output = nn.Linear(INTERMEDIATE, HIDDEN)
        self.out_norm = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        head = HIDDEN // HEADS

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, HEADS, head).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(head) + bias
        context = (self.dropout(scores.softmax(-1)) @ v).transpose(1, 2).reshape(b, t, HIDDEN)
        x = self.attn_norm(x + self.dropout(self.attn_out(context)))
        h = self.output(nn.functional.gelu(self.intermediate(x)))
        return self.out_norm(x + self.dropout(h))


class MiniLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.word = nn.Embedding(VOCAB, HIDDEN)
        self.position = nn.Embedding(MAX_POSITIONS, HIDDEN)
        self.token_type = nn.Embedding(2, HIDDEN)
        self.norm = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.dropout = nn.Dropout(0.1)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)[None, :]
        x = self.word(input_ids) + self.position(positions) + self.token_type(token_type_ids)
        x = self.dropout(self.norm(x))
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -1e4
        for layer in self.layers:
            x = layer(x, bias)
        return x


class CrossEncoder(nn.Module):
    """[CLS] a [SEP] b [SEP] → one logit per task: 0 = `b` supports claim `a`, 1 = sentence
    `b` answers question `a`. Both heads read the [CLS] vector and the mean of the tokens."""

    TASKS = ("support", "answer")

    def __init__(self) -> None:
        super().__init__()
        self.encoder = MiniLM()
        self.pre = nn.Linear(2 * HIDDEN, HIDDEN)
        self.heads = nn.Linear(HIDDEN, len(self.TASKS))
        self.dropout = nn.Dropout(0.1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        x = self.encoder(input_ids, attention_mask, token_type_ids)
        mask = attention_mask[:, :, None].to(x.dtype)
        mean = (x * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        pooled = torch.tanh(self.pre(self.dropout(torch.cat([x[:, 0], mean], -1))))
        return self.heads(self.dropout(pooled))


def load_int8_onnx(model: MiniLM, path: Path) -> None:
    """Copy the ONNX embedder's weights into `model`, dequantising int8 × scale."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    arrays = {i.name: numpy_helper.to_array(i) for i in graph.initializer}

    def dequant(name: str) -> np.ndarray:
        return arrays[f"{name}_q"].astype(np.float32) * arrays[f"{name}_scale"]

    def put(param: torch.Tensor, value: np.ndarray) -> None:
        assert tuple(param.shape) == value.shape, (param.shape, value.shape)
        with torch.no_grad():
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)))

    put(model.word.weight, dequant("inner.embeddings.word_embeddings.weight"))
    put(model.position.weight, dequant("inner.embeddings.position_embeddings.weight"))
    put(model.token_type.weight, arrays["inner.embeddings.token_type_embeddings.weight"])
    put(model.norm.weight, arrays["inner.embeddings.LayerNorm.weight"])
    put(model.norm.bias, arrays["inner.embeddings.LayerNorm.bias"])
    # The quantised matrices are anonymous (val_N): take them in graph order.
    matrices = [n.input[1] for n in graph.node
                if n.op_type == "MatMul" and f"{n.input[1]}_q" in arrays]
    assert len(matrices) == LAYERS * len(_LAYER_MATRICES), len(matrices)
    biases = {
        "query": "attention.self.query.bias", "key": "attention.self.key.bias",
        "value": "attention.self.value.bias", "attn_out": "attention.output.dense.bias",
        "intermediate": "intermediate.dense.bias", "output": "output.dense.bias",
    }
    for index, layer in enumerate(model.layers):
        prefix = f"inner.encoder.layer.{index}."
        for k, part in enumerate(_LAYER_MATRICES):
            linear: nn.Linear = getattr(layer, part)
            # ONNX computes x @ W; nn.Linear holds W transposed.
            put(linear.weight, dequant(matrices[index * 6 + k]).T)
            put(linear.bias, arrays[prefix + biases[part]])
        put(layer.attn_norm.weight, arrays[prefix + "attention.output.LayerNorm.weight"])
        put(layer.attn_norm.bias, arrays[prefix + "attention.output.LayerNorm.bias"])
        put(layer.out_norm.weight, arrays[prefix + "output.LayerNorm.weight"])
        put(layer.out_norm.bias, arrays[prefix + "output.LayerNorm.bias"])
