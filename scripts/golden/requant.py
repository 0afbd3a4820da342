#!/usr/bin/python3
"""Golden vectors for float ("fp32") requantization as PyTorch's qnnpack engine does it.

Run with /usr/bin/python3 (Debian's python3-torch, 1.13) from anywhere:

    /usr/bin/python3 scripts/golden/requant.py

Writes tests/fixtures/requant_qnnpack.inc: quantized::linear / linear_relu / conv2d cases (inputs,
scales, zero points, float bias, and PyTorch's quint8 outputs). The C++ test recomputes the int32
accumulators with a plain loop and must reproduce every output integer for integer.

Before writing anything the script establishes the formula by experiment and stops with an error if
this PyTorch behaves differently from what include/qsafe/core/float_requant.hpp states:

    scale  = (float(w_scale) * float(in_scale)) * (1.0f / float(out_scale))     all float ops
    bias_q = round_half_even(float(bias) * (1.0f / float(w_scale * in_scale)))  (product in double)
    acc    = sum_k (x - in_zp) * w + bias_q                                      int32
    y      = clamp(round_half_even(float(acc) * scale) + out_zp, qmin, qmax)    qmin = out_zp for ReLU

It also counts how often plausible alternatives (scale computed in double then cast, w*i/o with a
division, 1/out_scale in double, bias by division) disagree with PyTorch on "discriminating" cases,
i.e. inputs picked so that the alternatives give different outputs; the counts go in the fixture
header as evidence. Deterministic (fixed seeds).
"""

import math
import os
import sys

import numpy as np
import torch

torch.backends.quantized.engine = "qnnpack"
f32 = np.float32
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "requant_qnnpack.inc")
rng = np.random.default_rng(20240613)


# ----------------------------------------------------------------------------------------------
# The formula under test and its rejected alternatives.
def scale_pytorch(ws, is_, os_):
    return (np.asarray(ws, dtype=np.float64).astype(f32) * f32(is_)) * (f32(1) / f32(os_))


ALTERNATIVE_SCALES = {
    "double product cast once": lambda ws, is_, os_: (np.asarray(ws, dtype=np.float64) * is_ / os_).astype(f32),
    "float w*i/o (division)": lambda ws, is_, os_: np.asarray(ws).astype(f32) * f32(is_) / f32(os_),
    "float w*(i/o)": lambda ws, is_, os_: np.asarray(ws).astype(f32) * (f32(is_) / f32(os_)),
    "float(1/o) from double": lambda ws, is_, os_: (np.asarray(ws).astype(f32) * f32(is_)) * f32(1.0 / os_),
}


def bias_pytorch(bias, ws, is_):
    s = np.asarray(ws, dtype=np.float64) * is_  # double product, as a double scale
    return np.rint(np.asarray(bias, dtype=f32) * (f32(1) / s.astype(f32))).astype(np.int64)


ALTERNATIVE_BIAS = {
    "bias / (w*i) in double": lambda b, ws, is_: np.rint(np.asarray(b, dtype=np.float64) / (np.asarray(ws) * is_)),
    "bias / float(w*i)": lambda b, ws, is_: np.rint(np.asarray(b, dtype=f32) / (np.asarray(ws) * is_).astype(f32)),
    "bias * 1/(float(w)*float(i))": lambda b, ws, is_: np.rint(
        np.asarray(b, dtype=f32) * (f32(1) / (np.asarray(ws).astype(f32) * f32(is_)))),
}


def requant(acc, scale, zp, qmin, qmax):
    return np.clip(np.rint(acc.astype(f32) * scale).astype(np.int64) + zp, qmin, qmax)


# ----------------------------------------------------------------------------------------------
# Running PyTorch.
def run_linear(case):
    x, w = case["x"], case["w"]
    qx = torch._make_per_tensor_quantized_tensor(torch.tensor(x, dtype=torch.uint8), case["in_scale"], case["in_zp"])
    ws = case["w_scales"]
    if len(ws) == 1:
        qw = torch._make_per_tensor_quantized_tensor(torch.tensor(w, dtype=torch.int8), float(ws[0]), 0)
    else:
        qw = torch._make_per_channel_quantized_tensor(torch.tensor(w, dtype=torch.int8),
                                                      torch.tensor(ws, dtype=torch.double),
                                                      torch.zeros(len(ws), dtype=torch.long), 0)
    bias = None if case["bias"] is None else torch.tensor(case["bias"], dtype=torch.float32)
    packed = torch.ops.quantized.linear_prepack(qw, bias)
    op = torch.ops.quantized.linear_relu if case["relu"] else torch.ops.quantized.linear
    y = op(qx, packed, case["out_scale"], case["out_zp"])
    return y.int_repr().numpy().astype(np.int64)


def run_conv(img, wt, bias, in_scale, in_zp, ws, out_scale, out_zp, pad):
    """quantized::conv2d on NCHW img (uint8) and OIHW wt (int8); returns the NCHW uint8 output."""
    qx = torch._make_per_tensor_quantized_tensor(torch.tensor(img, dtype=torch.uint8), in_scale, in_zp)
    if len(ws) == 1:
        qw = torch._make_per_tensor_quantized_tensor(torch.tensor(wt, dtype=torch.int8), float(ws[0]), 0)
    else:
        qw = torch._make_per_channel_quantized_tensor(torch.tensor(wt, dtype=torch.int8),
                                                      torch.tensor(ws, dtype=torch.double),
                                                      torch.zeros(len(ws), dtype=torch.long), 0)
    b = None if bias is None else torch.tensor(bias, dtype=torch.float32)
    packed = torch.ops.quantized.conv2d_prepack(qw, b, [1, 1], [pad, pad], [1, 1], 1)
    y = torch.ops.quantized.conv2d(qx, packed, out_scale, out_zp)
    return y.int_repr().numpy().astype(np.int64)


def im2col(img, kh, kw, pad, fill):
    """NCHW (N = 1) -> [OH*OW, C*kh*kw], padding with the input zero point (a real zero)."""
    _, c, h, w = img.shape
    p = np.full((c, h + 2 * pad, w + 2 * pad), fill, dtype=np.int64)
    p[:, pad:pad + h, pad:pad + w] = img[0]
    oh, ow = h + 2 * pad - kh + 1, w + 2 * pad - kw + 1
    rows = [p[:, i:i + kh, j:j + kw].reshape(-1) for i in range(oh) for j in range(ow)]
    return np.array(rows, dtype=np.int64)


# ----------------------------------------------------------------------------------------------
# Cases.
def predict(case):
    acc = (case["x"].astype(np.int64) - case["in_zp"]) @ case["w"].astype(np.int64).T
    n = case["w"].shape[0]
    ws = np.broadcast_to(np.asarray(case["w_scales"], dtype=np.float64), (n,))
    if case["bias"] is not None:
        acc = acc + bias_pytorch(case["bias"], ws, case["in_scale"])[None, :]
    qmin = case["out_zp"] if case["relu"] else 0
    return requant(acc, scale_pytorch(ws, case["in_scale"], case["out_scale"])[None, :], case["out_zp"], qmin, 255), acc


def make_case(name, x, w, in_scale, in_zp, w_scales, out_scale, out_zp, bias=None, relu=False):
    return dict(name=name, x=np.asarray(x, dtype=np.int64), w=np.asarray(w, dtype=np.int64), in_scale=float(in_scale),
                in_zp=int(in_zp), w_scales=[float(s) for s in np.atleast_1d(w_scales)], out_scale=float(out_scale),
                out_zp=int(out_zp), bias=None if bias is None else np.asarray(bias, dtype=f32), relu=relu)


def discriminating_linear(name, per_channel, count):
    """K = 1 cases whose (x, w) pairs make the alternative scales round differently from PyTorch's."""
    cases = []
    a_all = np.arange(-128, 128)
    w_all = np.arange(-127, 128)
    while len(cases) < count:
        is_, os_ = rng.uniform(0.001, 0.1), rng.uniform(0.005, 0.5)
        n = 6
        ws = rng.uniform(0.0005, 0.02, n if per_channel else 1)
        rows, cols, col_scales = set(), [], []
        for c in range(n):
            wsc = ws[c] if per_channel else ws[0]
            want = scale_pytorch(wsc, is_, os_)
            acc = (a_all[:, None] * w_all[None, :]).astype(f32)
            ref = np.rint(acc * want)
            diff = np.zeros(acc.shape, dtype=bool)
            for alt in ALTERNATIVE_SCALES.values():
                diff |= np.rint(acc * alt(wsc, is_, os_)) != ref
            diff &= np.abs(ref) < 120
            ii, jj = np.nonzero(diff)
            if len(ii) == 0:
                continue
            pick = rng.integers(0, len(ii))
            rows.add(int(a_all[ii[pick]]))
            cols.append(int(w_all[jj[pick]]))
            col_scales.append(wsc)
        if len(cols) < 2:
            continue
        rows = sorted(rows)[:8]
        x = np.array(rows)[:, None] + 128
        w = np.array(cols)[:, None]
        cases.append(make_case("%s_%d" % (name, len(cases)), x, w, is_, 128, col_scales if per_channel else ws[:1],
                               os_, 128))
    return cases


def random_linear(name, m, k, n, per_channel, bias=False, relu=False):
    is_, os_ = rng.uniform(0.002, 0.05), rng.uniform(0.01, 0.3)
    ws = rng.uniform(0.001, 0.02, n if per_channel else 1)
    x = rng.integers(0, 256, (m, k))
    w = rng.integers(-127, 128, (n, k))
    b = rng.normal(0, 2, n).astype(f32) if bias else None
    return make_case(name, x, w, is_, int(rng.integers(0, 256)), ws, os_, int(rng.integers(0, 256)), b, relu)


def build_cases():
    cases = []
    cases += [random_linear("per_tensor_random", 5, 33, 7, False),
              random_linear("per_channel_random", 4, 64, 9, True),
              random_linear("per_tensor_bias", 3, 17, 8, False, bias=True),
              random_linear("per_channel_bias", 3, 40, 8, True, bias=True),
              random_linear("per_tensor_relu", 6, 20, 5, False, relu=True),
              random_linear("per_channel_bias_relu", 6, 20, 5, True, bias=True, relu=True)]
    cases += discriminating_linear("discriminating_per_tensor", False, 8)
    cases += discriminating_linear("discriminating_per_channel", True, 6)
    # Exact ties: scale 0.5 (all candidates agree), odd accumulators -> half to even.
    cases.append(make_case("ties_half_even", [[129], [127], [131], [125]], [[1], [3], [5], [7], [-1], [-3]],
                           0.5, 128, [1.0], 1.0, 128))
    # Both clamps: a tiny output scale pushes values past 0 and 255.
    cases.append(make_case("saturate_both_ends", rng.integers(0, 256, (4, 50)), rng.integers(-127, 128, (6, 50)),
                           0.05, 100, [0.01], 0.0005, 120))
    # |acc| > 2^24: float(acc) rounds to nearest even before the multiply.
    k = 600
    x = np.full((3, k), 255)
    x[1] = rng.integers(240, 256, k)
    x[2, :] = 0
    w = np.stack([np.full(k, 127), np.full(k, -127), rng.integers(120, 128, k), rng.integers(-128, -120, k)])
    acc_max = 255 * 127 * k
    is_, ws_ = 0.02, 0.004
    cases.append(make_case("large_accumulators", x, w, is_, 0, [ws_], acc_max * is_ * ws_ / 121.3, 128))
    # Bias values at half-integer multiples of w_scale * in_scale with a scale near 1: every unit of
    # the int32 bias shows in the output, so the bias quantization formula is pinned down.
    for t in range(4):
        is_, ws_ = rng.uniform(0.001, 0.1), rng.uniform(0.0005, 0.02)
        s = is_ * ws_
        b = ((rng.integers(-60, 60, 8) + 0.5) * s * (1 + rng.uniform(-1e-7, 1e-7, 8))).astype(f32)
        cases.append(make_case("bias_rounding_%d" % t, [[130], [126]], rng.integers(-3, 4, (8, 1)), is_, 128, [ws_],
                               s * rng.uniform(0.9, 1.1), 128, b))
    return cases


def conv_cases():
    """quantized::conv2d 3x3, pad 1, as an im2col GEMM: the same requantization."""
    out = []
    for t, per_channel in enumerate([False, True]):
        c, h, wd, oc = 3, 5, 6, 4
        img = rng.integers(0, 256, (1, c, h, wd))
        wt = rng.integers(-127, 128, (oc, c, 3, 3))
        is_, in_zp, os_, out_zp = rng.uniform(0.005, 0.05), int(rng.integers(0, 256)), rng.uniform(0.05, 0.5), 90
        ws = rng.uniform(0.001, 0.01, oc if per_channel else 1)
        bias = rng.normal(0, 1, oc).astype(f32)
        y = run_conv(img, wt, bias, is_, in_zp, ws, os_, out_zp, 1)  # [1, oc, h, wd]
        case = make_case("conv3x3_%s" % ("per_channel" if per_channel else "per_tensor"), im2col(img, 3, 3, 1, in_zp),
                         wt.reshape(oc, -1), is_, in_zp, ws, os_, out_zp, bias)
        case["torch"] = y[0].reshape(oc, -1).T
        out.append(case)
    return out


# ----------------------------------------------------------------------------------------------
def count_alternatives(cases):
    counts = {k: 0 for k in list(ALTERNATIVE_SCALES) + list(ALTERNATIVE_BIAS)}
    for case in cases:
        n = case["w"].shape[0]
        ws = np.broadcast_to(np.asarray(case["w_scales"], dtype=np.float64), (n,))
        acc0 = (case["x"] - case["in_zp"]) @ case["w"].T
        qmin = case["out_zp"] if case["relu"] else 0
        bq = 0 if case["bias"] is None else bias_pytorch(case["bias"], ws, case["in_scale"])[None, :]
        for k, alt in ALTERNATIVE_SCALES.items():
            y = requant(acc0 + bq, alt(ws, case["in_scale"], case["out_scale"])[None, :], case["out_zp"], qmin, 255)
            counts[k] += int((y != case["torch"]).sum())
        if case["bias"] is not None:
            for k, alt in ALTERNATIVE_BIAS.items():
                acc = acc0 + alt(case["bias"], ws, case["in_scale"]).astype(np.int64)[None, :]
                y = requant(acc, scale_pytorch(ws, case["in_scale"], case["out_scale"])[None, :], case["out_zp"], qmin, 255)
                counts[k] += int((y != case["torch"]).sum())
    return counts


def c_array(ctype, name, values, per_line=20):
    vals = [str(int(v)) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    return "static const %s %s[] = {\n  %s\n};\n" % (ctype, name, ",\n  ".join(lines))


def hex_double(v):
    return float(v).hex()


def hex_float(v):
    return float(f32(v)).hex() + "f"


def main():
    cases = build_cases()
    for case in cases:
        case["torch"] = run_linear(case)
    cases += conv_cases()

    total = 0
    for case in cases:
        pred, acc = predict(case)
        if not np.array_equal(pred, case["torch"]):
            bad = np.argwhere(pred != case["torch"])
            sys.exit("requant.py: PyTorch disagrees with the documented formula in case %s at %s" %
                     (case["name"], bad[:5].tolist()))
        if np.abs(acc).max() >= 2 ** 31:
            sys.exit("requant.py: accumulator overflow in case %s" % case["name"])
        total += pred.size
    counts = count_alternatives(cases)
    large = [c for c in cases if c["name"] == "large_accumulators"][0]
    big = int(np.abs(predict(large)[1]).max())
    assert big > 2 ** 24, big

    lines = [
        "// PyTorch quantized::linear / linear_relu / conv2d (engine qnnpack): float requantization golden data.",
        "// Generated by scripts/golden/requant.py with torch %s, numpy %s. Do not edit: rerun the script." %
        (torch.__version__, np.__version__),
        "// %d cases, %d outputs; every one matches the formula in include/qsafe/core/float_requant.hpp." %
        (len(cases), total),
        "// Outputs of these cases that each rejected alternative gets wrong:",
    ]
    for k, v in counts.items():
        lines.append("//   %-32s %d" % (k, v))
    lines += [
        "// Layout: x is m x k quint8 row-major (conv cases: im2col rows, padding = input zero point), w is",
        "// n x k qint8 row-major (PyTorch's [out, in]; zero point 0), y is m x n quint8. weight_scales has",
        "// 1 (per tensor) or n entries. bias (float, or nullptr) is what PyTorch was given; the test",
        "// quantizes it. qmin = output zero point for linear_relu, else 0; qmax = 255.",
        "",
        "namespace requant_fixtures {",
        "",
        "struct QnnpackCase {",
        "  const char* name;",
        "  int m, k, n;",
        "  const std::uint8_t* x;",
        "  double input_scale;",
        "  int input_zero_point;",
        "  const std::int8_t* w;",
        "  const double* weight_scales;",
        "  int num_weight_scales;",
        "  const float* bias;",
        "  double output_scale;",
        "  int output_zero_point;",
        "  int qmin, qmax;",
        "  const std::uint8_t* y;",
        "};",
        "",
    ]
    table = []
    for i, c in enumerate(cases):
        m, k = c["x"].shape
        n = c["w"].shape[0]
        lines.append(c_array("std::uint8_t", "kX%d" % i, c["x"]))
        lines.append(c_array("std::int8_t", "kW%d" % i, c["w"]))
        lines.append("static const double kWs%d[] = {%s};\n" % (i, ", ".join(hex_double(s) for s in c["w_scales"])))
        bias = "nullptr"
        if c["bias"] is not None:
            lines.append("static const float kB%d[] = {%s};\n" % (i, ", ".join(hex_float(b) for b in c["bias"])))
            bias = "kB%d" % i
        lines.append(c_array("std::uint8_t", "kY%d" % i, c["torch"]))
        table.append('  {"%s", %d, %d, %d, kX%d, %s, %d, kW%d, kWs%d, %d, %s, %s, %d, %d, 255, kY%d},' %
                     (c["name"], m, k, n, i, hex_double(c["in_scale"]), c["in_zp"], i, i, len(c["w_scales"]), bias,
                      hex_double(c["out_scale"]), c["out_zp"], c["out_zp"] if c["relu"] else 0, i))
    lines.append("static const QnnpackCase kQnnpackCases[] = {")
    lines += table
    lines += ["};", "", "}  // namespace requant_fixtures", ""]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        fh.write("\n".join(lines))
    print("requant.py: %d cases, %d outputs, max |acc| %d; alternatives wrong on: %s" % (len(cases), total, big, counts))


if __name__ == "__main__":
    main()
