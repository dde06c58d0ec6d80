#!/usr/bin/python3
"""Golden reference data for type promotion (promotion.json), computed with PyTorch.

Run with Debian's PyTorch (python3-torch):  /usr/bin/python3 tests/golden/make_promotion.py
Read by tests/Fluxion.Tests/PromotionTests.cs. Every pair of dtypes (float32, float64, int64, bool) through
add, mul, div, eq and where, with the operands as tensors with dimensions ("tensor", shape [3]), 0-d tensors
("0d") and Python scalars ("float" 2.5 or "int" 3, which Fluxion takes as a .NET double or long):

  CASE = {"name": "<op>.<kind a>.<dtype a>.<kind b>.<dtype b>", "op": "add"|"mul"|"div"|"eq"|"where",
          "a": OPERAND, "b": OPERAND,
          "result_type": torch.result_type(a, b) as a dtype name,
          "output": TENSOR (the op's value: a + b, a * b, a / b, a == b, torch.where(cond, a, b) with
                    cond = [True, False, True])}
  OPERAND = {"kind": "tensor"|"0d", "value": TENSOR} or {"kind": "float"|"int", "value": the number}
TENSOR is make_golden.py's format, with non-finite floats (x / False) as the strings "NaN", "Infinity", "-Infinity".
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import make_golden as g  # noqa: E402

P = "promotion"
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def tensor_json(x):
    r = g.tensor_json(x)
    r["data"] = [_NONFINITE.get(v.text, v) if isinstance(v, g.Num) else v for v in r["data"]]
    return r


DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "bool": torch.bool}
TENSOR = {"float32": [1.5, -2.0, 3.25], "float64": [0.5, 4.0, -1.25], "int64": [3, -2, 7], "bool": [True, False, True]}
ZERO_D = {"float32": 2.5, "float64": -1.5, "int64": 4, "bool": True}
SCALARS = {"float": 2.5, "int": 3}
COND = torch.tensor([True, False, True])
OPS = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "eq": lambda a, b: torch.eq(a, b) if isinstance(a, torch.Tensor) else torch.eq(b, a),
    "where": lambda a, b: torch.where(COND, a, b),
}


def operand(kind, dtype):
    if kind == "tensor":
        v = torch.tensor(TENSOR[dtype], dtype=DTYPES[dtype])
        return v, {"kind": kind, "value": tensor_json(v)}
    if kind == "0d":
        v = torch.tensor(ZERO_D[dtype], dtype=DTYPES[dtype])
        return v, {"kind": kind, "value": tensor_json(v)}
    return SCALARS[kind], {"kind": kind, "value": SCALARS[kind]}


def main():
    cases = g.FAMILIES.setdefault(P, [])
    # (kind of a, kind of b): at least one operand is a tensor with dimensions, or both are 0-d
    pairs = [("tensor", "tensor"), ("tensor", "0d"), ("0d", "tensor"), ("0d", "0d"),
             ("tensor", "float"), ("float", "tensor"), ("tensor", "int"), ("int", "tensor"),
             ("0d", "float"), ("0d", "int")]
    for op, fn in OPS.items():
        for ka, kb in pairs:
            for da in (DTYPES if ka in ("tensor", "0d") else [None]):
                for db in (DTYPES if kb in ("tensor", "0d") else [None]):
                    a, ja = operand(ka, da)
                    b, jb = operand(kb, db)
                    name = f"{op}.{ka}{'.' + da if da else ''}.{kb}{'.' + db if db else ''}"
                    out = fn(a, b)
                    cases.append({"name": name, "op": op, "a": ja, "b": jb,
                                  "result_type": g.DT_NAME[torch.result_type(a, b)],
                                  "output": tensor_json(out)})
    g.write_family(P)


if __name__ == "__main__":
    main()
