#!/usr/bin/python3
"""Golden reference data for the remaining nn.functional ops (nn_more2.json), computed with PyTorch.

Run with Debian's PyTorch (python3-torch):  /usr/bin/python3 tests/golden/make_nn_more2.py
Same format as make_golden.py (whose header documents it); read by tests/Fluxion.Tests/NnMore2Tests.cs.
"op" names the Fluxion call, "args" its keyword arguments (PyTorch names). Integer inputs (indices, targets) are
inputs without gradient. Lengths of ctc_loss are args.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import make_golden as g  # noqa: E402
import make_binary as mb  # noqa: E402,F401  (installs the non-finite JSON writer)
from make_golden import F32, F64, T, randn, uniform  # noqa: E402

B = "nn_more2"


def case(name, op, fn, inputs, args=None):
    mb.case(B, name, op, fn, inputs, args)


def t(v, dtype=F32):
    return torch.tensor(v, dtype=dtype)


def conv3d():
    for name, (x, w, b, a) in {
        "pad_stride": (randn(2, 2, 4, 5, 4), randn(3, 2, 2, 3, 2), randn(3), dict(stride=(2, 1, 2), padding=(1, 1, 0), dilation=(1, 1, 1), groups=1)),
        "groups_dil64": (randn(1, 4, 5, 4, 4, dtype=F64), randn(2, 2, 2, 2, 2, dtype=F64), None, dict(stride=(1, 1, 1), padding=(0, 1, 1), dilation=(2, 1, 1), groups=2)),
    }.items():
        ins = [x, w] + ([b] if b is not None else [])
        case(f"Conv3d.{name}", "Conv3d", lambda *v, a=a: F.conv3d(v[0], v[1], v[2] if len(v) > 2 else None, **a), ins,
             {k: list(v) if isinstance(v, tuple) else v for k, v in a.items()})
    for name, (x, w, b, a) in {
        "stride_outpad": (randn(2, 2, 3, 2, 3), randn(2, 3, 2, 3, 2), randn(3), dict(stride=(2, 1, 2), padding=(1, 0, 1), output_padding=(1, 0, 1), groups=1, dilation=(1, 1, 1))),
        "groups_dil64": (randn(1, 4, 3, 3, 2, dtype=F64), randn(4, 1, 2, 2, 2, dtype=F64), None, dict(stride=(1, 2, 1), padding=(0, 0, 0), output_padding=(0, 1, 0), groups=2, dilation=(2, 1, 1))),
    }.items():
        ins = [x, w] + ([b] if b is not None else [])
        case(f"ConvTranspose3d.{name}", "ConvTranspose3d", lambda *v, a=a: F.conv_transpose3d(v[0], v[1], v[2] if len(v) > 2 else None, **a), ins,
             {k: list(v) if isinstance(v, tuple) else v for k, v in a.items()})


def pools():
    for name, (x, a) in {
        "k2": (g.distinct(2, 2, 4, 4, 6), dict(kernel_size=[2, 2, 2], stride=[2, 2, 2], padding=[0, 0, 0], dilation=[1, 1, 1], ceil_mode=False)),
        "pad_ceil64": (g.distinct(1, 2, 5, 4, 5, dtype=F64), dict(kernel_size=[3, 2, 3], stride=[2, 1, 2], padding=[1, 1, 1], dilation=[1, 1, 1], ceil_mode=True)),
        "dil": (g.distinct(1, 1, 6, 5, 5), dict(kernel_size=[2, 2, 2], stride=[1, 2, 1], padding=[0, 0, 0], dilation=[2, 1, 2], ceil_mode=False)),
    }.items():
        case(f"MaxPool3d.{name}", "MaxPool3d", lambda v, a=a: F.max_pool3d(v, **a), [x], a)
    for name, (x, a) in {
        "k2": (randn(2, 2, 4, 4, 6), dict(kernel_size=[2, 2, 2], stride=[2, 2, 2], padding=[0, 0, 0], ceil_mode=False, count_include_pad=True, divisor_override=None)),
        "pad_ceil_excl64": (randn(1, 2, 5, 4, 5, dtype=F64), dict(kernel_size=[3, 2, 3], stride=[2, 1, 2], padding=[1, 1, 1], ceil_mode=True, count_include_pad=False, divisor_override=None)),
        "pad_incl": (randn(1, 1, 5, 5, 4), dict(kernel_size=[3, 3, 2], stride=[2, 2, 2], padding=[1, 1, 1], ceil_mode=True, count_include_pad=True, divisor_override=None)),
        "divisor": (randn(1, 2, 3, 4, 4), dict(kernel_size=[2, 3, 2], stride=[1, 1, 2], padding=[0, 1, 0], ceil_mode=False, count_include_pad=True, divisor_override=5)),
    }.items():
        case(f"AvgPool3d.{name}", "AvgPool3d", lambda v, a=a: F.avg_pool3d(v, **a), [x], a)
    case("AdaptiveAvgPool3d.down", "AdaptiveAvgPool3d", lambda v: F.adaptive_avg_pool3d(v, (2, 3, 2)), [randn(2, 2, 5, 7, 4)], {"output_size": [2, 3, 2]})
    case("AdaptiveAvgPool3d.up64", "AdaptiveAvgPool3d", lambda v: F.adaptive_avg_pool3d(v, (3, 2, 4)), [randn(1, 2, 2, 3, 3, dtype=F64)], {"output_size": [3, 2, 4]})
    case("AdaptiveMaxPool1d.down", "AdaptiveMaxPool1d", lambda v: F.adaptive_max_pool1d(v, 3), [g.distinct(2, 3, 8)], {"output_size": [3]})
    case("AdaptiveMaxPool1d.up64", "AdaptiveMaxPool1d", lambda v: F.adaptive_max_pool1d(v, 5), [g.distinct(3, 3, dtype=F64)], {"output_size": [5]})
    case("AdaptiveMaxPool2d.down", "AdaptiveMaxPool2d", lambda v: F.adaptive_max_pool2d(v, (3, 4)), [g.distinct(2, 2, 7, 9)], {"output_size": [3, 4]})
    case("AdaptiveMaxPool2d.mixed64", "AdaptiveMaxPool2d", lambda v: F.adaptive_max_pool2d(v, (5, 2)), [g.distinct(1, 3, 3, 5, dtype=F64)], {"output_size": [5, 2]})
    case("AdaptiveMaxPool2d.indices", "AdaptiveMaxPool2dWithIndices", lambda v: F.adaptive_max_pool2d(v, (2, 3), return_indices=True),
         [g.distinct(1, 2, 5, 7)], {"output_size": [2, 3]})
    case("AdaptiveMaxPool3d.down", "AdaptiveMaxPool3d", lambda v: F.adaptive_max_pool3d(v, (2, 3, 2)), [g.distinct(2, 2, 5, 7, 4)], {"output_size": [2, 3, 2]})
    case("AdaptiveMaxPool3d.up64", "AdaptiveMaxPool3d", lambda v: F.adaptive_max_pool3d(v, (3, 2, 4)), [g.distinct(1, 2, 2, 3, 3, dtype=F64)], {"output_size": [3, 2, 4]})
    # unpooling with the indices of PyTorch's own max pooling
    # (non-overlapping windows: where indices repeat, PyTorch passes the gradient to every duplicate, Fluxion to the written one)
    x1 = g.distinct(2, 3, 9)
    _, i1 = F.max_pool1d(x1, 3, 3, return_indices=True)
    case("MaxUnpool1d.k3", "MaxUnpool1d", lambda v, i: F.max_unpool1d(v, i, 3), [randn(*i1.shape), i1], {"kernel_size": [3], "stride": [3], "padding": [0], "output_size": None})
    _, i1b = F.max_pool1d(x1, 2, 2, padding=1, return_indices=True)
    case("MaxUnpool1d.pad_size", "MaxUnpool1d", lambda v, i: F.max_unpool1d(v, i, 2, 2, 1, output_size=[9]), [randn(*i1b.shape, dtype=F64), i1b],
         {"kernel_size": [2], "stride": [2], "padding": [1], "output_size": [9]})
    x2 = g.distinct(2, 2, 5, 6)
    _, i2 = F.max_pool2d(x2, 2, 2, padding=1, return_indices=True)
    case("MaxUnpool2d.pad", "MaxUnpool2d", lambda v, i: F.max_unpool2d(v, i, 2, 2, 1, output_size=[5, 6]), [randn(*i2.shape), i2],
         {"kernel_size": [2, 2], "stride": [2, 2], "padding": [1, 1], "output_size": [5, 6]})
    _, i2b = F.max_pool2d(x2, 2, return_indices=True)
    case("MaxUnpool2d.size", "MaxUnpool2d", lambda v, i: F.max_unpool2d(v, i, 2, output_size=[5, 6]), [randn(*i2b.shape, dtype=F64), i2b],
         {"kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0], "output_size": [5, 6]})
    x3 = g.distinct(1, 2, 4, 4, 6)
    _, i3 = F.max_pool3d(x3, 2, return_indices=True)
    case("MaxUnpool3d.k2", "MaxUnpool3d", lambda v, i: F.max_unpool3d(v, i, 2), [randn(*i3.shape), i3], {"kernel_size": [2, 2, 2], "stride": [2, 2, 2], "padding": [0, 0, 0], "output_size": None})
    case("MaxUnpool3d.size", "MaxUnpool3d", lambda v, i: F.max_unpool3d(v, i, 2, output_size=[4, 5, 7]), [randn(*i3.shape, dtype=F64), i3],
         {"kernel_size": [2, 2, 2], "stride": [2, 2, 2], "padding": [0, 0, 0], "output_size": [4, 5, 7]})


def interpolate():
    shapes = {"linear": (2, 3, 5), "bilinear": (2, 2, 4, 5), "bicubic": (1, 2, 4, 5), "trilinear": (1, 2, 3, 4, 3), "area": (2, 2, 6, 5), "nearest": (1, 2, 3, 4)}
    for mode, shape in shapes.items():
        nd = len(shape) - 2
        aligns = [False, True] if mode in ("linear", "bilinear", "bicubic", "trilinear") else [None]
        sizes = {"up": [7, 9, 5][:nd], "down": [3, 3, 2][:nd]}
        for al in aligns:
            for sname, size in sizes.items():
                a = {"mode": mode, "size": size, "scale_factor": None, "align_corners": al}
                dtype = F64 if sname == "down" else F32
                case(f"Interpolate.{mode}.{sname}.{al}", "Interpolate",
                     lambda v, a=a: F.interpolate(v, size=a["size"], mode=a["mode"], align_corners=a["align_corners"]), [randn(*shape, dtype=dtype)], a)
            sf = [1.5, 2.0, 1.7][:nd]
            a = {"mode": mode, "size": None, "scale_factor": sf, "align_corners": al}
            case(f"Interpolate.{mode}.scale.{al}", "Interpolate",
                 lambda v, a=a: F.interpolate(v, scale_factor=a["scale_factor"], mode=a["mode"], align_corners=a["align_corners"]), [randn(*shape)], a)
    a = {"mode": "nearest", "size": None, "scale_factor": [1.7, 1.3], "align_corners": None}
    case("Interpolate.nearest.scale_per_dim", "Interpolate", lambda v: F.interpolate(v, scale_factor=[1.7, 1.3]), [randn(1, 1, 5, 7)], a)
    case("UpsampleBilinear.scale", "UpsampleBilinear", lambda v: F.upsample_bilinear(v, scale_factor=2), [randn(2, 2, 3, 4)], {"size": None, "scale_factor": 2.0})
    case("UpsampleBilinear.size", "UpsampleBilinear", lambda v: F.upsample_bilinear(v, size=(5, 3)), [randn(1, 2, 3, 4, dtype=F64)], {"size": [5, 3], "scale_factor": None})


def grid_sample():
    for mode in ("bilinear", "nearest"):
        for pad in ("zeros", "border", "reflection"):
            for al in (False, True):
                a = {"mode": mode, "padding_mode": pad, "align_corners": al}
                grid = uniform(-1.3, 1.3, 2, 3, 4, 2, dtype=F64)
                x = randn(2, 2, 4, 5, dtype=F64)
                if mode == "nearest":
                    grid = g.ng(grid)
                case(f"GridSample.{mode}.{pad}.{al}", "GridSample", lambda v, gr, a=a: F.grid_sample(v, gr, **a), [x, grid], a)
    for pad in ("zeros", "border", "reflection"):
        for al in (False, True):
            a = {"mode": "bicubic", "padding_mode": pad, "align_corners": al}
            case(f"GridSample.bicubic.{pad}.{al}", "GridSample", lambda v, gr, a=a: F.grid_sample(v, gr, **a),
                 [randn(1, 2, 4, 5, dtype=F64), uniform(-1.3, 1.3, 1, 3, 2, 2, dtype=F64)], a)
            for mode in ("bilinear", "nearest"):
                a = {"mode": mode, "padding_mode": pad, "align_corners": al}
                grid = uniform(-1.3, 1.3, 1, 2, 3, 2, 3, dtype=F64)
                case(f"GridSample.3d.{mode}.{pad}.{al}", "GridSample", lambda v, gr, a=a: F.grid_sample(v, gr, **a),
                     [randn(1, 2, 3, 4, 5, dtype=F64), g.ng(grid) if mode == "nearest" else grid], a)
    case("GridSample.f32", "GridSample", lambda v, gr: F.grid_sample(v, gr, align_corners=False), [randn(1, 3, 5, 4), uniform(-1.1, 1.1, 1, 2, 3, 2)],
         {"mode": "bilinear", "padding_mode": "zeros", "align_corners": False})


def bags():
    w = randn(6, 3)
    for mode in ("sum", "mean", "max"):
        case(f"EmbeddingBag.2d.{mode}", "EmbeddingBag", lambda ww, i, mode=mode: F.embedding_bag(i, ww, mode=mode),
             [g.distinct(6, 3), t([[0, 2, 5], [4, 4, 1]], torch.int64)], {"mode": mode, "include_last_offset": False, "padding_idx": None})
        case(f"EmbeddingBag.offsets.{mode}", "EmbeddingBag", lambda ww, i, o, mode=mode: F.embedding_bag(i, ww, o, mode=mode, padding_idx=3),
             [g.distinct(6, 3, dtype=F64), t([1, 3, 2, 0, 5, 3, 4], torch.int64), t([0, 3, 3, 5], torch.int64)], {"mode": mode, "include_last_offset": False, "padding_idx": 3})
    case("EmbeddingBag.weights", "EmbeddingBag", lambda ww, i, o, p: F.embedding_bag(i, ww, o, mode="sum", per_sample_weights=p, include_last_offset=True),
         [w, t([1, 3, 2, 0, 5], torch.int64), t([0, 2, 5], torch.int64), randn(5)], {"mode": "sum", "include_last_offset": True, "padding_idx": None})


def ctc():
    # logits -> log_softmax inside: PyTorch's ctc gradient is only the true derivative after a log-softmax
    def run(logits, tg, il, tl, **kw):
        return F.ctc_loss(logits.log_softmax(2), tg, il, tl, **kw)
    for red in ("mean", "sum", "none"):
        case(f"CtcLoss.padded.{red}", "CtcLoss", lambda x, tg, red=red: run(x, tg, [6, 5, 6], [3, 2, 0], reduction=red),
             [randn(6, 3, 4), t([[1, 2, 2], [3, 1, 0], [0, 0, 0]], torch.int64)], {"input_lengths": [6, 5, 6], "target_lengths": [3, 2, 0], "blank": 0, "reduction": red, "zero_infinity": False})
    case("CtcLoss.concat64", "CtcLoss", lambda x, tg: run(x, tg, [7, 4], [4, 2], blank=2),
         [randn(7, 2, 5, dtype=F64), t([1, 1, 3, 4, 0, 4], torch.int64)], {"input_lengths": [7, 4], "target_lengths": [4, 2], "blank": 2, "reduction": "mean", "zero_infinity": False})
    case("CtcLoss.impossible_zero", "CtcLoss", lambda x, tg: run(x, tg, [2, 5], [3, 2], reduction="sum", zero_infinity=True),
         [randn(5, 2, 4, dtype=F64), t([[1, 2, 3], [2, 2, 0]], torch.int64)], {"input_lengths": [2, 5], "target_lengths": [3, 2], "blank": 0, "reduction": "sum", "zero_infinity": True})


def recurrent():
    """Layers and cells with PyTorch's own (seeded) initialization; the parameters are inputs (state-dict names in args["params"])."""
    nn_ = torch.nn

    def layer(name, kind, cfg, x, states=()):
        torch.manual_seed(len(name))
        dtype = x.dtype
        make = {"RNN": nn_.RNN, "LSTM": nn_.LSTM, "GRU": nn_.GRU, "RNNCell": nn_.RNNCell, "LSTMCell": nn_.LSTMCell, "GRUCell": nn_.GRUCell}[kind]
        kw = {k: v for k, v in cfg.items() if k not in ("input_size", "hidden_size")}
        m = make(cfg["input_size"], cfg["hidden_size"], **kw).to(dtype)
        names = [n for n, _ in m.named_parameters()]
        params = [p.detach().clone() for _, p in m.named_parameters()]
        ns = len(states)

        def fn(xx, *rest):
            st = rest[:ns]
            pd = dict(zip(names, rest[ns:]))
            # (functional_call would miss the layers' cached _flat_weights: put the tensors in and rebuild that cache)
            for n, v in pd.items():
                m._parameters[n] = v
            if hasattr(m, "_flat_weights_names"):
                m._flat_weights = [pd[n] for n in m._flat_weights_names]
            if kind in ("LSTM", "LSTMCell"):
                out = m(xx, tuple(st)) if ns else m(xx)
            else:
                out = m(xx, st[0]) if ns else m(xx)
            if kind == "LSTM":
                y, (h, c) = out
                return [y, h, c]
            if kind in ("RNN", "GRU"):
                return list(out)
            return list(out) if isinstance(out, tuple) else out
        args = dict(cfg)
        args.update({"kind": kind, "params": names, "states": ns})
        case(f"{kind}.{name}", "Recurrent", fn, [x, *states, *params], args)

    for kind in ("RNN", "LSTM", "GRU"):
        base = {"input_size": 3, "hidden_size": 4}
        layer("plain", kind, base, randn(5, 2, 3))
        cfg = dict(base, num_layers=2, bidirectional=True, batch_first=True)
        states = [randn(4, 2, 4, dtype=F64)] * (2 if kind == "LSTM" else 1)
        states = [randn(4, 2, 4, dtype=F64) for _ in states]
        layer("deep_bidir_bf64", kind, cfg, randn(2, 4, 3, dtype=F64), states)
        layer("unbatched_nobias", kind, dict(base, bias=False, num_layers=2), randn(3, 3))
    layer("relu", "RNN", {"input_size": 2, "hidden_size": 3, "nonlinearity": "relu"}, randn(4, 2, 2))
    for kind in ("RNNCell", "LSTMCell", "GRUCell"):
        base = {"input_size": 3, "hidden_size": 4}
        layer("zero_state", kind, base, randn(2, 3))
        n = 2 if kind == "LSTMCell" else 1
        layer("state64", kind, base, randn(2, 3, dtype=F64), [randn(2, 4, dtype=F64) for _ in range(n)])
        layer("unbatched", kind, base, randn(3), [randn(4) for _ in range(n)])


def main():
    g._gen.manual_seed(2017)
    conv3d()
    pools()
    interpolate()
    grid_sample()
    bags()
    ctc()
    recurrent()
    g.write_family(B)


if __name__ == "__main__":
    main()
