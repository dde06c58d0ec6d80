#!/usr/bin/python3
"""Golden reference data for the binary family (binary.json), computed with PyTorch.

Run with Debian's PyTorch (python3-torch):  /usr/bin/python3 tests/golden/make_binary.py
Same format as make_golden.py (whose header documents it), plus non-finite floats as the strings
"NaN" (sign bit clear), "-NaN" (sign bit set), "Infinity", "-Infinity"; read by tests/Fluxion.Tests/BinaryMathTests.cs.
Ops (PyTorch call in brackets; args as listed):
  Atan2 Hypot Copysign Fmod FloorDivide Fmax Fmin ClampMin ClampMax Xlogy LogAddExp LogAddExp2 Heaviside
  LogicalXor LogicalAnd LogicalOr Remainder Gt Ge Lt Le Eq Ne: inputs (a, b)  [torch.<name>(a, b)]
  LogicalNot inputs (x)
  IsClose {rtol, atol, equal_nan} inputs (a, b)          Lerp inputs (start, end, weight)
  LerpScalar {weight} inputs (start, end)                 Addcmul, Addcdiv {value} inputs (x, t1, t2)
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import make_golden as g  # noqa: E402
from make_golden import F32, F64, In, S, T, ng, randn, away, positive  # noqa: E402

B = "binary"

# non-finite values (which JSON lacks) are written as the strings "NaN", "Infinity", "-Infinity"
_tensor_json = g.tensor_json
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _tensor_json_nonfinite(x):
    r = _tensor_json(x)
    flat = x.detach().contiguous().reshape(-1).tolist()
    # a NaN's sign bit matters to copysign: negative NaNs are written "-NaN"
    r["data"] = [("-NaN" if math.copysign(1.0, f) < 0 else "NaN") if isinstance(v, g.Num) and v.text == "nan"
                 else _NONFINITE.get(v.text, v) if isinstance(v, g.Num) else v for v, f in zip(r["data"], flat)]
    return r


g.tensor_json = _tensor_json_nonfinite
nan, inf = float("nan"), float("inf")


def case(family, name, op, fn, inputs, args=None):
    """make_golden.case, also for calls without a floating input (int64/bool: "dtype" is then float32, unused)."""
    ins = [x if isinstance(x, In) else In(x) for x in inputs]
    if any(x.value.is_floating_point() for x in ins):
        return g.case(family, name, op, fn, ins, args)
    outs = fn(*[x.value for x in ins])
    outs = [outs] if isinstance(outs, torch.Tensor) else list(outs)
    entry = {
        "name": name, "op": op, "dtype": "float32", "args": args or {},
        "inputs": [dict(g.tensor_json(x.value), grad=False, layout=x.layout) for x in ins],
        "outputs": [g.tensor_json(o) for o in outs], "w": [None for _ in outs], "grads": [None for _ in ins],
    }
    g.FAMILIES.setdefault(family, []).append(entry)


def t(v, dtype=F32):
    return torch.tensor(v, dtype=dtype)


def binary():
    ops = {
        "Atan2": torch.atan2, "Hypot": torch.hypot, "Copysign": torch.copysign, "Fmod": torch.fmod,
        "Fmax": torch.fmax, "Fmin": torch.fmin, "ClampMin": torch.clamp_min, "ClampMax": torch.clamp_max,
        "Xlogy": torch.xlogy, "LogAddExp": torch.logaddexp, "LogAddExp2": torch.logaddexp2,
    }
    for op, f in ops.items():
        a_gen = away if op in ("Copysign",) else randn
        b_gen = positive if op == "Xlogy" else (lambda *s, dtype=F32: away(*s, dtype=dtype, gap=0.5)) if op in ("Fmod", "Copysign") else randn
        case(B, f"{op}.same", op, f, [a_gen(3, 4), b_gen(3, 4)])
        case(B, f"{op}.bcast", op, f, [a_gen(2, 1, 4), b_gen(3, 1)])
        case(B, f"{op}.scalar", op, f, [a_gen(3, 4), b_gen()])
        case(B, f"{op}.noncontig", op, f, [T(a_gen(4, 3)), S(b_gen(4, 3))])
        case(B, f"{op}.f64", op, f, [a_gen(2, 3, dtype=F64), b_gen(3, dtype=F64)])
    # edge values: signed zeros, infinities, NaN, ties (gradients only where PyTorch gives finite ones)
    ea = t([0.0, -0.0, 1.0, -1.0, 2.5, -2.5, inf, -inf, nan, 3.0, 0.0, 7.0])
    eb = t([1.0, 1.0, -0.0, 0.0, 2.5, -1.0, 1.0, 2.0, 1.0, nan, 0.0, -2.0])
    for op, f in ops.items():
        if op in ("Hypot", "Atan2", "Xlogy", "Copysign", "Fmod", "LogAddExp", "LogAddExp2"):
            case(B, f"{op}.edge", op, f, [ng(ea.clone()), ng(eb.clone())])
        else:
            case(B, f"{op}.edge", op, f, [ea.clone(), eb.clone()])
    case(B, "Fmax.tie", "Fmax", torch.fmax, [t([1.0, 2.0, nan, 3.0, -1.0]), t([1.0, nan, 1.0, 5.0, -1.0])])
    case(B, "Fmin.tie", "Fmin", torch.fmin, [t([1.0, 2.0, nan, 3.0, -1.0]), t([1.0, nan, 1.0, 5.0, -1.0])])
    case(B, "ClampMin.tie", "ClampMin", torch.clamp_min, [t([1.0, 2.0, nan, 3.0]), t([1.0, nan, 1.0, 5.0])])
    case(B, "ClampMax.tie", "ClampMax", torch.clamp_max, [t([1.0, 2.0, nan, 3.0]), t([1.0, nan, 1.0, 5.0])])
    case(B, "Copysign.zeros", "Copysign", torch.copysign, [t([1.0, 0.0, -2.0, -0.0, 3.0]), t([-1.0, 1.0, -0.0, -3.0, nan])])
    case(B, "Xlogy.zero_x", "Xlogy", torch.xlogy, [t([0.0, 0.0, 2.0, 0.0]), t([2.0, 0.0, 3.0, inf])])
    case(B, "Xlogy.zero_x_noy", "Xlogy", torch.xlogy, [t([0.0, 0.0, 2.0, 0.0, 1.0]), ng(t([2.0, -1.0, 3.0, inf, 0.0]))])
    case(B, "Hypot.big", "Hypot", torch.hypot, [t([3e30, -1e-30, 0.0]), t([4e30, 1e-30, 2.0])])
    case(B, "LogAddExp.far", "LogAddExp", torch.logaddexp, [t([0.0, 100.0, -50.0], F64), t([-40.0, -100.0, -50.0], F64)])
    case(B, "Atan2.quadrants", "Atan2", torch.atan2, [t([1.0, 1.0, -1.0, -1.0, 0.5]), t([1.0, -1.0, 1.0, -1.0, -2.0])])
    # fmod / remainder: exact values near multiples, large quotients, both signs, float32 and float64
    fa = torch.cat([randn(64, scale=100.0), t([5.5, -5.5, 6.0, -6.0, 1e30, -1e30, 0.3, -0.3, 1e-40, 7.0, -7.0, 0.1])])
    fb = torch.cat([away(64, gap=0.1, scale=3.0), t([2.0, 2.0, -2.0, 2.0, 3.0, 7.0, 0.1, 0.1, 3.0, 1e-3, 0.7, -0.7])])
    for op, f in (("Fmod", torch.fmod), ("Remainder", torch.remainder)):
        case(B, f"{op}.values32", op, f, [ng(fa.clone()), ng(fb.clone())])
        case(B, f"{op}.values64", op, f, [ng(fa.to(F64) * 1.0000001), ng(fb.to(F64))])
        case(B, f"{op}.scalar_divisor", op, f, [ng(randn(40, scale=10.0)), ng(t(0.75))])
        case(B, f"{op}.scalar_dividend", op, f, [ng(t(7.25)), ng(away(40, gap=0.2, scale=4.0))])
        case(B, f"{op}.int64", op, f, [torch.tensor([7, -7, 7, -7, 0, 5]), torch.tensor([3, 3, -3, -3, 2, 5])])
    # floor_divide (no gradient)
    fd_a = t([-7.0, 7.0, -0.0, 1.0, 5.0, -1.0, 7.5, -7.5, 0.3, 1e30, nan, inf])
    fd_b = t([2.0, -2.0, 3.0, 0.0, 0.0, 0.0, 2.5, 2.5, 0.1, 3.0, 1.0, 2.0])
    case(B, "FloorDivide.edge", "FloorDivide", torch.floor_divide, [ng(fd_a), ng(fd_b)])
    case(B, "FloorDivide.f64", "FloorDivide", torch.floor_divide, [ng(randn(3, 4, dtype=F64, scale=10.0)), ng(away(4, dtype=F64, gap=0.3, scale=3.0))])
    case(B, "FloorDivide.int64", "FloorDivide", torch.floor_divide, [torch.tensor([[-7, 7, 0, 9], [-9, 1, -1, 6]]), torch.tensor([2, -2, 3, -4])])
    # heaviside
    case(B, "Heaviside.f32", "Heaviside", torch.heaviside, [ng(t([-1.0, 0.0, -0.0, 2.0, nan, -inf, inf])), ng(t([5.0, 0.5, 7.0, 5.0, 5.0, 5.0, 5.0]))])
    case(B, "Heaviside.bcast64", "Heaviside", torch.heaviside, [ng(t([[-1.0, 0.0, 2.0], [0.0, -3.0, 0.0]], F64)), ng(t([0.25], F64))])
    case(B, "Heaviside.int64", "Heaviside", torch.heaviside, [torch.tensor([-3, 0, 4]), torch.tensor([9, 9, 9])])
    # isclose
    ia = t([1.0, nan, inf, 1e-9, 1.0, -inf, 100.0, 0.0, nan, 1.0])
    ib = t([1.00001, nan, inf, 0.0, 1.0000101, inf, 100.001, 1e-8, 1.0, 1.0])
    for name, kw in (("default", dict(rtol=1e-5, atol=1e-8, equal_nan=False)), ("equal_nan", dict(rtol=1e-5, atol=1e-8, equal_nan=True)),
                     ("loose", dict(rtol=1e-3, atol=1e-6, equal_nan=False)), ("zero", dict(rtol=0.0, atol=0.0, equal_nan=False))):
        case(B, f"IsClose.{name}", "IsClose", lambda a, b, kw=kw: torch.isclose(a, b, **kw), [ng(ia.clone()), ng(ib.clone())], args=kw)
        case(B, f"IsClose.{name}64", "IsClose", lambda a, b, kw=kw: torch.isclose(a, b, **kw), [ng(ia.to(F64)), ng(ib.to(F64))], args=kw)
    kw = dict(rtol=1e-5, atol=1e-8, equal_nan=False)
    case(B, "IsClose.int64", "IsClose", lambda a, b: torch.isclose(a, b), [torch.tensor([100000, 3, -5, 2 ** 40]), torch.tensor([100001, 4, -5, 2 ** 40 + 1])], args=kw)
    case(B, "IsClose.bcast", "IsClose", lambda a, b: torch.isclose(a, b), [ng(t([[1.0], [2.0]])), ng(t([1.0, 1.000001, 2.0]))], args=kw)
    # logical_xor and comparisons (the SIMD paths: long rows, scalars, broadcast, strided, NaN, int64, bool)
    xa = torch.tensor([0.0, nan, 2.0, -0.0, 0.0])
    case(B, "LogicalXor.mixed", "LogicalXor", torch.logical_xor, [ng(xa), torch.tensor([0, 0, 1, 1, 3])])
    case(B, "LogicalXor.bool", "LogicalXor", torch.logical_xor, [torch.tensor([[True], [False]]), torch.tensor([True, False, True])])
    la = torch.cat([randn(40), t([nan, 0.0, -0.0, inf, 0.0, nan, 1.0, 0.0])])
    la[::4] = 0.0
    lb = torch.cat([randn(40), t([0.0, nan, 0.0, 0.0, -0.0, nan, 0.0, 2.0])])
    lb[1::3] = 0.0
    for op in ("LogicalXor", "LogicalAnd", "LogicalOr"):
        f = getattr(torch, "logical_" + op[7:].lower())
        case(B, f"{op}.f32", op, f, [ng(la.clone()), ng(lb.clone())])
        case(B, f"{op}.f64_scalar", op, f, [ng(la.to(F64)), ng(t(0.0, F64))])
        case(B, f"{op}.int64_bcast", op, f, [torch.randint(-1, 2, (6, 1, 35), generator=g._gen), torch.randint(-1, 2, (4, 35), generator=g._gen)])
        case(B, f"{op}.bool_long", op, f, [torch.rand(99, generator=g._gen) < 0.5, torch.rand(99, generator=g._gen) < 0.5])
        case(B, f"{op}.mixed_bcast", op, f, [ng(la[:40].clone().reshape(5, 8)), torch.randint(-1, 2, (8,), generator=g._gen)])
    case(B, "LogicalNot.f32", "LogicalNot", torch.logical_not, [ng(la.clone())])
    case(B, "LogicalNot.int64", "LogicalNot", torch.logical_not, [torch.randint(-1, 2, (50,), generator=g._gen)])
    case(B, "LogicalNot.bool", "LogicalNot", torch.logical_not, [torch.rand(50, generator=g._gen) < 0.5])
    ca = torch.cat([randn(70), t([nan, 0.0, -0.0, inf, -inf, 1.0, nan])])
    cb = torch.cat([randn(70), t([nan, -0.0, 0.0, inf, inf, nan, 1.0])])
    cb[::3] = ca[::3]  # ties
    for op in ("Gt", "Ge", "Lt", "Le", "Eq", "Ne"):
        f = getattr(torch, op.lower())
        case(B, f"{op}.f32", op, f, [ng(ca.clone()), ng(cb.clone())])
        case(B, f"{op}.f64", op, f, [ng(ca.to(F64)), ng(cb.to(F64))])
        case(B, f"{op}.scalar", op, f, [ng(ca.clone()), ng(t(0.25))])
        case(B, f"{op}.scalar_left", op, f, [ng(t(0.25)), ng(ca.clone())])
        case(B, f"{op}.bcast", op, f, [ng(randn(5, 1, 9)), ng(randn(4, 9))])
        case(B, f"{op}.strided", op, f, [In(randn(6, 40), grad=False, layout="strided"), In(randn(6, 40), grad=False, layout="transposed")])
        # (golden int64 data goes through doubles: values stay below 2^53; larger ones are tested in C#)
        ia64 = torch.cat([torch.randint(-5, 5, (50,), generator=g._gen), torch.tensor([2 ** 52, 2 ** 40, -(2 ** 50)])])
        ib64 = torch.cat([torch.randint(-5, 5, (50,), generator=g._gen), torch.tensor([2 ** 52 + 1, 2 ** 40 - 1, -(2 ** 50)])])
        case(B, f"{op}.int64", op, f, [ia64, ib64])
        case(B, f"{op}.bool", op, f, [torch.rand(45, generator=g._gen) < 0.5, torch.rand(45, generator=g._gen) < 0.5])
    # three operands
    case(B, "Lerp.tensor", "Lerp", torch.lerp, [randn(3, 4), randn(3, 4), randn(3, 4)])
    case(B, "Lerp.bcast", "Lerp", torch.lerp, [randn(2, 1, 4), randn(3, 1), randn(4)])
    case(B, "Lerp.ends", "Lerp", torch.lerp, [randn(6), randn(6), t([0.0, 1.0, 0.5, 0.49, -0.7, 1.7])])
    case(B, "Lerp.f64", "Lerp", torch.lerp, [T(randn(4, 3, dtype=F64)), randn(3, dtype=F64), randn(dtype=F64)])
    for w in (0.3, 0.75):
        case(B, f"LerpScalar.{w}", "LerpScalar", lambda a, b, w=w: torch.lerp(a, b, w), [randn(3, 4), S(randn(3, 4))], args={"weight": w})
    for op, f in (("Addcmul", torch.addcmul), ("Addcdiv", torch.addcdiv)):
        t2 = (lambda *s, dtype=F32: away(*s, dtype=dtype, gap=0.5)) if op == "Addcdiv" else randn
        for v in (1.0, -0.5):
            case(B, f"{op}.v{v}", op, lambda x, a, b, v=v, f=f: f(x, a, b, value=v), [randn(3, 4), randn(3, 1), t2(4)], args={"value": v})
        case(B, f"{op}.f64", op, lambda x, a, b, f=f: f(x, a, b, value=2.5), [randn(2, 3, dtype=F64), T(randn(2, 3, dtype=F64)), t2(3, dtype=F64)], args={"value": 2.5})


def main():
    g._gen.manual_seed(2100)
    binary()
    g.write_family(B)


if __name__ == "__main__":
    main()
