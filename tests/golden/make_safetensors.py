#!/usr/bin/python3
"""Golden safetensors files written from PyTorch, read by Fluxion's C# tests (SafeTensorsTests).

Run with Debian's PyTorch (python3-torch):  /usr/bin/python3 tests/golden/make_safetensors.py
It rewrites, next to this script:

  torch_mlp.safetensors      the state_dict of torch.nn.Sequential(Linear(4, 3), ReLU(), Linear(3, 2))
                             (keys 0.weight, 0.bias, 2.weight, 2.bias; torch.manual_seed(0)), metadata
                             {"format": "pt"}. Loads strictly into the same Fluxion Sequential.
  torch_tensors.safetensors  "input" [5, 4] float32 and "output" = model(input) [5, 2] float32 for that
                             model, plus one tensor per dtype Fluxion reads: "f64" [2, 3] float64,
                             "i64" [4] int64, "mask" [2, 2] bool, "scalar" [] float32, "empty" [0, 3]
                             float32; metadata {"producer": "torch <version>"}.

The `safetensors` Python package is not installed here, so the format is written by hand exactly as its
reference implementation does: 8-byte little-endian header length; JSON header with "__metadata__" first,
then tensors sorted by dtype alignment (largest first) and then name, data_offsets relative to the data
section; header padded with spaces to a multiple of 8 bytes. The output is deterministic.
"""
import json
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {torch.float32: ("F32", 4), torch.float64: ("F64", 8), torch.int64: ("I64", 8), torch.bool: ("BOOL", 1)}


def save(path, tensors, metadata=None):
    order = sorted(tensors.items(), key=lambda kv: (-DTYPES[kv[1].dtype][1], kv[0]))
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in order:
        code, _ = DTYPES[t.dtype]
        data = t.contiguous().numpy().tobytes()  # little-endian on this machine
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    save(os.path.join(HERE, "torch_mlp.safetensors"), {k: v.detach() for k, v in model.state_dict().items()}, {"format": "pt"})

    x = torch.randn(5, 4)
    with torch.no_grad():
        y = model(x)
    extra = {
        "input": x,
        "output": y,
        "f64": torch.tensor([[1.5, -2.25, 1e-300], [3.0, float("inf"), -0.0]], dtype=torch.float64),
        "i64": torch.tensor([-3, 0, 2**40, 2**63 - 1], dtype=torch.int64),
        "mask": torch.tensor([[True, False], [False, True]]),
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 3),
    }
    save(os.path.join(HERE, "torch_tensors.safetensors"), extra, {"producer": "torch " + torch.__version__})
    print("wrote torch_mlp.safetensors and torch_tensors.safetensors")


if __name__ == "__main__":
    main()
