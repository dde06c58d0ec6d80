#!/usr/bin/env python3
"""PyTorch version of `fluxion bench lstm` (src/Fluxion.Cli/Bench/LstmBench.cs), printing the same JSON lines.

Run with Debian's torch:  /usr/bin/python3 bench/torch/lstm.py [lstm] [--json] [--runs N] [--warmup N] [--warmup-s S] [--no-rss]

Workload "lstm/train_step": one training step of a word-level language model, Embedding(10000, 256) ->
nn.LSTM(256, 256, 2 layers) -> Linear(256, 10000), float32, input [35, 64] tokens (sequence first), cross-entropy
over every position, plain SGD (lr 0.1), zero initial states; one run = zero grad, forward, loss, backward, step.
Two threads, like the machine's two cores. The environment variable LSTM_BENCH_SIZES="batch,seq,hidden,layers,vocab"
changes the sizes (smoke tests; the name then gets the suffix /b{batch}_t{seq}_h{hidden}_l{layers}_v{vocab}), as on
the Fluxion and TorchSharp sides. Timing and peak RSS: harness.py.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

import harness

torch.set_num_threads(2)


def sizes():
    env = os.environ.get("LSTM_BENCH_SIZES")
    if not env:
        return (64, 35, 256, 2, 10000), "lstm/train_step"
    s = tuple(int(v) for v in env.split(","))
    if len(s) != 5:
        sys.exit("LSTM_BENCH_SIZES must be batch,seq,hidden,layers,vocab")
    return s, "lstm/train_step/b{}_t{}_h{}_l{}_v{}".format(*s)


def lstm():
    (batch, seq, hidden, layers, vocab), name = sizes()
    torch.manual_seed(0)
    emb, rnn, head = nn.Embedding(vocab, hidden), nn.LSTM(hidden, hidden, layers), nn.Linear(hidden, vocab)
    opt = torch.optim.SGD([*emb.parameters(), *rnn.parameters(), *head.parameters()], lr=0.1)
    x = torch.randint(0, vocab, (seq, batch))
    y = torch.randint(0, vocab, (seq * batch,))

    def step():
        opt.zero_grad()
        h, _ = rnn(emb(x))
        F.cross_entropy(head(h.reshape(seq * batch, hidden)), y).backward()
        opt.step()
    return [(name, step, None)]


if __name__ == "__main__":
    harness.main(sys.argv[1:], __file__, {"lstm": lstm})
