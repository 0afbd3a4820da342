#!/usr/bin/env python3
"""PyTorch's own static int8 version of the bundled digits CNN: the golden data qsafe's quantized
graph must reproduce integer for integer.

Run with Debian's python3-torch (engine qnnpack; fbgemm is not built in):
    /usr/bin/python3 scripts/models/quantize_digits_torch.py [--dir data/digits] [--samples 64]

Eager mode, as a PyTorch user would do it: QuantStub/DeQuantStub, conv+relu and linear+relu fused,
activations observed with MinMaxObserver (quint8, affine), weights with PerChannelMinMaxObserver
(qint8, per-channel symmetric), calibrated on calib_x.npy, then converted. The residual add is a
quantized FloatFunctional add.

Writes <dir>/torch_int8/:
    qparams.json          scale / zero point of the input and of every layer's output, weight scales
    qparams.txt           the same as hex floats, one layer per line, for C++ tests
    <layer>.int.npy       each layer's quantized output (int_repr, NCHW) for the first N test samples
    logits.npy            the dequantized final logits for those samples (float32)
    accuracy.txt          the int8 model's test accuracy on all test samples
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.ao.quantization import (DeQuantStub, MinMaxObserver, PerChannelMinMaxObserver, QConfig, QuantStub,
                                   convert, fuse_modules, prepare)

import train_digits


class QuantDigits(nn.Module):
    """DigitsNet with explicit ReLU modules (for fusing) and quantization stubs."""

    def __init__(self, f):
        super().__init__()
        self.quant = QuantStub()
        self.conv1, self.relu1 = f.conv1, nn.ReLU()
        self.conv2, self.relu2 = f.conv2, nn.ReLU()
        self.pool = nn.MaxPool2d(2, 2)
        self.dw3, self.relu3 = f.dw3, nn.ReLU()
        self.res = nn.quantized.FloatFunctional()
        self.fc1, self.relu4 = f.fc1, nn.ReLU()
        self.fc2 = f.fc2
        self.dequant = DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.relu1(self.conv1(x))
        x = self.relu2(self.conv2(x))
        p = self.pool(x)
        x = self.res.add(self.relu3(self.dw3(p)), p)
        x = torch.flatten(x, 1)
        x = self.relu4(self.fc1(x))
        return self.dequant(self.fc2(x))


def load_float_model(model_dir):
    f = train_digits.DigitsNet()
    state = {}
    for name, _ in f.named_children():
        state[f"{name}.weight"] = torch.from_numpy(np.load(os.path.join(model_dir, f"{name}.weight.npy")))
        state[f"{name}.bias"] = torch.from_numpy(np.load(os.path.join(model_dir, f"{name}.bias.npy")))
    f.load_state_dict(state)
    return f.eval()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.path.join(here, "..", "..", "data", "digits"))
    ap.add_argument("--samples", type=int, default=64)
    args = ap.parse_args()
    torch.backends.quantized.engine = "qnnpack"
    torch.set_num_threads(1)

    model = QuantDigits(load_float_model(os.path.join(args.dir, "model"))).eval()
    fuse_modules(model, [["conv1", "relu1"], ["conv2", "relu2"], ["dw3", "relu3"], ["fc1", "relu4"]], inplace=True)
    model.qconfig = QConfig(
        activation=MinMaxObserver.with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine),
        weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric))
    prepare(model, inplace=True)
    with torch.no_grad():
        model(torch.from_numpy(np.load(os.path.join(args.dir, "calib_x.npy"))))
    convert(model, inplace=True)

    test_x = torch.from_numpy(np.load(os.path.join(args.dir, "test_x.npy")))
    test_y = np.load(os.path.join(args.dir, "test_y.npy"))
    outputs = {}

    def keep(name):
        def hook(_module, _inputs, output):
            outputs[name] = output
        return hook

    for name in ["quant", "conv1", "conv2", "pool", "dw3", "fc1", "fc2"]:
        getattr(model, name).register_forward_hook(keep(name))

    def keep_residual(_module, inputs):  # QFunctional.add runs no hooks: take fc1's (flattened) input
        outputs["res"] = inputs[0].reshape(-1, 16, 4, 4)

    model.fc1.register_forward_pre_hook(keep_residual)
    with torch.no_grad():
        logits = model(test_x)
    accuracy = float((logits.argmax(1).numpy() == test_y).mean())

    out = os.path.join(args.dir, "torch_int8")
    os.makedirs(out, exist_ok=True)
    n = args.samples
    qparams = {"engine": "qnnpack", "torch": torch.__version__, "samples": n, "layers": {}}
    for name, t in outputs.items():
        np.save(os.path.join(out, f"{name}.int.npy"), t.int_repr()[:n].numpy())
        entry = {"scale": float(t.q_scale()), "zero_point": int(t.q_zero_point())}
        mod = getattr(model, name, None)
        if name == "res":
            mod = None
        if mod is not None and hasattr(mod, "weight") and callable(mod.weight):
            w = mod.weight()
            entry["weight_scales"] = [float(s) for s in w.q_per_channel_scales()]
            entry["weight_zero_points"] = [int(z) for z in w.q_per_channel_zero_points()]
        qparams["layers"][name] = entry
    with open(os.path.join(out, "qparams.json"), "w") as f:
        json.dump(qparams, f, indent=1)
    # The same, exactly, for C++ tests: "<layer> <scale as hex float> <zero point> [<weight scale hex> ...]".
    with open(os.path.join(out, "qparams.txt"), "w") as f:
        for name, e in qparams["layers"].items():
            ws = " ".join(float(s).hex() for s in e.get("weight_scales", []))
            f.write(f"{name} {float(e['scale']).hex()} {e['zero_point']} {ws}".rstrip() + "\n")
    np.save(os.path.join(out, "logits.npy"), logits[:n].numpy().astype(np.float32))
    with open(os.path.join(out, "accuracy.txt"), "w") as f:
        f.write(f"{accuracy:.6f}\n")
    print(f"int8 (qnnpack) test accuracy {accuracy:.4f}; golden outputs for {n} samples in {out}")


if __name__ == "__main__":
    main()
