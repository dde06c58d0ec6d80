#!/usr/bin/python3
"""Checks a safetensors file written by Fluxion, from PyTorch's side (run by hand; CI has no Python).

    /usr/bin/python3 tests/golden/check_safetensors.py [FILE]

FILE defaults to tests/golden/fluxion_written.safetensors, which is the output of
SafeTensorsTests.WriterOutputMatchesTheCommittedFile (that test fails if Fluxion's writer ever produces
different bytes, so checking the committed file checks the writer). To regenerate it:
    FLUXION_WRITE_GOLDEN=1 dotnet test -c Release --filter WriterOutputMatchesTheCommittedFile

The file holds (see the test): "f32" = arange(12).reshape(3, 4) * 0.5 - 1 (float32), "f32_t" = its
transpose (saved from a non-contiguous view), "f64" = [0.1, -1e300, 2**-1074 (subnormal), inf],
"i64" = [-3, 0, 2**40, 2**63 - 1], "mask" = [[True, False, True]], "scalar" = 3.25 (shape []),
"empty" float32 of shape [0, 2], metadata {"producer": "fluxion", "note": "golden"}.

The format is parsed by hand here (the `safetensors` package is not installed) and checked strictly:
header length and 8-byte alignment (space padding), data_offsets contiguous and covering the data
section, dtype/shape/byte-count agreement, then every value with torch.
"""
import json
import os
import struct
import sys

import torch

DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8), "BOOL": (torch.bool, 1)}


def load(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert 8 + n <= len(raw), "header length beyond file"
    assert (8 + n) % 8 == 0, f"data section starts at {8 + n}, not a multiple of 8"
    text = raw[8:8 + n]
    assert text.startswith(b"{"), "header does not start with '{'"
    assert text == text.rstrip(b" ") + b" " * (len(text) - len(text.rstrip(b" "))), "padding must be spaces"
    header = json.loads(text)
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    pos, out = 0, {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        b, e = info["data_offsets"]
        assert b == pos, f"{name}: offsets not contiguous ({b} != {pos})"
        dtype, size = DTYPES[info["dtype"]]
        numel = 1
        for d in info["shape"]:
            numel *= d
        assert e - b == numel * size, f"{name}: {e - b} bytes for shape {info['shape']}"
        buf = bytearray(data[b:e])
        t = torch.frombuffer(buf, dtype=dtype) if numel else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
        pos = e
    assert pos == len(data), "data section not covered"
    order = [kv[0] for kv in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"])]
    expect_order = sorted(header, key=lambda k: (-DTYPES[header[k]["dtype"]][1], k))
    assert order == expect_order, f"tensor order {order} differs from the reference order {expect_order}"
    return out, meta


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "fluxion_written.safetensors")
    t, meta = load(path)
    f32 = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5 - 1
    assert set(t) == {"f32", "f32_t", "f64", "i64", "mask", "scalar", "empty"}, sorted(t)
    assert torch.equal(t["f32"], f32)
    assert torch.equal(t["f32_t"], f32.T.contiguous())
    assert torch.equal(t["f64"], torch.tensor([0.1, -1e300, 2.0 ** -1074, float("inf")], dtype=torch.float64))
    assert torch.equal(t["i64"], torch.tensor([-3, 0, 2**40, 2**63 - 1]))
    assert torch.equal(t["mask"], torch.tensor([[True, False, True]]))
    assert t["scalar"].shape == () and t["scalar"].item() == 3.25 and t["scalar"].dtype == torch.float32
    assert t["empty"].shape == (0, 2) and t["empty"].dtype == torch.float32
    assert meta == {"producer": "fluxion", "note": "golden"}, meta
    print(f"OK: {path}: {len(t)} tensors and the metadata match")


if __name__ == "__main__":
    main()
