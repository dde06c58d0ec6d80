using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Cli.Bench;

/// <summary>
/// The LSTM training step of the op-surface issue: a word-level language model, Embedding(vocab, hidden) → 2-layer
/// LSTM(hidden, hidden) → Linear(hidden, vocab), on a batch of 64 sequences of 35 tokens (sequence first, [35, 64]),
/// hidden 256, vocabulary 10,000, float32; cross-entropy over every position's next token, plain SGD (lr 0.1, no momentum, no
/// clipping), zero initial states each step. One run = zero grad, forward, loss, backward, step.
/// bench/torch/lstm.py and bench/torchsharp's lstm suite run the same workload.
/// </summary>
public static class LstmBench
{
    /// <summary>Batch size.</summary>
    public const int Batch = 64;

    /// <summary>Sequence length.</summary>
    public const int Seq = 35;

    /// <summary>Embedding and hidden width.</summary>
    public const int Hidden = 256;

    /// <summary>Stacked LSTM layers.</summary>
    public const int Layers = 2;

    /// <summary>Vocabulary size.</summary>
    public const int Vocab = 10_000;

    /// <summary>The workload at the sizes, named "lstm/train_step".</summary>
    public static IEnumerable<Workload> Workloads()
    {
        var step = Make(Batch, Seq, Hidden, Layers, Vocab);
        yield return new Workload("lstm/train_step", () => step(), WarmupSeconds: 3.0);
    }

    /// <summary>One training step of the language model at the given sizes (seeded inputs and weights); returns the step's loss.</summary>
    public static Func<double> Make(int batch, int seq, int hidden, int layers, int vocab)
    {
        Generator.ManualSeed(0);
        var emb = new Embedding(vocab, hidden);
        var lstm = new LSTM(hidden, hidden, layers);
        var head = new Linear(hidden, vocab);
        var opt = new SGD(emb.Parameters().Concat(lstm.Parameters()).Concat(head.Parameters()), lr: 0.1);
        var x = Tensor.RandInt(0, vocab, [seq, batch]);
        var y = Tensor.RandInt(0, vocab, [seq * batch]);
        return () =>
        {
            opt.ZeroGrad();
            var h = lstm.Forward(emb.Forward(x));                   // [seq, batch, hidden]
            var logits = head.Forward(h.Reshape(seq * batch, hidden)); // [seq·batch, vocab]
            var loss = Losses.CrossEntropy(logits, y);
            loss.Backward();
            opt.Step();
            return loss.Item();
        };
    }
}
