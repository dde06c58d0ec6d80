namespace Fluxion;

/// <summary>A move of a <see cref="LoopMemorySchedule"/>, from a held state x_0 with l steps left to reverse.</summary>
public enum LoopMove
{
    /// <summary>Record all l steps (one graph) and backpropagate through them.</summary>
    TapeAll,
    /// <summary>Advance j steps without recording, record the remaining l − j steps from the reached state (which is not
    /// kept as a snapshot), backpropagate through them, then reverse the first j steps from x_0.</summary>
    AdvanceTape,
    /// <summary>Advance j steps without recording, keep x_j as a snapshot, reverse the last l − j steps from it, release
    /// it, then reverse the first j steps from x_0 (Revolve's move).</summary>
    AdvanceHold,
    /// <summary>Record the first j steps and keep their graph, keep x_j, reverse the last l − j steps from it, then
    /// backpropagate through the recorded j steps.</summary>
    TapeHold,
}

/// <summary>
/// The loop-reversal schedule with the fewest step evaluations when memory is counted in bytes, with two kinds of
/// items: a state snapshot (<see cref="StateBytes"/> s) and a recorded step (<see cref="StepBytes"/> a, the bytes its
/// graph saves for backward). It generalizes binomial checkpointing (<see cref="BinomialSchedule"/>): with a → ∞ only
/// single steps are recorded and it is Revolve; with memory for every step's graph it records everything.
/// <para><b>Memory model.</b> <see cref="MemoryBytes"/> bounds, at every moment, the states alive (the loop's input, the
/// snapshots, the input and output of every recorded run of steps not yet backpropagated, and the state being advanced)
/// at s each, plus the recorded steps not yet backpropagated, at a each. Every schedule needs 3s + a (Revolve's model
/// with one snapshot: the input, and one recorded step with its input and output); the rest, E = M − 3s − a, is what
/// the moves share.</para>
/// <para><b>Dynamic program.</b> F(l, m), the fewest step evaluations to run and reverse l steps from a held state with
/// m spare bytes (−s ≤ m ≤ E: a tail may start with one state slot less), is F(1, m) = 1 and for l ≥ 2 the least of
/// (<see cref="LoopMove"/>):
/// <list type="bullet">
/// <item>TapeAll: l, if (l − 1)·a ≤ m + s;</item>
/// <item>AdvanceTape(j): l + F(j, m), if (l − j − 1)·a ≤ m;</item>
/// <item>AdvanceHold(j): j + F(l − j, m − s) + F(j, m), if m ≥ 0;</item>
/// <item>TapeHold(j): j + F(l − j, m − j·a − s), if j·a ≤ m;</item>
/// </list>
/// over 1 ≤ j &lt; l (each condition is exactly "the move's items fit", checked against a brute-force simulation of
/// every schedule in the tests). The first sweep (the loop's forward pass) follows the moves' right spine, so F(L, E)
/// counts every evaluation, forward and backward. Memory is counted in units (s and a rounded up to units, E rounded
/// down), at most <see cref="MaxUnits"/> of them, so that the table stays small (about L²·units operations); a
/// schedule that fits in units fits in bytes. The unit is chosen to waste the least to rounding (exact when s and a
/// are small multiples of a common unit); the optimum is exact for the rounded sizes.</para>
/// </summary>
public sealed class LoopMemorySchedule
{
    /// <summary>The most memory units the dynamic program uses (fewer for long loops: at most 4·10⁸ / L², e.g. 400 for 1,000 steps).</summary>
    public const int MaxUnits = 1024;

    private readonly int[] _f;
    private readonly byte[] _kind;
    private readonly int[] _j;
    private readonly int _width;

    /// <summary>Steps of the loop (L).</summary>
    public int Steps { get; }

    /// <summary>The memory budget in bytes (see the class remarks for what it counts).</summary>
    public long MemoryBytes { get; }

    /// <summary>Bytes of one state snapshot (s).</summary>
    public long StateBytes { get; }

    /// <summary>Bytes one recorded step saves for backward (a).</summary>
    public long StepBytes { get; }

    /// <summary>Bytes per memory unit of the dynamic program.</summary>
    public long UnitBytes { get; }

    /// <summary>The spare memory E in units (rounded down).</summary>
    public int SpareUnits { get; }

    /// <summary>A snapshot in units (s rounded up).</summary>
    public int StateUnits { get; }

    /// <summary>A recorded step in units (a rounded up; <see cref="int.MaxValue"/> when recording more than one step at a time is not allowed).</summary>
    public int StepUnits { get; }

    /// <summary>F(L, E): the fewest step evaluations (forward and backward) of the schedule.</summary>
    public long StepEvaluations => Steps == 0 ? 0 : _f[Index(Steps, SpareUnits)];

    private LoopMemorySchedule(int steps, long memoryBytes, long stateBytes, long stepBytes, long unit, int spare, int sUnits, int aUnits)
    {
        Steps = steps;
        MemoryBytes = memoryBytes;
        StateBytes = stateBytes;
        StepBytes = stepBytes;
        UnitBytes = unit;
        SpareUnits = spare;
        StateUnits = sUnits;
        StepUnits = aUnits;
        _width = spare + sUnits + 1;
        (_f, _kind, _j) = Solve(steps, spare, sUnits, aUnits);
    }

    private int Index(int l, int m) => l * _width + m + StateUnits;

    /// <summary>The optimal move for <paramref name="steps"/> steps from a held state with <paramref name="spareUnits"/> spare units
    /// (1 ≤ steps ≤ <see cref="Steps"/>, −<see cref="StateUnits"/> ≤ spareUnits ≤ <see cref="SpareUnits"/>), its j, and F.</summary>
    public (LoopMove Move, int J, long Evaluations) Move(int steps, int spareUnits)
    {
        if (steps < 1 || steps > Steps || spareUnits < -StateUnits || spareUnits > SpareUnits)
            throw new ArgumentOutOfRangeException(nameof(steps), $"LoopMemorySchedule.Move: ({steps} steps, {spareUnits} units) is outside the table (1..{Steps} steps, {-StateUnits}..{SpareUnits} units).");
        int k = Index(steps, spareUnits);
        return ((LoopMove)_kind[k], _j[k], _f[k]);
    }

    /// <summary>
    /// The schedule for <paramref name="steps"/> steps within <paramref name="memoryBytes"/> (at least 3s + a), snapshots of
    /// <paramref name="stateBytes"/> and recorded steps of <paramref name="stepBytes"/> each (see the class remarks).
    /// </summary>
    public static LoopMemorySchedule Create(int steps, long memoryBytes, long stateBytes, long stepBytes)
    {
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), $"LoopMemorySchedule: steps must be ≥ 0, got {steps}.");
        if (stateBytes < 1) throw new ArgumentOutOfRangeException(nameof(stateBytes), $"LoopMemorySchedule: a state must have at least one byte, got {stateBytes}.");
        if (stepBytes < 0) throw new ArgumentOutOfRangeException(nameof(stepBytes), $"LoopMemorySchedule: a recorded step's bytes must be ≥ 0, got {stepBytes}.");
        long need = 3 * stateBytes + stepBytes;
        if (memoryBytes < need)
            throw new AutogradException(
                $"LoopMemorySchedule: {memoryBytes} bytes cannot reverse a loop whose states take {stateBytes} bytes and whose recorded step takes {stepBytes} bytes: " +
                $"at least 3·{stateBytes} + {stepBytes} = {need} bytes are needed (the input, and one recorded step with its input and output); raise the budget.");
        long spare = memoryBytes - need;
        long maxUnits = Math.Clamp(400_000_000L / Math.Max(1L, (long)steps * steps), 8, MaxUnits);
        long unit = ChooseUnit(spare, stateBytes, stepBytes, maxUnits);
        int spareUnits = (int)(spare / unit);
        int sUnits = (int)Math.Min(int.MaxValue, (stateBytes + unit - 1) / unit);
        int aUnits = (int)Math.Min(int.MaxValue, (stepBytes + unit - 1) / unit);
        return new LoopMemorySchedule(steps, memoryBytes, stateBytes, stepBytes, unit, spareUnits, sUnits, aUnits);
    }

    /// <summary>
    /// The unit: at most <paramref name="maxUnits"/> units of spare memory, chosen among s/p and a/q (and the smallest
    /// allowed unit) to waste the least to rounding (s and a rounded up, the spare memory rounded down): when s/a is
    /// close to a ratio of small integers the rounding is nearly exact.
    /// </summary>
    private static long ChooseUnit(long spare, long s, long a, long maxUnits)
    {
        long smallest = Math.Max(1, (spare + maxUnits - 1) / maxUnits);
        long best = smallest;
        double bestWaste = double.MaxValue;
        void Try(long u)
        {
            if (u < smallest) return;
            double ws = (double)((s + u - 1) / u * u) / s - 1;
            double wa = a == 0 ? 0 : (double)((a + u - 1) / u * u) / a - 1;
            double we = spare == 0 ? 0 : (double)(spare % u) / spare;
            double waste = Math.Max(ws, wa) + we;
            if (waste < bestWaste - 1e-12) { bestWaste = waste; best = u; }
        }
        Try(smallest);
        for (long p = 1; p <= maxUnits; p++)
        {
            Try(s / p);
            if (a > 0) Try(a / p);
        }
        return best;
    }

    /// <summary>The schedule in units directly: <paramref name="spareUnits"/> spare units, snapshots of <paramref name="stateUnits"/> and
    /// recorded steps of <paramref name="stepUnits"/> units (<see cref="int.MaxValue"/>: one recorded step at a time, as Revolve).
    /// Unit bytes are 1.</summary>
    public static LoopMemorySchedule FromUnits(int steps, int spareUnits, int stateUnits, int stepUnits)
    {
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), $"LoopMemorySchedule: steps must be ≥ 0, got {steps}.");
        if (spareUnits < 0 || stateUnits < 1 || stepUnits < 0)
            throw new ArgumentOutOfRangeException(nameof(spareUnits), $"LoopMemorySchedule.FromUnits: needs spare ≥ 0, state ≥ 1 and step ≥ 0 units, got {spareUnits}, {stateUnits}, {stepUnits}.");
        return new LoopMemorySchedule(steps, spareUnits + 3L * stateUnits + stepUnits, stateUnits, stepUnits, 1, spareUnits, stateUnits, stepUnits);
    }

    /// <summary>The fewest evaluations of Revolve's model (one recorded step at a time) with <paramref name="snapshots"/> snapshots, by this
    /// dynamic program: equal to <see cref="BinomialSchedule.MinStepEvaluations"/> (tested).</summary>
    public static long RevolveEvaluations(int steps, int snapshots) => FromUnits(steps, snapshots - 1, 1, int.MaxValue).StepEvaluations;

    private const int Inf = int.MaxValue / 4;

    /// <summary>count·a ≤ limit, without overflow (a = <see cref="int.MaxValue"/>: only count 0 fits).</summary>
    private static bool Fits(long count, int aUnits, long limit) => count <= 0 ? limit >= 0 : aUnits != int.MaxValue && count * aUnits <= limit;

    private static (int[] F, byte[] Kind, int[] J) Solve(int steps, int spare, int s, int a)
    {
        // m runs over −s..spare (index m + s): a subproblem may start with less than the baseline's state slot
        int w = spare + s + 1;
        var f = new int[(steps + 1) * w];
        var kind = new byte[f.Length];
        var jj = new int[f.Length];
        if (steps == 0) return (f, kind, jj);
        for (int i = 0; i < w; i++) { f[w + i] = 1; kind[w + i] = (byte)LoopMove.TapeAll; jj[w + i] = 1; }
        for (int l = 2; l <= steps; l++)
        {
            int row = l * w;
            for (int i = 0; i < w; i++)
            {
                int m = i - s;
                if (Fits(l - 1, a, (long)m + s)) { f[row + i] = l; kind[row + i] = (byte)LoopMove.TapeAll; jj[row + i] = l; continue; }
                long best = Inf;
                LoopMove bk = LoopMove.AdvanceTape;
                int bj = 0;
                // AdvanceTape(j): record the last k = l − j steps from the reached state
                for (int k = 1; k < l && Fits(k - 1, a, m); k++)
                {
                    int j = l - k;
                    long c = l + (long)f[j * w + i];
                    if (c < best) { best = c; bk = LoopMove.AdvanceTape; bj = j; }
                }
                if (m >= 0)
                {
                    // AdvanceHold(j): the tail starts with m − s (index i − s)
                    int it = i - s;
                    for (int j = 1; j < l; j++)
                    {
                        long c = j + (long)f[(l - j) * w + it] + f[j * w + i];
                        if (c < best) { best = c; bk = LoopMove.AdvanceHold; bj = j; }
                    }
                    // TapeHold(j): the tail starts with m − j·a − s
                    for (int j = 1; j < l && Fits(j, a, m); j++)
                    {
                        long c = j + (long)f[(l - j) * w + it - j * a];
                        if (c < best) { best = c; bk = LoopMove.TapeHold; bj = j; }
                    }
                }
                f[row + i] = (int)Math.Min(best, Inf);
                kind[row + i] = (byte)bk;
                jj[row + i] = bj;
            }
        }
        return (f, kind, jj);
    }

    /// <summary>Whether the budget suffices for the loop (false only when the budget leaves less than one state slot beyond
    /// the baseline and recording all steps at once does not fit).</summary>
    public bool Feasible => Steps == 0 || _f[Index(Steps, SpareUnits)] < Inf;

    /// <summary>The peak of the memory model over the schedule, in bytes: the loop's input plus the peak of what the moves
    /// hold at once (at most <see cref="MemoryBytes"/>).</summary>
    public long ModeledPeakBytes => Steps == 0 ? 0 : StateBytes + PeakBytes(Steps, SpareUnits);

    /// <summary>Bytes the schedule for (l, m) holds at once beyond its held input.</summary>
    internal long PeakBytes(int l, int m)
    {
        var (mv, j, _) = Move(l, m);
        long sb = StateBytes, ab = StepBytes;
        return mv switch
        {
            LoopMove.TapeAll => sb + l * ab,
            LoopMove.AdvanceTape => Math.Max(2 * sb + (l - j) * ab, PeakBytes(j, m)),
            LoopMove.AdvanceHold => Math.Max(sb + PeakBytes(l - j, m - StateUnits), PeakBytes(j, m)),
            _ => j * ab + sb + PeakBytes(l - j, m - StateUnits - j * StepUnits),
        };
    }

    /// <summary>The peak of √T-style checkpointing (<see cref="Checkpoint.Sequential"/> with <paramref name="segments"/> segments) in this
    /// memory model: reversing segment k (0-based, of length n_k) holds the inputs of segments 0..k, its output and n_k
    /// recorded steps: max over k of (k + 2)·s + n_k·a.</summary>
    public static long SegmentedPeakBytes(int steps, int segments, long stateBytes, long stepBytes)
    {
        if (steps < 1 || segments < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"LoopMemorySchedule.SegmentedPeakBytes: needs ≥ 1 step and segment, got {steps} and {segments}.");
        segments = Math.Min(segments, steps);
        long peak = 0;
        for (int k = 0; k < segments; k++)
        {
            int len = steps / segments + (k < steps % segments ? 1 : 0);
            peak = Math.Max(peak, (k + 2) * stateBytes + len * stepBytes);
        }
        return peak;
    }

    /// <summary>The step evaluations of <see cref="Checkpoint.Sequential"/> with <paramref name="segments"/> segments: every step forward,
    /// and every segment but the last (recorded in the forward pass) again: 2L − n_last.</summary>
    public static long SegmentedStepEvaluations(int steps, int segments)
    {
        segments = Math.Clamp(segments, 1, Math.Max(steps, 1));
        int last = steps / segments + (segments - 1 < steps % segments ? 1 : 0);
        return 2L * steps - last;
    }

    /// <summary>The sweeps' structure on one line: the top-level moves (the forward pass's spine).</summary>
    public override string ToString()
    {
        if (Steps == 0) return "LoopMemorySchedule: no steps";
        var parts = new List<string>();
        int l = Steps, m = SpareUnits;
        while (l > 0)
        {
            var (mv, j, _) = Move(l, m);
            switch (mv)
            {
                case LoopMove.TapeAll: parts.Add($"tape {l}"); l = 0; break;
                case LoopMove.AdvanceTape: parts.Add($"advance {j}, tape {l - j}"); l = 0; break;
                case LoopMove.AdvanceHold: parts.Add($"advance {j}, keep"); l -= j; m -= StateUnits; break;
                default: parts.Add($"tape {j}, keep"); l -= j; m -= StateUnits + j * StepUnits; break;
            }
        }
        return $"LoopMemorySchedule: {Steps} steps in {MemoryBytes} B (state {StateBytes} B, step {StepBytes} B, unit {UnitBytes} B): {StepEvaluations} step evaluations; forward: {string.Join("; ", parts)}";
    }
}
