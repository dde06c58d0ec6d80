#!/usr/bin/python3
"""Golden reference data for the nn.functional family (nn_more.json), computed with PyTorch.

Run with Debian's PyTorch (python3-torch):  /usr/bin/python3 tests/golden/make_nn_more.py
Same format as make_golden.py (whose header documents it), non-finite floats as in make_binary.py;
read by tests/Fluxion.Tests/NnFunctionalTests.cs. "op" names the Fluxion call, "args" its keyword arguments
(PyTorch names); the reduction is args["reduction"] ("mean", "sum", "none") where a loss takes one.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import make_golden as g  # noqa: E402
import make_binary as mb  # noqa: E402,F401  (installs the non-finite JSON writer)
from make_golden import F32, F64, In, S, T, ng, randn, away, positive, uniform, index  # noqa: E402

B = "nn_more"
nan, inf = float("nan"), float("inf")


def case(name, op, fn, inputs, args=None):
    mb.case(B, name, op, fn, inputs, args)


def t(v, dtype=F32):
    return torch.tensor(v, dtype=dtype)


def activations():
    edge = t([0.0, -0.0, 3.0, -3.0, 1.0, -1.0, 0.5, -0.5, 6.0, nan, inf, -inf, 25.0, -25.0])
    acts = {
        "Elu": (lambda x, a: F.elu(x, **a), [{"alpha": 1.0}, {"alpha": 0.7}]),
        "Selu": (lambda x, a: F.selu(x), [{}]),
        "Celu": (lambda x, a: F.celu(x, **a), [{"alpha": 1.0}, {"alpha": 1.7}]),
        "Silu": (lambda x, a: F.silu(x), [{}]),
        "Mish": (lambda x, a: F.mish(x), [{}]),
        "Hardswish": (lambda x, a: F.hardswish(x), [{}]),
        "Hardsigmoid": (lambda x, a: F.hardsigmoid(x), [{}]),
        "Hardtanh": (lambda x, a: F.hardtanh(x, **a), [{"min_val": -1.0, "max_val": 1.0}, {"min_val": -0.5, "max_val": 3.0}]),
        "Relu6": (lambda x, a: F.relu6(x), [{}]),
        "Softsign": (lambda x, a: F.softsign(x), [{}]),
        "Softshrink": (lambda x, a: F.softshrink(x, **a), [{"lambd": 0.5}, {"lambd": 1.0}]),
        "Hardshrink": (lambda x, a: F.hardshrink(x, **a), [{"lambd": 0.5}, {"lambd": 1.0}]),
        "Tanhshrink": (lambda x, a: F.tanhshrink(x), [{}]),
        "LogSigmoid": (lambda x, a: F.logsigmoid(x), [{}]),
        "Threshold": (lambda x, a: F.threshold(x, **a), [{"threshold": 0.5, "value": -2.0}, {"threshold": -1.0, "value": 0.0}]),
        "RreluEval": (lambda x, a: F.rrelu(x, **a, training=False), [{"lower": 0.125, "upper": 1.0 / 3}, {"lower": 0.1, "upper": 0.3}]),
    }
    for op, (f, argsets) in acts.items():
        for k, a in enumerate(argsets):
            fn = (lambda x, f=f, a=a: f(x, a))
            case(f"{op}.{k}.f32", op, fn, [randn(3, 4, scale=3.0)], a)
            # (torch 1.13's float64 hardsigmoid and celu(alpha != 1) backward round constants to float32: no f64 reference)
            if op != "Hardsigmoid" and not (op == "Celu" and a["alpha"] != 1.0):
                case(f"{op}.{k}.f64", op, fn, [T(randn(4, 3, dtype=F64, scale=3.0))], a)
            # edge values: kinks, ±0, NaN, ±inf (gradients too: PyTorch's subgradient conventions); softshrink's
            # NaN gradient (1 while its value is 0) is not reproduced
            e = edge[~torch.isnan(edge)].clone() if op == "Softshrink" else edge.clone()
            case(f"{op}.{k}.edge", op, fn, [e], a)
    for d in (1, 0, -1):
        case(f"Softmin.d{d}", "Softmin", lambda x, d=d: F.softmin(x, dim=d), [randn(3, 4)], {"dim": d})
    for d in (-1, 0, 1):
        case(f"Glu.d{d}", "Glu", lambda x, d=d: F.glu(x, dim=d), [randn(4, 6, dtype=F64)], {"dim": d})
    case("Prelu.channels", "Prelu", F.prelu, [randn(2, 3, 4), uniform(0.05, 0.5, 3)])
    case("Prelu.shared", "Prelu", F.prelu, [randn(2, 3, 2, 2, dtype=F64), t([0.25], F64)])
    case("Prelu.edge", "Prelu", F.prelu, [t([[0.0, -0.0, 1.0, -2.0, nan]]), t([0.3])])


def distances():
    for p in (2.0, 1.0, 3.0):
        for d in (1, 0, -1):
            case(f"Normalize.p{p}.d{d}", "Normalize", lambda x, p=p, d=d: F.normalize(x, p=p, dim=d), [randn(3, 4, dtype=F64)], {"p": p, "dim": d})
    case("Normalize.zero_row", "Normalize", lambda x: F.normalize(x, dim=1), [ng(t([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]]))], {"p": 2.0, "dim": 1})
    case("Normalize.f32", "Normalize", lambda x: F.normalize(x), [T(randn(4, 3))], {"p": 2.0, "dim": 1})
    case("CosineSimilarity.d1", "CosineSimilarity", lambda a, b: F.cosine_similarity(a, b), [randn(3, 5), randn(3, 5)], {"dim": 1, "eps": 1e-8})
    case("CosineSimilarity.bcast", "CosineSimilarity", lambda a, b: F.cosine_similarity(a, b, dim=0), [randn(4, 1, dtype=F64), randn(4, 3, dtype=F64)], {"dim": 0, "eps": 1e-8})
    case("CosineSimilarity.tiny", "CosineSimilarity", lambda a, b: F.cosine_similarity(a, b, dim=-1, eps=0.5),
         [t([[1e-3, 2e-3], [0.3, 0.1]], F64), t([[1.0, 1.0], [0.2, 0.4]], F64)], {"dim": -1, "eps": 0.5})
    for p in (2.0, 1.0, 3.0):
        case(f"PairwiseDistance.p{p}", "PairwiseDistance", lambda a, b, p=p: F.pairwise_distance(a, b, p=p), [randn(4, 5, dtype=F64), randn(4, 5, dtype=F64)],
             {"p": p, "eps": 1e-6, "keepdim": False})
    case("PairwiseDistance.keepdim_bcast", "PairwiseDistance", lambda a, b: F.pairwise_distance(a, b, keepdim=True, eps=1e-3), [randn(3, 4), randn(4)],
         {"p": 2.0, "eps": 1e-3, "keepdim": True})
    for p in (2.0, 1.0, 1.5):
        case(f"Pdist.p{p}", "Pdist", lambda x, p=p: F.pdist(x, p=p), [randn(5, 3, dtype=F64)], {"p": p})
    case("Pdist.f32", "Pdist", lambda x: F.pdist(x), [randn(4, 6)], {"p": 2.0})


def shapes():
    case("PixelShuffle.r2", "PixelShuffle", lambda x: F.pixel_shuffle(x, 2), [randn(2, 8, 3, 2)], {"r": 2})
    case("PixelShuffle.r3_5d", "PixelShuffle", lambda x: F.pixel_shuffle(x, 3), [randn(2, 1, 9, 2, 2, dtype=F64)], {"r": 3})
    case("PixelUnshuffle.r2", "PixelUnshuffle", lambda x: F.pixel_unshuffle(x, 2), [randn(2, 2, 4, 6)], {"r": 2})
    case("PixelUnshuffle.r3_3d", "PixelUnshuffle", lambda x: F.pixel_unshuffle(x, 3), [randn(1, 6, 3, dtype=F64)], {"r": 3})
    pads = [
        ("constant", [1, 2], "constant", 0.0, (2, 3, 4)),
        ("constant_value", [1, 0, 2, 1], "constant", 1.5, (2, 3, 4)),
        ("constant_crop", [-1, 2, 1, -2], "constant", 0.0, (2, 4, 5)),
        ("constant_3dims", [1, 1, 0, 2, 1, 0], "constant", -1.0, (2, 3, 2)),
        ("reflect1d", [2, 3], "reflect", 0.0, (2, 3, 5)),
        ("reflect2d", [1, 2, 2, 1], "reflect", 0.0, (1, 2, 3, 4)),
        ("replicate1d", [3, 1], "replicate", 0.0, (2, 3, 4)),
        ("replicate2d", [2, 0, 1, 3], "replicate", 0.0, (1, 2, 3, 4)),
        ("replicate3d", [1, 1, 2, 0, 1, 2], "replicate", 0.0, (1, 2, 2, 3, 2)),
        ("circular1d", [2, 3], "circular", 0.0, (1, 2, 4)),
        ("circular2d", [1, 2, 3, 0], "circular", 0.0, (1, 2, 3, 4)),
    ]
    for name, pad, mode, value, shape in pads:
        kw = {"value": value} if mode == "constant" else {}
        case(f"Pad.{name}", "Pad", lambda x, pad=pad, mode=mode, kw=kw: F.pad(x, pad, mode=mode, **kw), [randn(*shape, dtype=F64)],
             {"pad": pad, "mode": mode, "value": value})


def conv1d():
    case("Conv1d.bias_stride", "Conv1d", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), [randn(2, 4, 9), randn(3, 4, 3), randn(3)],
         {"stride": 2, "padding": 1, "dilation": 1, "groups": 1})
    case("Conv1d.groups_dil64", "Conv1d", lambda x, w: F.conv1d(x, w, dilation=2, groups=2), [randn(4, 10, dtype=F64), randn(2, 2, 3, dtype=F64)],
         {"stride": 1, "padding": 0, "dilation": 2, "groups": 2})
    case("ConvTranspose1d.stride", "ConvTranspose1d", lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
         [randn(2, 3, 5), randn(3, 2, 3), randn(2)], {"stride": 2, "padding": 1, "output_padding": 1})
    case("AvgPool1d.pad", "AvgPool1d", lambda x: F.avg_pool1d(x, 3, 2, 1), [randn(2, 3, 8)],
         {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": False, "count_include_pad": True})
    case("AvgPool1d.ceil_excl", "AvgPool1d", lambda x: F.avg_pool1d(x, 2, 2, 1, ceil_mode=True, count_include_pad=False), [randn(3, 7, dtype=F64)],
         {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False})
    case("MaxPool1d.stride", "MaxPool1d", lambda x: F.max_pool1d(x, 3, 2), [g.distinct(2, 3, 9)], {"kernel_size": 3, "stride": 2, "padding": 0, "dilation": 1})
    case("MaxPool1d.pad_dil", "MaxPool1d", lambda x: F.max_pool1d(x, 2, 1, 1, 2), [g.distinct(2, 8, dtype=F64)], {"kernel_size": 2, "stride": 1, "padding": 1, "dilation": 2})
    case("AdaptiveAvgPool1d.7to3", "AdaptiveAvgPool1d", lambda x: F.adaptive_avg_pool1d(x, 3), [randn(2, 3, 7)], {"output_size": 3})
    case("Bilinear.bias", "Bilinear", F.bilinear, [randn(3, 2), randn(3, 4), randn(5, 2, 4), randn(5)])
    case("Bilinear.lead64", "Bilinear", F.bilinear, [randn(2, 2, 3, dtype=F64), randn(2, 2, 2, dtype=F64), randn(3, 3, 2, dtype=F64)])

    case("LocalResponseNorm.3d", "LocalResponseNorm", lambda x: F.local_response_norm(x, 3, alpha=0.5), [randn(2, 5, 3)],
         {"size": 3, "alpha": 0.5, "beta": 0.75, "k": 1.0})
    case("LocalResponseNorm.4d64", "LocalResponseNorm", lambda x: F.local_response_norm(x, 2, alpha=0.3, beta=0.6, k=2.0), [randn(2, 4, 2, 3, dtype=F64)],
         {"size": 2, "alpha": 0.3, "beta": 0.6, "k": 2.0})
    case("LocalResponseNorm.5d", "LocalResponseNorm", lambda x: F.local_response_norm(x, 4), [randn(1, 6, 2, 2, 2)],
         {"size": 4, "alpha": 1e-4, "beta": 0.75, "k": 1.0})
    for name, shape, size, sf in (("size2d", (1, 2, 3, 2), [5, 3], None), ("size1d", (2, 2, 3), [7], None), ("scale2", (1, 1, 2, 3), None, 2.0),
                                  ("scale1.5", (1, 2, 4), None, 1.5), ("down", (1, 1, 5, 6), [3, 4], None), ("scale3d", (1, 1, 2, 2, 3), None, 1.7)):
        case(f"UpsampleNearest.{name}", "UpsampleNearest", lambda x, size=size, sf=sf: F.interpolate(x, size=size, scale_factor=sf, mode="nearest"),
             [randn(*shape)], {"size": size, "scale_factor": sf})


def losses():
    for red in ("mean", "sum", "none"):
        for delta in (1.0, 0.5):
            case(f"HuberLoss.{red}.{delta}", "HuberLoss", lambda a, b, red=red, delta=delta: F.huber_loss(a, b, reduction=red, delta=delta),
                 [randn(3, 4, scale=1.5), randn(3, 4)], {"reduction": red, "delta": delta})
        for beta in (1.0, 0.3, 0.0):
            case(f"SmoothL1Loss.{red}.{beta}", "SmoothL1Loss", lambda a, b, red=red, beta=beta: F.smooth_l1_loss(a, b, reduction=red, beta=beta),
                 [randn(3, 4, dtype=F64, scale=1.5), randn(3, 4, dtype=F64)], {"reduction": red, "beta": beta})
        case(f"BinaryCrossEntropy.{red}", "BinaryCrossEntropy", lambda x, y, red=red: F.binary_cross_entropy(x, y, reduction=red),
             [uniform(0.05, 0.95, 3, 4), uniform(0, 1, 3, 4)], {"reduction": red})
        case(f"BinaryCrossEntropy.{red}.weight", "BinaryCrossEntropy", lambda x, y, w, red=red: F.binary_cross_entropy(x, y, weight=w, reduction=red),
             [uniform(0.05, 0.95, 3, 4, dtype=F64), uniform(0, 1, 3, 4, dtype=F64), ng(positive(4, dtype=F64))], {"reduction": red})
        case(f"SoftMarginLoss.{red}", "SoftMarginLoss", lambda x, y, red=red: F.soft_margin_loss(x, y, reduction=red),
             [randn(3, 4), ng(torch.sign(randn(3, 4)))], {"reduction": red})
        case(f"MarginRankingLoss.{red}", "MarginRankingLoss", lambda a, b, y, red=red: F.margin_ranking_loss(a, b, y, margin=0.3, reduction=red),
             [randn(6), randn(6), ng(t([1.0, -1.0, 1.0, 1.0, -1.0, -1.0]))], {"reduction": red, "margin": 0.3})
        case(f"HingeEmbeddingLoss.{red}", "HingeEmbeddingLoss", lambda x, y, red=red: F.hinge_embedding_loss(x, y, margin=1.5, reduction=red),
             [randn(2, 5, dtype=F64), ng(t([[1.0, -1.0, 1.0, -1.0, -1.0], [1.0, 1.0, -1.0, -1.0, 1.0]], F64))], {"reduction": red, "margin": 1.5})
        case(f"CosineEmbeddingLoss.{red}", "CosineEmbeddingLoss", lambda a, b, y, red=red: F.cosine_embedding_loss(a, b, y, margin=0.1, reduction=red),
             [randn(4, 3), randn(4, 3), ng(t([1.0, -1.0, -1.0, 1.0]))], {"reduction": red, "margin": 0.1})
        case(f"TripletMarginLoss.{red}", "TripletMarginLoss", lambda a, p, n, red=red: F.triplet_margin_loss(a, p, n, margin=2.0, reduction=red),
             [randn(4, 3, dtype=F64), randn(4, 3, dtype=F64), randn(4, 3, dtype=F64)], {"reduction": red, "margin": 2.0, "p": 2.0, "swap": False})
        case(f"TripletMarginLoss.{red}.p1swap", "TripletMarginLoss", lambda a, p, n, red=red: F.triplet_margin_loss(a, p, n, margin=2.0, p=1, swap=True, reduction=red),
             [randn(4, 3, dtype=F64), randn(4, 3, dtype=F64), randn(4, 3, dtype=F64)], {"reduction": red, "margin": 2.0, "p": 1.0, "swap": True})
        case(f"TripletMarginWithDistanceLoss.{red}", "TripletMarginWithDistanceLoss",
             lambda a, p, n, red=red: F.triplet_margin_with_distance_loss(a, p, n, margin=1.5, swap=True, reduction=red),
             [randn(4, 3), randn(4, 3), randn(4, 3)], {"reduction": red, "margin": 1.5, "swap": True})
        case(f"MultiMarginLoss.{red}", "MultiMarginLoss", lambda x, y, red=red: F.multi_margin_loss(x, y, reduction=red),
             [randn(4, 5), t([0, 4, 2, 2], torch.int64)], {"reduction": red, "p": 1, "margin": 1.0, "weight": False})
        case(f"MultiMarginLoss.{red}.p2w", "MultiMarginLoss", lambda x, y, w, red=red: F.multi_margin_loss(x, y, p=2, margin=0.7, weight=w, reduction=red),
             [randn(4, 5, dtype=F64), t([1, 3, 0, 4], torch.int64), ng(positive(5, dtype=F64))], {"reduction": red, "p": 2, "margin": 0.7, "weight": True})
        case(f"MultilabelMarginLoss.{red}", "MultilabelMarginLoss", lambda x, y, red=red: F.multilabel_margin_loss(x, y, reduction=red),
             [randn(3, 4), t([[3, 0, -1, 1], [1, 2, 3, -1], [-1, 0, 0, 0]], torch.int64)], {"reduction": red})
        case(f"MultilabelSoftMarginLoss.{red}", "MultilabelSoftMarginLoss", lambda x, y, red=red: F.multilabel_soft_margin_loss(x, y, reduction=red),
             [randn(3, 4), uniform(0, 1, 3, 4)], {"reduction": red, "weight": False})
        case(f"MultilabelSoftMarginLoss.{red}.w", "MultilabelSoftMarginLoss", lambda x, y, w, red=red: F.multilabel_soft_margin_loss(x, y, weight=w, reduction=red),
             [randn(3, 4, dtype=F64), uniform(0, 1, 3, 4, dtype=F64), positive(4, dtype=F64)], {"reduction": red, "weight": True})
        for log_input in (True, False):
            for full in (False, True):
                x = randn(3, 4) if log_input else positive(3, 4)
                case(f"PoissonNllLoss.{red}.{log_input}.{full}", "PoissonNllLoss",
                     lambda x, y, red=red, li=log_input, fu=full: F.poisson_nll_loss(x, y, log_input=li, full=fu, reduction=red),
                     [x, ng(t([[0.0, 1.0, 2.0, 5.0], [0.5, 3.0, 1.5, 0.0], [4.0, 1.0, 7.0, 2.5]]))], {"reduction": red, "log_input": log_input, "full": full})
        for full in (False, True):
            case(f"GaussianNllLoss.{red}.{full}", "GaussianNllLoss", lambda x, y, v, red=red, fu=full: F.gaussian_nll_loss(x, y, v, full=fu, reduction=red),
                 [randn(3, 4, dtype=F64), randn(3, 4, dtype=F64), positive(3, 4, dtype=F64)], {"reduction": red, "full": full})
        case(f"GaussianNllLoss.{red}.varlead", "GaussianNllLoss", lambda x, y, v, red=red: F.gaussian_nll_loss(x, y, v, reduction=red),
             [randn(3, 4), randn(3, 4), positive(3)], {"reduction": red, "full": False})
        case(f"GaussianNllLoss.{red}.var1", "GaussianNllLoss", lambda x, y, v, red=red: F.gaussian_nll_loss(x, y, v, reduction=red, eps=0.1),
             [randn(3, 4), randn(3, 4), t([[0.05], [0.5], [2.0]])], {"reduction": red, "full": False, "eps": 0.1})
        # existing losses under their torch names
        case(f"MseLoss.{red}", "MseLoss", lambda a, b, red=red: F.mse_loss(a, b, reduction=red), [randn(3, 4), randn(3, 4)], {"reduction": red})
        case(f"L1Loss.{red}", "L1Loss", lambda a, b, red=red: F.l1_loss(a, b, reduction=red), [randn(3, 4, dtype=F64), randn(3, 4, dtype=F64)], {"reduction": red})
    # edges: exact kinks of the margin losses, probabilities at 0/1
    case("HuberLoss.kink", "HuberLoss", lambda a, b: F.huber_loss(a, b, reduction="sum"), [t([1.0, -1.0, 0.0, 2.0]), ng(t([0.0, 0.0, 0.0, 1.0]))],
         {"reduction": "sum", "delta": 1.0})
    case("BinaryCrossEntropy.ends", "BinaryCrossEntropy", lambda x, y: F.binary_cross_entropy(x, y, reduction="none"),
         [ng(t([0.0, 1.0, 0.0, 1.0, 0.5])), ng(t([0.0, 1.0, 1.0, 0.0, 0.5]))], {"reduction": "none"})
    case("Embedding.padding", "Embedding", lambda w, i: F.embedding(i, w, padding_idx=2), [randn(4, 3), t([[0, 2, 1], [2, 3, 3]], torch.int64)],
         {"padding_idx": 2})
    case("Embedding.plain", "Embedding", lambda w, i: F.embedding(i, w), [randn(5, 2, dtype=F64), t([4, 0, 4, 1], torch.int64)], {"padding_idx": None})


def main():
    g._gen.manual_seed(1717)
    activations()
    distances()
    shapes()
    conv1d()
    losses()
    g.write_family(B)


if __name__ == "__main__":
    main()
