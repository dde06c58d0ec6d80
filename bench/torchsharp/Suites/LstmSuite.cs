using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpBench;

/// <summary>
/// `fluxion bench lstm` (src/Fluxion.Cli/Bench/LstmBench.cs): one training step of a word-level language model,
/// Embedding(10,000, 256) → nn.LSTM(256, 256, 2 layers) → Linear(256, 10,000), float32, input [35, 64] tokens (sequence
/// first), cross-entropy over every position, plain SGD (lr 0.1), zero initial states; one run = zero grad, forward,
/// loss, backward, step. The environment variable LSTM_BENCH_SIZES="batch,seq,hidden,layers,vocab" changes the
/// sizes (for a smoke test; the name then gets the suffix /b{batch}_t{seq}_h{hidden}_l{layers}_v{vocab}), as on the
/// Fluxion and PyTorch sides.
/// </summary>
public sealed class LstmSuite : ISuite
{
    /// <inheritdoc/>
    public IEnumerable<Workload> Workloads()
    {
        int[] s = [64, 35, 256, 2, 10_000];
        string name = "lstm/train_step";
        if (Environment.GetEnvironmentVariable("LSTM_BENCH_SIZES") is { Length: > 0 } env)
        {
            s = env.Split(',').Select(int.Parse).ToArray();
            if (s.Length != 5) throw new ArgumentException("LSTM_BENCH_SIZES must be batch,seq,hidden,layers,vocab");
            name += $"/b{s[0]}_t{s[1]}_h{s[2]}_l{s[3]}_v{s[4]}";
        }
        int batch = s[0], seq = s[1], hidden = s[2], layers = s[3], vocab = s[4];
        torch.manual_seed(0);
        var emb = nn.Embedding(vocab, hidden);
        var lstm = nn.LSTM(hidden, hidden, layers);
        var head = nn.Linear(hidden, vocab);
        var ps = emb.parameters().Concat(lstm.parameters()).Concat(head.parameters()).ToList();
        var opt = optim.SGD(ps, 0.1);
        var x = torch.randint(0, vocab, [seq, batch], dtype: ScalarType.Int64);
        var y = torch.randint(0, vocab, [seq * batch], dtype: ScalarType.Int64);
        yield return new Workload(name, () =>
        {
            opt.zero_grad();
            var (h, _, _) = lstm.forward(emb.forward(x));
            var loss = nn.functional.cross_entropy(head.forward(h.reshape(seq * batch, hidden)), y);
            loss.backward();
            opt.step();
        });
    }
}
