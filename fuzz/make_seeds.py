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


if __name__ == "__main__":
    quantize_seeds()
