#!/usr/bin/python3
"""PyTorch-made expectations for the qsafe-qparams executable (tests/tools/qparams_tool_test.cpp).

Run from the repository root: /usr/bin/python3 scripts/golden/qparams_tool.py

Writes tests/data/npy/tool/:
    x.npy          the input: float32 [6, 5, 8], heavy-tailed, one outlier
    cases.txt      blocks of three lines per case:
                     ARGS <command-line options for qsafe-qparams, without the input file>
                     EXPECT <the JSON PyTorch's observers give, same keys as the tool prints>
                     QUANTIZED <expected .npy of --emit-quantized, or ->
    q_*.npy        PyTorch's quantized integers (quantize_per_tensor / quantize_per_channel
                   int_repr, or round(fake_quantize / scale) + zero_point for 4-bit ranges)
Floats in EXPECT are Python reprs of float32 values, so the comparison is exact.
"""
import json
import os
import warnings

import numpy as np
import torch
from torch.ao.quantization.observer import (MinMaxObserver, MovingAverageMinMaxObserver,
                                            MovingAveragePerChannelMinMaxObserver, PerChannelMinMaxObserver)

warnings.simplefilter("ignore")
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "npy", "tool")
f32 = np.float32

# dtype name -> (torch dtype, quant_min, quant_max or None for the default range)
DTYPES = {
    "quint8": (torch.quint8, None, None),
    "qint8": (torch.qint8, None, None),
    "qint4": (torch.qint8, -8, 7),
    "quint4": (torch.quint8, 0, 15),
    "qint16": (torch.qint32, -32768, 32767),
}


def observer_kwargs(dtype, scheme, per_channel, reduce_range):
    tdt, qmin, qmax = DTYPES[dtype]
    qscheme = {("affine", False): torch.per_tensor_affine, ("symmetric", False): torch.per_tensor_symmetric,
               ("affine", True): torch.per_channel_affine, ("symmetric", True): torch.per_channel_symmetric}
    kw = dict(dtype=tdt, qscheme=qscheme[(scheme, per_channel)], reduce_range=reduce_range)
    if qmin is not None:
        kw.update(quant_min=qmin, quant_max=qmax)
    return kw


def pyfloats(t):
    return [float(f32(v)) for v in np.atleast_1d(t.detach().numpy())]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(99)
    x = (rng.standard_t(3.0, (6, 5, 8)) * 0.8 + 0.2).astype(f32)
    x[4, 2, 7] = 19.5  # an outlier
    np.save(os.path.join(OUT, "x.npy"), x)
    xt = torch.from_numpy(x)
    lines = []

    def case(args, observer="minmax", dtype="quint8", scheme="affine", axis=None, reduce_range=False, batches=1,
             c=None, emit=False, group=None):
        per_channel = axis is not None or group is not None
        kw = observer_kwargs(dtype, scheme, per_channel, reduce_range)
        if observer == "moving_average":
            if c is not None:
                kw["averaging_constant"] = c
            cls = MovingAveragePerChannelMinMaxObserver if per_channel else MovingAverageMinMaxObserver
        else:
            cls = PerChannelMinMaxObserver if per_channel else MinMaxObserver
        src = xt
        if group is not None:  # groups of `group` along the last axis == channels of a reshape
            src = xt.reshape(-1, group)
            kw["ch_axis"] = 0
        elif axis is not None:
            kw["ch_axis"] = axis % x.ndim
        obs = cls(**kw)
        if per_channel and group is None:
            chunks = torch.tensor_split(src, batches, dim=0)
        else:
            chunks = torch.tensor_split(src.flatten(), batches) if group is None else [src]
        for ch in chunks:
            obs(ch)
        scale, zp = obs.calculate_qparams()
        expect = {"observer": observer, "dtype": dtype, "scheme": scheme}
        if axis is not None:
            expect["axis"] = axis
        if group is not None:
            expect.update(group_axis=-1, group_size=group, param_shape=[int(np.prod(x.shape[:-1])), x.shape[-1] // group, 1])
        vals = dict(min=pyfloats(obs.min_val), max=pyfloats(obs.max_val), scale=pyfloats(scale),
                    zero_point=[int(z) for z in np.atleast_1d(zp.numpy())])
        for k, v in vals.items():
            expect[k] = v if per_channel else v[0]
        qname = "-"
        if emit:
            tdt, qmin, qmax = DTYPES[dtype]
            qmin = qmin if qmin is not None else obs.quant_min
            qmax = qmax if qmax is not None else obs.quant_max
            qname = "q_%02d.npy" % (len(lines) // 3)
            if group is not None:
                fq = torch.fake_quantize_per_channel_affine(src, scale.float(), zp.int(), 0, qmin, qmax)
                q = (torch.round(fq / scale.float()[:, None]) + zp[:, None]).reshape(x.shape)
            elif dtype in ("quint8", "qint8") and not reduce_range:
                if per_channel:
                    q = torch.quantize_per_channel(xt, scale.double(), zp.long(), axis % x.ndim, tdt).int_repr()
                else:
                    q = torch.quantize_per_tensor(xt, float(scale), int(zp), tdt).int_repr()
            else:
                assert not per_channel
                fq = torch.fake_quantize_per_tensor_affine(xt, float(scale), int(zp), qmin, qmax)
                q = torch.round(fq / float(scale)) + int(zp)
            np_type = {"quint8": np.uint8, "qint8": np.int8, "qint4": np.int8, "quint4": np.uint8,
                       "qint16": np.int16}[dtype]
            qn = q.numpy()
            assert np.array_equal(qn, np.round(qn)) and qn.min() >= qmin and qn.max() <= qmax
            np.save(os.path.join(OUT, qname), qn.astype(np_type))
        lines.append("ARGS " + args)
        lines.append("EXPECT " + json.dumps(expect, separators=(",", ":")))
        lines.append("QUANTIZED " + qname)

    case("--observer minmax --dtype quint8 --scheme affine", emit=True)
    case("--dtype qint8 --scheme symmetric", dtype="qint8", scheme="symmetric", emit=True)
    case("--dtype qint8 --scheme affine", dtype="qint8", emit=True)
    case("--dtype quint8 --reduce-range", reduce_range=True, emit=True)
    case("--dtype qint8 --scheme symmetric --reduce-range", dtype="qint8", scheme="symmetric", reduce_range=True)
    case("--dtype qint8 --batches 7", dtype="qint8", batches=7)
    case("--observer moving_average --batches 7", observer="moving_average", batches=7)
    case("--observer moving_average --dtype qint8 --scheme symmetric --batches 13 --averaging-constant 0.25",
         observer="moving_average", dtype="qint8", scheme="symmetric", batches=13, c=0.25)
    case("--observer moving_average --batches 240", observer="moving_average", batches=240)
    case("--observer moving_average --batches 1000", observer="moving_average", batches=1000)  # empty chunks
    case("--per-channel 1 --dtype qint8 --scheme symmetric", axis=1, dtype="qint8", scheme="symmetric", emit=True)
    case("--per-channel -1 --dtype quint8 --scheme affine", axis=-1, emit=True)
    case("--per-channel 0 --dtype qint8 --scheme affine", axis=0, dtype="qint8", emit=True)
    case("--observer moving_average --per-channel 2 --dtype qint8 --batches 4 --averaging-constant 0.5",
         observer="moving_average", axis=2, dtype="qint8", batches=4, c=0.5)
    case("--per-channel 1 --dtype qint8 --batches 3", axis=1, dtype="qint8", batches=3)
    case("--dtype qint4 --scheme symmetric", dtype="qint4", scheme="symmetric", emit=True)
    case("--dtype quint4 --scheme affine", dtype="quint4", emit=True)
    case("--dtype qint16 --scheme symmetric", dtype="qint16", scheme="symmetric", emit=True)
    case("--dtype qint4 --scheme symmetric --group-size 4", dtype="qint4", scheme="symmetric", group=4, emit=True)
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d cases to %s" % (len(lines) // 3, OUT))


if __name__ == "__main__":
    main()
