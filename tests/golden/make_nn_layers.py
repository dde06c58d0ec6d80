#!/usr/bin/python3
"""Golden reference data for the Transformer layers and LSTM with proj_size (nn_layers.json), computed with PyTorch.

Run with Debian's PyTorch (python3-torch):  /usr/bin/python3 tests/golden/make_nn_layers.py
Same format as make_golden.py (whose header documents it); read by tests/Fluxion.Tests/NnLayersTests.cs.
Each case builds a PyTorch module with its own seeded initialization (dropout 0, training mode, float64) and passes its
parameters as inputs (state-dict names in args["params"]), so the gradients of the parameters are checked too.
Ops (inputs in order, then the parameters):
  TransformerEncoderLayer, TransformerEncoder {cfg, num_layers, final_norm, masks}: src, then the masks named in args["masks"]
  TransformerDecoderLayer, TransformerDecoder {same}: tgt, memory, then the masks
  Transformer {cfg, num_encoder_layers, num_decoder_layers, masks}: src, tgt, then the masks
  LSTM {input_size, hidden_size, num_layers, bidirectional, batch_first, proj_size, states}: x, then h0 and c0 when states = 2
Masks are bool (true = masked) or float (added to the scores) inputs without gradient.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
from torch.nn.utils import stateless  # noqa: E402
import make_golden as g  # noqa: E402
import make_binary as mb  # noqa: E402,F401  (installs the non-finite JSON writer: float masks hold -inf)
from make_golden import F64, In, randn  # noqa: E402

B = "nn_layers"
nn = torch.nn


def subsequent(n):
    return nn.Transformer.generate_square_subsequent_mask(n).to(F64)


def padding(n, s, masked):
    """Bool [n, s]: true at the listed (batch, position) pairs."""
    m = torch.zeros(n, s, dtype=torch.bool)
    for b, p in masked:
        m[b, p] = True
    return m


def module_case(name, op, make, cfg, data, masks, call, extra=None):
    """A case for module `make()`: inputs are the data tensors, the masks (no gradient) and the parameters."""
    torch.manual_seed(len(name) + 7)
    m = make().to(F64)
    m.train()
    names = [n for n, _ in m.named_parameters()]
    params = [p.detach().clone() for _, p in m.named_parameters()]
    nd, nm = len(data), len(masks)

    def fn(*v):
        pd = dict(zip(names, v[nd + nm:]))
        mk = dict(zip([k for k, _ in masks], v[nd:nd + nm]))
        return call(lambda *a, **k: stateless.functional_call(m, pd, a, k), v[:nd], mk)

    args = dict(cfg)
    args.update(extra or {})
    args.update({"params": names, "masks": [k for k, _ in masks]})
    mb.case(B, f"{op}.{name}", op, fn, [*data, *[In(t, grad=False) for _, t in masks], *params], args)


def layer_kw(cfg):
    return dict(d_model=cfg["d_model"], nhead=cfg["nhead"], dim_feedforward=cfg["dim_feedforward"], dropout=0.0,
                activation=cfg["activation"], layer_norm_eps=cfg["layer_norm_eps"], batch_first=cfg["batch_first"],
                norm_first=cfg["norm_first"])


def cfgs():
    base = dict(d_model=8, nhead=2, dim_feedforward=12, activation="relu", layer_norm_eps=1e-5, batch_first=False, norm_first=False)
    alt = dict(base, activation="gelu", layer_norm_eps=1e-6, batch_first=True, norm_first=True)
    return base, alt


def encoder():
    base, alt = cfgs()
    L, N = 4, 2
    module_case("relu_post_mask", "TransformerEncoderLayer", lambda: nn.TransformerEncoderLayer(**layer_kw(base)), base,
                [randn(L, N, 8, dtype=F64)], [("src_mask", subsequent(L))], lambda f, d, mk: f(d[0], **mk))
    module_case("gelu_prenorm_bf_padding", "TransformerEncoderLayer", lambda: nn.TransformerEncoderLayer(**layer_kw(alt)), alt,
                [randn(N, L, 8, dtype=F64)], [("src_key_padding_mask", padding(N, L, [(0, 3), (1, 1), (1, 2)]))], lambda f, d, mk: f(d[0], **mk))
    module_case("unbatched_boolmask", "TransformerEncoderLayer", lambda: nn.TransformerEncoderLayer(**layer_kw(base)), base,
                [randn(L, 8, dtype=F64)], [("src_mask", subsequent(L).isinf())], lambda f, d, mk: f(d[0], **mk))
    module_case("stack_norm", "TransformerEncoder",
                lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer_kw(base)), 2, nn.LayerNorm(8)), base,
                [randn(L, N, 8, dtype=F64)], [("mask", subsequent(L)), ("src_key_padding_mask", padding(N, L, [(1, 3)]))],
                lambda f, d, mk: f(d[0], **mk), {"num_layers": 2, "final_norm": True})
    module_case("stack_prenorm_bf", "TransformerEncoder",
                lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer_kw(alt)), 2), alt,
                [randn(N, L, 8, dtype=F64)], [], lambda f, d, mk: f(d[0], **mk), {"num_layers": 2, "final_norm": False})


def decoder():
    base, alt = cfgs()
    T, S, N = 3, 4, 2
    module_case("relu_post_masks", "TransformerDecoderLayer", lambda: nn.TransformerDecoderLayer(**layer_kw(base)), base,
                [randn(T, N, 8, dtype=F64), randn(S, N, 8, dtype=F64)],
                [("tgt_mask", subsequent(T)), ("memory_key_padding_mask", padding(N, S, [(0, 2), (1, 3)]))],
                lambda f, d, mk: f(d[0], d[1], **mk))
    module_case("gelu_prenorm_bf", "TransformerDecoderLayer", lambda: nn.TransformerDecoderLayer(**layer_kw(alt)), alt,
                [randn(N, T, 8, dtype=F64), randn(N, S, 8, dtype=F64)],
                [("memory_mask", torch.tensor([[False, True, False, False], [False, False, True, True], [True, False, False, False]])),
                 ("tgt_key_padding_mask", padding(N, T, [(1, 2)]))],
                lambda f, d, mk: f(d[0], d[1], **mk))
    module_case("stack_norm", "TransformerDecoder",
                lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer_kw(base)), 2, nn.LayerNorm(8)), base,
                [randn(T, N, 8, dtype=F64), randn(S, N, 8, dtype=F64)], [("tgt_mask", subsequent(T))],
                lambda f, d, mk: f(d[0], d[1], **mk), {"num_layers": 2, "final_norm": True})


def transformer():
    base, alt = cfgs()
    T, S, N = 3, 4, 2
    for name, cfg in (("post", base), ("gelu_prenorm_bf", alt)):
        kw = layer_kw(cfg)
        bf = cfg["batch_first"]
        src = randn(N, S, 8, dtype=F64) if bf else randn(S, N, 8, dtype=F64)
        tgt = randn(N, T, 8, dtype=F64) if bf else randn(T, N, 8, dtype=F64)
        module_case(name, "Transformer",
                    lambda kw=kw: nn.Transformer(num_encoder_layers=2, num_decoder_layers=1, custom_encoder=None, **kw), cfg,
                    [src, tgt], [("tgt_mask", subsequent(T)), ("src_key_padding_mask", padding(N, S, [(0, 1)])),
                                 ("memory_key_padding_mask", padding(N, S, [(0, 1)]))],
                    lambda f, d, mk: f(d[0], d[1], **mk), {"num_encoder_layers": 2, "num_decoder_layers": 1})


def lstm_proj():
    def layer(name, cfg, x, states=()):
        torch.manual_seed(len(name))
        kw = {k: v for k, v in cfg.items() if k not in ("input_size", "hidden_size")}
        m = nn.LSTM(cfg["input_size"], cfg["hidden_size"], **kw).to(x.dtype)
        names = [n for n, _ in m.named_parameters()]
        params = [p.detach().clone() for _, p in m.named_parameters()]
        ns = len(states)

        def fn(xx, *rest):
            pd = dict(zip(names, rest[ns:]))
            for n, v in pd.items():
                m._parameters[n] = v
            m._flat_weights = [pd[n] for n in m._flat_weights_names]
            y, (h, c) = m(xx, tuple(rest[:ns])) if ns else m(xx)
            return [y, h, c]
        args = dict(cfg)
        args.update({"params": names, "states": ns})
        mb.case(B, f"LSTM.{name}", "LSTM", fn, [x, *states, *params], args)

    layer("proj", {"input_size": 3, "hidden_size": 5, "proj_size": 2}, randn(4, 2, 3, dtype=F64))
    cfg = {"input_size": 3, "hidden_size": 5, "proj_size": 3, "num_layers": 2, "bidirectional": True, "batch_first": True}
    layer("proj_deep_bidir_bf", cfg, randn(2, 4, 3, dtype=F64), [randn(4, 2, 3, dtype=F64), randn(4, 2, 5, dtype=F64)])
    layer("proj_unbatched_nobias", {"input_size": 3, "hidden_size": 4, "proj_size": 2, "bias": False, "num_layers": 2}, randn(3, 3, dtype=F64))


def main():
    g._gen.manual_seed(2031)
    encoder()
    decoder()
    transformer()
    lstm_proj()
    g.write_family(B)


if __name__ == "__main__":
    main()
