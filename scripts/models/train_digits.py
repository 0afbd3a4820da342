#!/usr/bin/env python3
"""Train the small digits CNN that qsafe's reliability report ships with, and export it.

Run with Debian's python3-torch and python3-sklearn (no network needed):
    /usr/bin/python3 scripts/models/train_digits.py [--out data/digits]

Data: the UCI / scikit-learn handwritten digits (8x8 images, 1,797 samples, pixel values 0..16),
E. Alpaydin and C. Kaynak, CC BY 4.0 (see data/digits/ATTRIBUTION.md). Pixels are scaled to [0, 1].
The split is fixed by the seed: 1,000 training, 200 calibration, 597 test images.

Exports, all in the qsafe model manifest format (weights in PyTorch layouts: conv OIHW, linear
[out, in]; inputs NCHW float32; labels int64):
    model/model.txt and model/<layer>.weight.npy / .bias.npy
    calib_x.npy, test_x.npy, test_y.npy, and float logits test_logits.npy for checks.
Everything is deterministic for a given torch build (fixed seeds, single thread).
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits

SEED = 0


class DigitsNet(nn.Module):
    """conv-relu, conv-relu, maxpool, depthwise conv-relu with a residual add, two linears."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.dw3 = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        p = F.max_pool2d(x, 2, 2)
        x = F.relu(self.dw3(p)) + p
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


MANIFEST = """\
# Small CNN for the 8x8 UCI digits, trained by scripts/models/train_digits.py (seed {seed}).
# Float test accuracy: {acc:.4f} on {ntest} images.
input shape=1,8,8
conv2d name=conv1 weight=conv1.weight.npy bias=conv1.bias.npy stride=1 padding=1
relu name=relu1
conv2d name=conv2 weight=conv2.weight.npy bias=conv2.bias.npy stride=1 padding=1
relu name=relu2
maxpool2d name=pool kernel=2 stride=2
conv2d name=dw3 weight=dw3.weight.npy bias=dw3.bias.npy stride=1 padding=1 groups=16
relu name=relu3
add name=res from=pool
flatten name=flat
linear name=fc1 weight=fc1.weight.npy bias=fc1.bias.npy
relu name=relu4
linear name=fc2 weight=fc2.weight.npy bias=fc2.bias.npy
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "data", "digits"))
    ap.add_argument("--epochs", type=int, default=60)
    args = ap.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    order = rng.permutation(len(x))
    train, calib, test = order[:1000], order[1000:1200], order[1200:]

    model = DigitsNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    xt, yt = torch.from_numpy(x[train]), torch.from_numpy(y[train])
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 50):
            idx = perm[i:i + 50]
            opt.zero_grad()
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x[test])).numpy().astype(np.float32)
    acc = float((logits.argmax(1) == y[test]).mean())
    print(f"float test accuracy {acc:.4f} on {len(test)} images")

    out = os.path.abspath(args.out)
    mdir = os.path.join(out, "model")
    os.makedirs(mdir, exist_ok=True)
    for name, mod in model.named_children():
        np.save(os.path.join(mdir, f"{name}.weight.npy"), mod.weight.detach().numpy().astype(np.float32))
        np.save(os.path.join(mdir, f"{name}.bias.npy"), mod.bias.detach().numpy().astype(np.float32))
    with open(os.path.join(mdir, "model.txt"), "w") as f:
        f.write(MANIFEST.format(seed=SEED, acc=acc, ntest=len(test)))
    np.save(os.path.join(out, "calib_x.npy"), x[calib])
    np.save(os.path.join(out, "test_x.npy"), x[test])
    np.save(os.path.join(out, "test_y.npy"), y[test])
    np.save(os.path.join(out, "test_logits.npy"), logits)
    torch.save(model.state_dict(), os.path.join("/tmp", "digits_net.pt"))


if __name__ == "__main__":
    main()
