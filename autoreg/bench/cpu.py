"""CPU benchmarks: the exact trace against a bare forward, the fast pixel sampler against
one full forward per pixel. Each is a ratio timed side by side in one process."""

from __future__ import annotations

import os
import statistics
import time

import torch

from autoreg.pixelcnn.sampling import sample_images
from autoreg.pretrained import load_pretrained
from autoreg.seq.model import SequenceConfig, SequenceModel
from autoreg.seq.trace import kernel_gates_used, trace


def bench_trace_overhead(
    T: int = 1000, H: int = 256, E: int = 32, V: int = 104, repeats: int = 21
) -> dict:
    """Time ``trace`` against a bare forward of the same LSTM model, side by side.

    Both read the same T random tokens; the bare forward is ``model(idx)`` (Embedding ->
    fused ``nn.LSTM`` -> Linear logits) under no_grad; V = 104 is the shipped character
    model's vocabulary. Median of ``repeats`` interleaved runs after a warm-up, with one
    intra-op thread for all. ``gates`` says where the LSTM gates came from (the fused
    kernel's workspace, or the batched recompute). ``ratio_with_preactivations`` times a
    trace whose pre-activations are read as well: with workspace gates they cost one
    batched matmul more, computed on first read, so a trace that never shows them does
    not pay for them.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = SequenceModel(SequenceConfig("lstm", V, E, H, 1)).eval()
        ids = torch.randint(1, V, (T,))
        idx = ids.unsqueeze(0)

        def bare() -> None:
            with torch.no_grad():
                model(idx)

        def with_preactivations() -> None:
            tr = trace(model, ids)
            tr.preactivations["input"]  # the first read computes every layer's

        runs = {"bare": bare, "trace": lambda: trace(model, ids), "pre": with_preactivations}
        for _ in range(3):
            for fn in runs.values():
                fn()
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(repeats):
            for name, fn in runs.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
        from_kernel = kernel_gates_used(model, ids.tolist())
    finally:
        torch.set_num_threads(threads)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "ratio": round(med["trace"] / med["bare"], 3),
        "target": 1.25,
        "T": T,
        "H": H,
        "bare_ms": round(med["bare"] * 1000, 2),
        "trace_ms": round(med["trace"] * 1000, 2),
        "ratio_with_preactivations": round(med["pre"] / med["bare"], 3),
        "with_preactivations_ms": round(med["pre"] * 1000, 2),
        "gates": "fused kernel workspace" if from_kernel else "batched recompute",
        "repeats": repeats,
        "intra_op_threads": 1,
        "cpus": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def bench_sampler_speedup(
    name: str = "pixelcnn-mnist28-binary", n: int = 16, seed: int = 0
) -> dict:
    """Time the naive sampler (one full forward per pixel) against the fast one.

    Both run in this process, one after the other, on the shipped 28x28 model, with the
    same seed; the result says whether they drew the same images.
    """
    model = load_pretrained(name)
    t0 = time.perf_counter()
    naive = sample_images(model, n=n, seed=seed, fast=False)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = sample_images(model, n=n, seed=seed, fast=True)
    t_fast = time.perf_counter() - t0
    return {
        "ratio": round(t_naive / t_fast, 2),
        "target": 5,
        "naive_s": round(t_naive, 3),
        "fast_s": round(t_fast, 3),
        "same_samples": bool(torch.equal(naive, fast)),
        "model": name,
        "n": n,
        "image_size": model.config.image_size,
        "threads": torch.get_num_threads(),
    }
