#!/usr/bin/python3
"""Times PyTorch's HistogramObserver.forward (torch.ao.quantization, 2048 bins, the default) on the
same 128x4096 N(0, 1) tensor that benchmarks/bench_observer.cpp uses (splitmix64 + Box-Muller), one
thread, steady state (the observer has seen the data before), and prints ns per element and GB/s of
float input. Compare with observer/percentile|mse|entropy/128x4096 (docs/benchmarks.md).

    /usr/bin/python3 scripts/bench_torch_histogram.py [--repetitions 3] [--iterations 20]
"""
import argparse
import time

import numpy as np
import torch
from torch.ao.quantization.observer import HistogramObserver

ROWS, COLS = 128, 4096
MASK = (1 << 64) - 1


def bench_data():
    n = ROWS * COLS
    # splitmix64, vectorised: state_k = seed + k * golden (mod 2^64), then the output mix.
    golden = np.uint64(0x9E3779B97F4A7C15)
    k = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(20240601) + k * golden
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u1 = ((z[0::2] >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0 ** -53
    u2 = (z[1::2] >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    r = np.sqrt(-2.0 * np.log(u1))
    out = np.empty(n, dtype=np.float32)
    out[0::2] = (r * np.cos(2.0 * np.pi * u2)).astype(np.float32)
    out[1::2] = (r * np.sin(2.0 * np.pi * u2)).astype(np.float32)
    return torch.from_numpy(out.reshape(ROWS, COLS))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    x = bench_data()
    obs = HistogramObserver()  # bins=2048, quint8, per_tensor_affine
    obs(x)
    results = []
    for _ in range(args.repetitions):
        t0 = time.thread_time()
        for _ in range(args.iterations):
            obs(x)
        results.append((time.thread_time() - t0) / args.iterations)
    best = min(results)
    mean = sum(results) / len(results)
    print("torch %s HistogramObserver.forward %dx%d (thread CPU time, %d reps x %d iterations)"
          % (torch.__version__, ROWS, COLS, args.repetitions, args.iterations))
    print("  mean %.3f ms = %.3f ns/elem = %.2f GB/s;  best %.3f ms = %.3f ns/elem"
          % (mean * 1e3, mean / x.numel() * 1e9, x.numel() * 4 / mean / 1e9, best * 1e3, best / x.numel() * 1e9))
    t0 = time.thread_time()
    scale, zp = obs.calculate_qparams()
    print("  calculate_qparams (the L2 search): %.3f ms" % ((time.thread_time() - t0) * 1e3))
    print("  data check: x[0,:4] =", [float(v) for v in x[0, :4]])


if __name__ == "__main__":
    main()
