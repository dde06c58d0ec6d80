#!/usr/bin/env python3
"""PyTorch version of `fluxion bench lstm` (src/Fluxion.Cli/Bench/LstmBench.cs), printing the same JSON line.

Run with Debian's torch:  /usr/bin/python3 bench/torch/lstm.py [--json] [--runs N] [--warmup N]
                          [--batch 64] [--seq 35] [--hidden 256] [--layers 2] [--vocab 10000]
The workload: Embedding(vocab, hidden) -> nn.LSTM(hidden, hidden, layers) -> Linear(hidden, vocab), float32, input
[seq, batch] tokens, cross-entropy over every position, plain SGD (lr 0.1), zero initial states; one run = zero grad,
forward, loss, backward, step. Two threads (bench.py's setting). Name "lstm/train_step" at the default sizes, else
"lstm/train_step/b{batch}_t{seq}_h{hidden}_l{layers}_v{vocab}".
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import bench  # noqa: E402  (sets 2 threads)

DEFAULTS = {"batch": 64, "seq": 35, "hidden": 256, "layers": 2, "vocab": 10000}


def make(batch, seq, hidden, layers, vocab):
    torch.manual_seed(0)
    emb, lstm, head = nn.Embedding(vocab, hidden), nn.LSTM(hidden, hidden, layers), nn.Linear(hidden, vocab)
    params = [*emb.parameters(), *lstm.parameters(), *head.parameters()]
    opt = torch.optim.SGD(params, lr=0.1)
    x = torch.randint(0, vocab, (seq, batch))
    y = torch.randint(0, vocab, (seq * batch,))

    def step():
        opt.zero_grad()
        h, _ = lstm(emb(x))
        F.cross_entropy(head(h.reshape(seq * batch, hidden)), y).backward()
        opt.step()
    return step


def main(argv):
    runs, warmup, sizes = 15, 3, dict(DEFAULTS)
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--json":
            i += 1
        elif a in ("--runs", "--warmup") or a[2:] in sizes:
            v = int(argv[i + 1])
            if a == "--runs": runs = v
            elif a == "--warmup": warmup = v
            else: sizes[a[2:]] = v
            i += 2
        else:
            sys.exit(f"lstm.py: unknown argument {a!r}")
    name = "lstm/train_step"
    if sizes != DEFAULTS:
        name += "/b{batch}_t{seq}_h{hidden}_l{layers}_v{vocab}".format(**sizes)
    # same minimum warm-up as LstmBench (3 s)
    bench.measure(name, make(**sizes), runs, warmup, warmup_s=3.0 if sizes == DEFAULTS else 0.0)


if __name__ == "__main__":
    main(sys.argv[1:])
