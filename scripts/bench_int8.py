"""Benchmark: the encoder alone, fp32 against the two int8 paths, on the same texts in the same run.

Prints texts per second (tokenise, forward pass, mean pooling, on token-sorted batches of 64) for the fp32
transformers model, the torch dynamic int8 of earlier versions, and the ONNX Runtime int8 that
`--backend int8` now runs, twice, alternating, with each int8 path's ratio to fp32.

    .venv/bin/python scripts/bench_int8.py [--texts 3000]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from replies.classifier.model import Encoder

DEV = Path(__file__).resolve().parent.parent / "tests" / "data" / "lean_nhs_dev.jsonl"


def quantize_int8(model):
    """The baseline this benchmark compares with (kept here, its only user): dynamic int8 quantisation in torch
    of the query, key, value and feed-forward input Linear layers (the int8 of earlier versions; the ONNX
    Runtime backend replaced it as about 1.8x faster). CPU only."""
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    spec = {name: default_dynamic_qconfig for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and not name.endswith("output.dense")}
    return quantize_dynamic(model, spec, dtype=torch.qint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=3000)
    args = parser.parse_args()
    sentences = [json.loads(line)["text"] for line in DEV.read_text().splitlines() if line.strip()]
    texts = (sentences * (args.texts // len(sentences) + 1))[: args.texts]
    fp32, onnx_int8, torch_int8 = Encoder(None), Encoder(None, backend="int8"), Encoder(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_int8.model = quantize_int8(torch_int8.model)

    def rate(encoder: Encoder) -> float:
        started = time.perf_counter()
        encoder.encode(texts, 64)
        return len(texts) / (time.perf_counter() - started)

    for encoder in (fp32, torch_int8, onnx_int8):  # warm up
        rate(encoder)
    for round_ in range(2):
        a, b, c = rate(fp32), rate(torch_int8), rate(onnx_int8)
        print(f"round {round_}: fp32 {a:.0f} texts/s  torch int8 {b:.0f} ({b / a:.2f}x)  "
              f"onnx runtime int8 {c:.0f} ({c / a:.2f}x)")


if __name__ == "__main__":
    main()
