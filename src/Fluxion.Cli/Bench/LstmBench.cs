using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Cli.Bench;

/// <summary>
/// The LSTM training step of the op-surface issue: a word-level language model, Embedding(vocab, hidden) → 2-layer
/// LSTM(hidden, hidden) → Linear(hidden, vocab), on a batch of 64 sequences of 35 tokens (sequence first, [35, 64]),
/// hidden 256, vocabulary 10,000, float32; cross-entropy over every position's next token, plain SGD (lr 0.1, no momentum, no
/// clipping), zero initial states each step. One run = zero grad, forward, loss, backward, step (warm-up: the runner's
/// default, at least 3 s).
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

    /// <summary>Environment variable "batch,seq,hidden,layers,vocab" that changes the sizes (smoke tests), honoured alike by
    /// bench/torch/lstm.py and bench/torchsharp's lstm suite.</summary>
    public const string SizesVariable = "LSTM_BENCH_SIZES";

    /// <summary>The workload, named "lstm/train_step" at the sizes, or "lstm/train_step/b{batch}_t{seq}_h{hidden}_l{layers}_v{vocab}"
    /// when <see cref="SizesVariable"/> sets others.</summary>
    public static IEnumerable<Workload> Workloads()
    {
        int[] s = [Batch, Seq, Hidden, Layers, Vocab];
        string name = "lstm/train_step";
        if (Environment.GetEnvironmentVariable(SizesVariable) is { Length: > 0 } env)
        {
            s = env.Split(',').Select(v => int.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            if (s.Length != 5 || s.Any(v => v <= 0)) throw new ArgumentException($"{SizesVariable} must be five positive numbers batch,seq,hidden,layers,vocab, got '{env}'.");
            name += $"/b{s[0]}_t{s[1]}_h{s[2]}_l{s[3]}_v{s[4]}";
        }
        var step = Make(s[0], s[1], s[2], s[3], s[4]);
        yield return new Workload(name, () => step());
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
