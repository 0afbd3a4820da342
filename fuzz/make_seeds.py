#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (run once; the outputs are committed).

Seeds are small, hand-shaped inputs that reach each branch of a target quickly: every quantizer
configuration, special floats (NaN, +-Inf, denormals, +-FLT_MAX, -0), exact rounding ties.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NAN = float("nan")
INF = float("inf")
FMAX = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]
DENORM = struct.unpack("<f", b"\x01\x00\x00\x00")[0]


def f32(*xs):
    return b"".join(struct.pack("<f", x) for x in xs)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as fh:
        fh.write(data)


def quantize_seeds():
    data = f32(-1.0, 0.0, 0.5, 3.0, 1.5, 2.5, -2.5, 0.25, 7.0, -7.0, 1e-3, 100.0)
    specials = f32(NAN, INF, -INF, DENORM, -DENORM, FMAX, -FMAX, -0.0, 0.5, -0.5)
    for cfg in range(0, 128, 9):  # a spread of type / scheme / rounding / narrow / reduce
        write("quantize", "cfg%03d" % cfg, bytes([cfg, 3]) + f32(-1.0, 3.0) + data)
    write("quantize", "specials_affine", bytes([0x01, 1]) + f32(-2.0, 2.0) + specials)
    write("quantize", "specials_symmetric", bytes([0x08, 2]) + f32(-2.0, 2.0) + specials)
    write("quantize", "huge_range", bytes([0x0b, 4]) + f32(-FMAX, FMAX) + specials)
    write("quantize", "empty_range", bytes([0x00, 0]) + f32(0.0, 0.0) + f32(0.0, 0.0))
    write("quantize", "nan_range", bytes([0x00, 0]) + f32(NAN, 1.0) + data)
    write("quantize", "inverted_range", bytes([0x00, 0]) + f32(1.0, -1.0) + data)
    write("quantize", "denormal_eps", bytes([0x80, 2]) + f32(0.0, 1e-38) + f32(DENORM) + data)
    write("quantize", "ties_half_even", bytes([0x00, 1]) + f32(0.0, 255.0) + f32(0.5, 1.5, 2.5, 3.5, 254.5))
    write("quantize", "ties_half_away", bytes([0x10, 1]) + f32(0.0, 255.0) + f32(0.5, 1.5, 2.5, 3.5, 254.5))


def observer_seeds():
    normal = f32(*[((i * 37) % 23 - 11) * 0.25 for i in range(48)])
    write("observers", "normal_2_batches", bytes([1, 1, 1]) + normal)
    write("observers", "normal_4_batches", bytes([3, 2, 3]) + normal)
    write("observers", "constant", bytes([1, 1, 0]) + f32(*([0.75] * 16)))
    write("observers", "all_zero", bytes([0, 0, 1]) + f32(*([0.0] * 16)))
    write("observers", "outlier", bytes([2, 1, 2]) + f32(*([0.1] * 20 + [1e6] + [-0.1] * 20)))
    write("observers", "specials", bytes([3, 2, 1]) + f32(1.0, NAN, 2.0, INF, -INF, DENORM, FMAX, -FMAX))
    write("observers", "huge", bytes([1, 1, 1]) + f32(FMAX, -FMAX, FMAX * 0.5, -1.0, 0.0, 1e38, -1e38, 2.0))
    write("observers", "denormals", bytes([1, 0, 1]) + f32(DENORM, -DENORM, 0.0, DENORM * 3, -0.0, DENORM))


def npy_seeds():
    src = os.path.join(HERE, "..", "tests", "data", "npy")
    for name in sorted(os.listdir(src)):
        if name.endswith(".npy"):
            with open(os.path.join(src, name), "rb") as fh:
                write("npy", name, fh.read())


def manifest_seeds():
    src = os.path.join(HERE, "..", "data", "digits", "model", "model.txt")
    with open(src, "rb") as fh:
        write("manifest", "digits_model.txt", fh.read())
    write("manifest", "minimal.txt", b"input shape=4\nlinear name=fc weight=w.npy\n")
    write("manifest", "bad_key.txt", b"input shape=1,8,8\nconv2d name=c weight=w.npy strid=1\n")
    write("manifest", "comments.txt", b"# only a comment\n\n  # indented\n")


if __name__ == "__main__":
    quantize_seeds()
    observer_seeds()
    npy_seeds()
    manifest_seeds()
