#!/usr/bin/python3
"""Small .npy files written by NumPy itself, for tests/io/npy_test.cpp.

Run from the repository root: /usr/bin/python3 scripts/golden/npy_files.py

Good files: every supported dtype, element i of the flattened array holding pattern(i) =
(i * 7) % 23 - 11 (uint8, uint16: without the - 11; floats: times 0.25), in shapes (), (0,), (5,), (2, 3)
and (2, 3, 4); format versions 1.0, 2.0 and 3.0.
Files qsafe must reject with a clear error: fortran order, big-endian, object, bool, float16,
complex64 and a structured dtype.
"""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "npy")


def pattern(n, dtype):
    i = np.arange(n)
    v = (i * 7) % 23
    if np.dtype(dtype).kind == "u":
        return v.astype(dtype)
    v = v - 11
    if np.dtype(dtype).kind == "f":
        return (v * 0.25).astype(dtype)
    return v.astype(dtype)


def save(name, arr, version=None):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=version, allow_pickle=True)


def main():
    os.makedirs(OUT, exist_ok=True)
    for dt in ("float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "int64"):
        save("%s_2x3.npy" % dt, pattern(6, dt).reshape(2, 3))
    save("float32_scalar.npy", pattern(1, "float32").reshape(()))
    save("float32_empty.npy", pattern(0, "float32"))
    save("int8_5.npy", pattern(5, "int8"))
    save("float32_2x3x4.npy", pattern(24, "float32").reshape(2, 3, 4))
    save("int16_2x3_v2.npy", pattern(6, "int16").reshape(2, 3), version=(2, 0))
    save("float32_2x3_v3.npy", pattern(6, "float32").reshape(2, 3), version=(3, 0))
    # rejected
    save("bad_fortran.npy", np.asfortranarray(pattern(6, "float32").reshape(2, 3)))
    save("bad_bigendian.npy", pattern(6, "float32").astype(">f4"))
    save("bad_object.npy", np.array([1, "a", None], dtype=object))
    save("bad_bool.npy", np.array([True, False]))
    save("bad_float16.npy", pattern(4, "float16"))
    save("bad_complex.npy", np.zeros(3, np.complex64))
    save("bad_structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))


if __name__ == "__main__":
    main()
