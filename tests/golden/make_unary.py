#!/usr/bin/env python3
"""Reference values for Fluxion's unary special functions (tests/Fluxion.Tests/UnaryMathTests.cs).

PyTorch is not installed here, so the references are exact: mpmath at 50 significant digits, rounded to the
nearest float64. Writes tests/golden/unary.json:
  {"format": 1, "source": "...", "functions": {"lgamma": [["x", "f(x)"], ...], ...}}
Numbers are strings in Python's shortest round-trip form ("inf", "-inf", "nan" for the non-finite values).
Run: /usr/bin/python3 tests/golden/make_unary.py
"""
import json, math, os, random
import mpmath

mpmath.mp.dps = 50
rng = random.Random(20261207)


def s(v):
    v = float(v)
    if math.isnan(v): return "nan"
    if math.isinf(v): return "inf" if v > 0 else "-inf"
    return repr(v)


def table(f, xs):
    return [[s(x), s(f(mpmath.mpf(x)))] for x in xs]


def logspace(lo, hi, n):
    return [10 ** rng.uniform(lo, hi) for _ in range(n)]


pos = [rng.uniform(0, 3) for _ in range(120)] + [rng.uniform(3, 40) for _ in range(60)] + logspace(-300, 300, 60) \
    + [0.5, 1.0, 1.5, 2.0, 2.5, 1.4616321449683622, 1 + 1e-9, 2 - 1e-9, 1e-310]
neg = [-rng.uniform(0, 12) for _ in range(80)] + [-0.5, -1.5, -2.5, -1e-20, -1e-300, -1e10 - 0.5]
unit = [rng.uniform(-1, 1) for _ in range(150)] + [1 - 10 ** rng.uniform(-16, -1) for _ in range(40)] \
    + [-(1 - 10 ** rng.uniform(-16, -1)) for _ in range(20)] + logspace(-300, -1, 30) + [0.5, -0.5, 1 - 2 ** -53]
small = [rng.uniform(-1, 1) * 10 ** rng.uniform(-20, 0) for _ in range(100)] + [rng.uniform(-40, 40) for _ in range(60)]

functions = {
    "lgamma_pos": table(lambda x: mpmath.loggamma(x).real, pos),
    "lgamma_neg": table(lambda x: mpmath.log(abs(mpmath.gamma(x))), neg),
    "digamma_pos": table(mpmath.digamma, pos[:-1]),  # 1e-310 would be -1e310
    "digamma_neg": table(mpmath.digamma, neg),
    "trigamma": table(lambda x: mpmath.polygamma(1, x), [p for p in pos if 1e-100 < p < 1e100] + [-0.5, -1.5, -2.25]),
    "tetragamma": table(lambda x: mpmath.polygamma(2, x), [p for p in pos if 1e-60 < p < 1e60] + [-0.5, -1.5, -2.25]),
    "erfc": table(mpmath.erfc, [rng.uniform(-6, 6) for _ in range(200)] + [rng.uniform(5, 27) for _ in range(100)]
                  + [0.0, 0.5, 1.0, 4.999, 5.0, 26.5, 27.2]),
    "erfinv": table(mpmath.erfinv, unit),
    "erf": table(mpmath.erf, [rng.uniform(-6, 6) for _ in range(200)] + logspace(-300, 0, 30) + [0.5, -0.5, 3.0, 6.0]),
    "log1p": table(mpmath.log1p, [x for x in small if x > -1] + logspace(-5, 300, 40) + [-0.999999, -0.5, 1e300]),
    "expm1": table(mpmath.expm1, small + [-745.0, 700.0, 1e-300]),
    "softplus": table(lambda x: mpmath.log1p(mpmath.exp(x)), [rng.uniform(-745, 20) for _ in range(100)] + [-20.5, -30.0, -37.0, -40.0, -700.0]),
    "sinc": table(lambda x: mpmath.sin(mpmath.pi * x) / (mpmath.pi * x), [rng.uniform(-10, 10) for _ in range(100)] + [1e-5, 0.5, 2.5]),
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unary.json")
with open(out, "w") as f:
    json.dump({"format": 1, "source": "mpmath %s, 50 digits, rounded to float64" % mpmath.__version__, "functions": functions}, f, separators=(",", ":"))
print(out, sum(len(v) for v in functions.values()), "values")
