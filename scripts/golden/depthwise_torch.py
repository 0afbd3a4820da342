#!/usr/bin/python3
"""Golden outputs of PyTorch's quantized depthwise convolution (engine qnnpack) for qsafe's
depthwise kernel (include/qsafe/kernel/depthwise.hpp).

Run with /usr/bin/python3 (Debian's python3-torch, 1.13) from anywhere:

    /usr/bin/python3 scripts/golden/depthwise_torch.py

Writes tests/fixtures/depthwise_torch.inc: quantized::conv2d / conv2d_relu with groups = C on
quint8 inputs (3x3 stride 1, 3x3 stride 2 on an odd size, 5x5, 3x3 dilation 2), per-channel and
per-tensor qint8 weights, float bias or none. Inputs and outputs are stored NHWC, weights OIHW
[C, 1, kh, kw]. tests/kernel/depthwise_test.cpp runs every compiled path with
AddBias + RequantizeFloat + Clamp (the multipliers and the int32 bias from
include/qsafe/core/float_requant.hpp) and must reproduce every output integer for integer.

Before writing anything the script recomputes every output with that formula in numpy and stops
if one differs from PyTorch. Deterministic (fixed seed).
"""

import os
import sys

import numpy as np
import torch

torch.backends.quantized.engine = "qnnpack"
f32 = np.float32
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "depthwise_torch.inc")
rng = np.random.default_rng(20261122)

CASES = [
    # name, h, w, c, k, stride, pad, dilation, per_channel, bias, relu
    ("3x3_s1_c17", 9, 10, 17, 3, 1, 1, 1, True, True, False),
    ("3x3_s2_odd_c33_relu", 11, 9, 33, 3, 2, 1, 1, True, True, True),
    ("5x5_s1_c24", 8, 7, 24, 5, 1, 2, 1, False, False, False),
    ("3x3_d2_c8", 7, 8, 8, 3, 1, 2, 2, True, True, False),
]


def requant_scale(ws, in_scale, out_scale):
    return (np.asarray(ws, dtype=np.float64).astype(f32) * f32(in_scale)) * (f32(1) / f32(out_scale))


def quantize_bias(bias, ws, in_scale):
    s = (np.asarray(ws, dtype=np.float64) * in_scale).astype(f32)
    return np.rint(np.asarray(bias, dtype=f32) * (f32(1) / s)).astype(np.int64)


def predict(x_nhwc, x_zp, w, ws, bias_q, scale, y_zp, k, stride, pad, dil, relu):
    h, wd, c = x_nhwc.shape
    oh = (h + 2 * pad - dil * (k - 1) - 1) // stride + 1
    ow = (wd + 2 * pad - dil * (k - 1) - 1) // stride + 1
    xp = np.full((h + 2 * pad, wd + 2 * pad, c), x_zp, dtype=np.int64)
    xp[pad:pad + h, pad:pad + wd] = x_nhwc
    acc = np.zeros((oh, ow, c), dtype=np.int64)
    for kh in range(k):
        for kw in range(k):
            win = xp[kh * dil:kh * dil + stride * (oh - 1) + 1:stride, kw * dil:kw * dil + stride * (ow - 1) + 1:stride]
            acc += (win - x_zp) * w[:, 0, kh, kw].astype(np.int64)
    acc += bias_q
    y = np.rint(acc.astype(f32) * scale).astype(np.int64) + y_zp
    return np.clip(y, y_zp if relu else 0, 255)


def run_case(name, h, wd, c, k, stride, pad, dil, per_channel, with_bias, relu):
    x_scale, x_zp = float(rng.uniform(0.01, 0.05)), int(rng.integers(0, 256))
    y_scale, y_zp = float(rng.uniform(0.02, 0.2)), int(rng.integers(0, 256))
    x = rng.integers(0, 256, size=(1, c, h, wd), dtype=np.int64)  # NCHW
    w = rng.integers(-128, 128, size=(c, 1, k, k), dtype=np.int64)
    ws = rng.uniform(0.002, 0.02, size=c) if per_channel else np.array([rng.uniform(0.002, 0.02)])
    bias = rng.uniform(-2, 2, size=c).astype(f32) if with_bias else None
    qx = torch._make_per_tensor_quantized_tensor(torch.tensor(x, dtype=torch.uint8), x_scale, x_zp)
    if per_channel:
        qw = torch._make_per_channel_quantized_tensor(torch.tensor(w, dtype=torch.int8),
                                                      torch.tensor(ws, dtype=torch.double),
                                                      torch.zeros(c, dtype=torch.long), 0)
    else:
        qw = torch._make_per_tensor_quantized_tensor(torch.tensor(w, dtype=torch.int8), float(ws[0]), 0)
    b = None if bias is None else torch.tensor(bias, dtype=torch.float32)
    packed = torch.ops.quantized.conv2d_prepack(qw, b, [stride, stride], [pad, pad], [dil, dil], c)
    op = torch.ops.quantized.conv2d_relu if relu else torch.ops.quantized.conv2d
    y = op(qx, packed, y_scale, y_zp).int_repr().numpy().astype(np.int64)[0].transpose(1, 2, 0)  # NHWC
    x_nhwc = x[0].transpose(1, 2, 0)
    wsc = np.broadcast_to(ws, (c,))
    bias_q = quantize_bias(bias, wsc, x_scale) if bias is not None else np.zeros(c, dtype=np.int64)
    pred = predict(x_nhwc, x_zp, w, wsc, bias_q, requant_scale(wsc, x_scale, y_scale), y_zp, k, stride, pad, dil, relu)
    if pred.shape != y.shape or not np.array_equal(pred, y):
        bad = int(np.sum(pred != y)) if pred.shape == y.shape else -1
        sys.exit(f"{name}: the float_requant.hpp formula disagrees with PyTorch on {bad} outputs; not writing")
    return dict(name=name, h=h, w=wd, c=c, k=k, stride=stride, pad=pad, dil=dil, x=x_nhwc, x_zp=x_zp,
                x_scale=x_scale, wt=w, ws=ws, bias=bias, y_scale=y_scale, y_zp=y_zp, relu=relu, y=y)


def ints(a, per_line=24):
    flat = [str(int(v)) for v in np.asarray(a).reshape(-1)]
    return ",\n".join("    " + ", ".join(flat[i:i + per_line]) for i in range(0, len(flat), per_line))


def floats(a):
    return ", ".join(repr(float(v)) + "f" for v in np.asarray(a, dtype=f32).reshape(-1))


def doubles(a):
    return ", ".join(repr(float(v)) for v in np.asarray(a).reshape(-1))


def main():
    cases = [run_case(*c) for c in CASES]
    outputs = sum(int(c["y"].size) for c in cases)
    lines = [
        "// PyTorch quantized::conv2d with groups = C (depthwise), engine qnnpack: golden outputs.",
        f"// Generated by scripts/golden/depthwise_torch.py with torch {torch.__version__}, numpy {np.__version__}."
        " Do not edit: rerun the script.",
        f"// {len(cases)} cases, {outputs} outputs; the script checked every one against the formula in",
        "// include/qsafe/core/float_requant.hpp before writing. x and y are NHWC (batch 1) quint8, w is OIHW",
        "// [C, 1, k, k] qint8 (zero point 0), weight_scales has 1 (per tensor) or C entries, bias (float, or",
        "// nullptr) is what PyTorch was given. Output clamp: [y_zero_point, 255] with ReLU, else [0, 255].",
        "",
        "namespace depthwise_fixtures {",
        "",
        "struct DepthwiseCase {",
        "  const char* name;",
        "  int h, w, c, k, stride, pad, dilation;",
        "  const std::uint8_t* x;",
        "  double input_scale;",
        "  int input_zero_point;",
        "  const std::int8_t* weights;",
        "  const double* weight_scales;",
        "  int num_weight_scales;",
        "  const float* bias;",
        "  double output_scale;",
        "  int output_zero_point;",
        "  bool relu;",
        "  const std::uint8_t* y;",
        "};",
        "",
    ]
    for i, c in enumerate(cases):
        lines.append(f"// {c['name']}")
        lines.append(f"inline const std::uint8_t kX{i}[] = {{\n{ints(c['x'])}}};")
        lines.append(f"inline const std::int8_t kW{i}[] = {{\n{ints(c['wt'])}}};")
        lines.append(f"inline const double kWs{i}[] = {{{doubles(c['ws'])}}};")
        if c["bias"] is not None:
            lines.append(f"inline const float kB{i}[] = {{{floats(c['bias'])}}};")
        lines.append(f"inline const std::uint8_t kY{i}[] = {{\n{ints(c['y'])}}};")
        lines.append("")
    lines.append("inline const DepthwiseCase kCases[] = {")
    for i, c in enumerate(cases):
        bias = f"kB{i}" if c["bias"] is not None else "nullptr"
        lines.append(
            f"    {{\"{c['name']}\", {c['h']}, {c['w']}, {c['c']}, {c['k']}, {c['stride']}, {c['pad']}, {c['dil']}, "
            f"kX{i}, {c['x_scale']!r}, {c['x_zp']}, kW{i}, kWs{i}, {len(c['ws'])}, {bias}, {c['y_scale']!r}, "
            f"{c['y_zp']}, {'true' if c['relu'] else 'false'}, kY{i}}},")
    lines.append("};")
    lines.append("")
    lines.append("}  // namespace depthwise_fixtures")
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {OUT}: {len(cases)} cases, {outputs} outputs")


if __name__ == "__main__":
    main()
