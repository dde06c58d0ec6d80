using System.Globalization;

namespace Fluxion.Optim;

/// <summary>
/// Base class of the learning-rate schedulers (PyTorch's <c>LRScheduler</c>): each <see cref="Step"/>
/// advances the epoch counter and writes a new learning rate into every parameter group. Call it after
/// <see cref="Optimizer.Step()"/>. On construction (lastEpoch = -1) each group's "initial_lr" is set to its
/// current lr (unless already present) and a first step to epoch 0 is taken, as PyTorch does.
/// </summary>
public abstract class LRScheduler
{
    private double[] _baseLrs = [];
    private double[] _lastLr = [];

    private protected LRScheduler(Optimizer optimizer, int lastEpoch)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (lastEpoch < -1)
            throw new ArgumentOutOfRangeException(nameof(lastEpoch), lastEpoch, $"{GetType().Name}: lastEpoch must be -1 (a fresh start) or the index of the last epoch (>= 0).");
        Optimizer = optimizer;
        LastEpoch = lastEpoch;
    }

    /// <summary>Sets up "initial_lr" and the base learning rates and takes the first step; subclasses call it at the end of their constructor.</summary>
    private protected void Initialize()
    {
        var groups = Optimizer.ParamGroups;
        if (LastEpoch == -1)
        {
            foreach (var g in groups)
                if (!g.Has("initial_lr")) g.RawOptions["initial_lr"] = g.Lr;
        }
        else
        {
            for (int i = 0; i < groups.Count; i++)
                if (!groups[i].Has("initial_lr"))
                    throw new ArgumentException($"{GetType().Name}: parameter group {i} has no 'initial_lr', which resuming (lastEpoch = {LastEpoch}) needs; load the optimizer's state dict first, or start with lastEpoch = -1.");
        }
        _baseLrs = groups.Select(g => g["initial_lr"]).ToArray();
        StepCount = 0;
        Step();
    }

    /// <summary>The optimizer whose learning rates this scheduler sets.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The index of the last epoch (step) taken; 0 right after construction.</summary>
    public int LastEpoch { get; private set; }

    /// <summary>Number of <see cref="Step"/> calls including the one made by the constructor.</summary>
    public int StepCount { get; private set; }

    /// <summary>The initial learning rate of each group.</summary>
    public IReadOnlyList<double> BaseLrs => _baseLrs;

    /// <summary>Advances one epoch (or batch, for per-batch schedules) and updates every group's learning rate.</summary>
    public void Step()
    {
        StepCount++;
        LastEpoch++;
        double[] values;
        try
        {
            values = ComputeLr();
        }
        catch
        {
            StepCount--;
            LastEpoch--;
            throw;
        }
        var groups = Optimizer.ParamGroups;
        for (int i = 0; i < groups.Count; i++) groups[i].RawOptions["lr"] = values[i];
        _lastLr = groups.Select(g => g.Lr).ToArray();
    }

    /// <summary>The learning rate of each group as last set by this scheduler.</summary>
    public IReadOnlyList<double> GetLastLr() => _lastLr;

    /// <summary>The learning rates for epoch <see cref="LastEpoch"/> (already advanced), one per group.</summary>
    private protected abstract double[] ComputeLr();

    /// <summary>The scheduler's counters: "last_epoch", "step_count", "base_lrs.{i}", "last_lr.{i}".</summary>
    public IReadOnlyDictionary<string, double> StateDict()
    {
        var s = new Dictionary<string, double> { ["last_epoch"] = LastEpoch, ["step_count"] = StepCount };
        for (int i = 0; i < _baseLrs.Length; i++) s[$"base_lrs.{i}"] = _baseLrs[i];
        for (int i = 0; i < _lastLr.Length; i++) s[$"last_lr.{i}"] = _lastLr[i];
        return s;
    }

    /// <summary>Restores counters saved by <see cref="StateDict"/> (checked first; nothing changes on error).
    /// The optimizer's learning rates come from the optimizer's own state dict.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, double> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        int n = Optimizer.ParamGroups.Count;
        var errors = new List<string>();
        double Get(string key)
        {
            if (state.TryGetValue(key, out var v)) return v;
            errors.Add($"'{key}' is missing");
            return 0;
        }
        double lastEpoch = Get("last_epoch"), stepCount = Get("step_count");
        var baseLrs = Enumerable.Range(0, n).Select(i => Get($"base_lrs.{i}")).ToArray();
        var lastLr = Enumerable.Range(0, n).Select(i => Get($"last_lr.{i}")).ToArray();
        if (lastEpoch < -1 || lastEpoch != Math.Floor(lastEpoch)) errors.Add($"last_epoch {lastEpoch.ToString(CultureInfo.InvariantCulture)} must be an integer >= -1");
        if (stepCount < 0 || stepCount != Math.Floor(stepCount)) errors.Add($"step_count {stepCount.ToString(CultureInfo.InvariantCulture)} must be a non-negative integer");
        foreach (var key in state.Keys)
            if (key is not ("last_epoch" or "step_count") && !IsIndexed(key, "base_lrs.", n) && !IsIndexed(key, "last_lr.", n))
                errors.Add($"'{key}': unexpected key (the optimizer has {n} parameter group(s))");
        if (errors.Count > 0)
            throw new ArgumentException($"{GetType().Name}.LoadStateDict: the state does not fit this scheduler; nothing was loaded:\n  " + string.Join("\n  ", errors));
        LastEpoch = (int)lastEpoch;
        StepCount = (int)stepCount;
        _baseLrs = baseLrs;
        _lastLr = lastLr;
    }

    private static bool IsIndexed(string key, string prefix, int n) =>
        key.StartsWith(prefix, StringComparison.Ordinal)
        && int.TryParse(key[prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int i) && i < n;

    private protected double[] CurrentLrs() => Optimizer.ParamGroups.Select(g => g.Lr).ToArray();
}

/// <summary>
/// Decays each group's learning rate by <c>gamma</c> every <c>stepSize</c> epochs:
/// lr = initial_lr · gamma^⌊epoch / stepSize⌋ (PyTorch's <c>StepLR</c>, chainable form).
/// </summary>
public sealed class StepLR : LRScheduler
{
    /// <summary>Creates the scheduler and sets the learning rates for epoch 0.</summary>
    /// <param name="optimizer">The optimizer to drive.</param>
    /// <param name="stepSize">Period of the decay, in epochs (≥ 1).</param>
    /// <param name="gamma">Multiplicative factor of the decay.</param>
    /// <param name="lastEpoch">Index of the last epoch when resuming; -1 to start fresh.</param>
    public StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        if (stepSize < 1) throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "StepLR: stepSize must be >= 1.");
        if (!double.IsFinite(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "StepLR: gamma must be finite.");
        StepSize = stepSize;
        Gamma = gamma;
        Initialize();
    }

    /// <summary>Period of the decay, in epochs.</summary>
    public int StepSize { get; }

    /// <summary>Multiplicative factor of the decay.</summary>
    public double Gamma { get; }

    private protected override double[] ComputeLr()
    {
        var lrs = CurrentLrs();
        if (LastEpoch == 0 || LastEpoch % StepSize != 0) return lrs;
        for (int i = 0; i < lrs.Length; i++) lrs[i] *= Gamma;
        return lrs;
    }
}

/// <summary>
/// Cosine annealing (SGDR without restarts, PyTorch's <c>CosineAnnealingLR</c>):
/// lr = η_min + (initial_lr − η_min)·(1 + cos(π·epoch/T_max))/2, computed in PyTorch's recursive
/// (chainable) form; past T_max the learning rate rises again with period 2·T_max.
/// </summary>
public sealed class CosineAnnealingLR : LRScheduler
{
    /// <summary>Creates the scheduler and sets the learning rates for epoch 0.</summary>
    /// <param name="optimizer">The optimizer to drive.</param>
    /// <param name="tMax">Number of epochs of a half cosine period (≥ 1).</param>
    /// <param name="etaMin">Minimum learning rate.</param>
    /// <param name="lastEpoch">Index of the last epoch when resuming; -1 to start fresh.</param>
    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        if (tMax < 1) throw new ArgumentOutOfRangeException(nameof(tMax), tMax, "CosineAnnealingLR: tMax must be >= 1.");
        if (!double.IsFinite(etaMin)) throw new ArgumentOutOfRangeException(nameof(etaMin), etaMin, "CosineAnnealingLR: etaMin must be finite.");
        TMax = tMax;
        EtaMin = etaMin;
        Initialize();
    }

    /// <summary>Number of epochs of a half cosine period.</summary>
    public int TMax { get; }

    /// <summary>Minimum learning rate.</summary>
    public double EtaMin { get; }

    private protected override double[] ComputeLr()
    {
        var lrs = CurrentLrs();
        int e = LastEpoch;
        if (e == 0) return lrs;
        var baseLrs = BaseLrs;
        for (int i = 0; i < lrs.Length; i++)
        {
            if (StepCount == 1 && e > 0)
                lrs[i] = EtaMin + (baseLrs[i] - EtaMin) * (1 + Math.Cos(e * Math.PI / TMax)) / 2;
            else if ((e - 1 - TMax) % (2 * TMax) == 0)
                lrs[i] = lrs[i] + (baseLrs[i] - EtaMin) * (1 - Math.Cos(Math.PI / TMax)) / 2;
            else
                lrs[i] = (1 + Math.Cos(Math.PI * e / TMax)) / (1 + Math.Cos(Math.PI * (e - 1) / TMax)) * (lrs[i] - EtaMin) + EtaMin;
        }
        return lrs;
    }
}

/// <summary>
/// The 1cycle policy (Smith and Topin; PyTorch's <c>OneCycleLR</c>), stepped once per batch: the learning
/// rate rises from max_lr/div_factor to max_lr over the first pct_start of total_steps, then anneals to
/// initial_lr/final_div_factor (three_phase: back to the initial lr first, then down to the minimum).
/// With cycle_momentum the momentum (SGD/RMSprop "momentum", Adam's "beta1") moves inversely between
/// max_momentum and base_momentum. Stores "initial_lr", "max_lr", "min_lr" (and "max_momentum",
/// "base_momentum") in each group.
/// </summary>
public sealed class OneCycleLR : LRScheduler
{
    private readonly (double End, string StartLr, string EndLr, string StartM, string EndM)[] _phases;
    private readonly bool _useBeta1;

    /// <summary>Creates the scheduler with one maximum learning rate for all groups; see the other constructor.</summary>
    public OneCycleLR(Optimizer optimizer, double maxLr, int? totalSteps = null, int? epochs = null, int? stepsPerEpoch = null,
        double pctStart = 0.3, string annealStrategy = "cos", bool cycleMomentum = true, double baseMomentum = 0.85,
        double maxMomentum = 0.95, double divFactor = 25, double finalDivFactor = 1e4, bool threePhase = false, int lastEpoch = -1)
        : this(optimizer, Enumerable.Repeat(maxLr, optimizer?.ParamGroups.Count ?? 0).ToArray(), totalSteps, epochs, stepsPerEpoch,
            pctStart, annealStrategy, cycleMomentum, baseMomentum, maxMomentum, divFactor, finalDivFactor, threePhase, lastEpoch) { }

    /// <summary>Creates the scheduler and sets the learning rates (and momenta) for step 0.</summary>
    /// <param name="optimizer">The optimizer to drive.</param>
    /// <param name="maxLr">The peak learning rate of each group.</param>
    /// <param name="totalSteps">Total number of steps in the cycle; or give <paramref name="epochs"/> and <paramref name="stepsPerEpoch"/>.</param>
    /// <param name="epochs">Number of epochs (with <paramref name="stepsPerEpoch"/>).</param>
    /// <param name="stepsPerEpoch">Steps per epoch (with <paramref name="epochs"/>).</param>
    /// <param name="pctStart">Fraction of the cycle spent increasing the learning rate, in [0, 1].</param>
    /// <param name="annealStrategy">"cos" or "linear".</param>
    /// <param name="cycleMomentum">Cycle the momentum inversely to the learning rate.</param>
    /// <param name="baseMomentum">Lowest momentum (at the peak learning rate).</param>
    /// <param name="maxMomentum">Highest momentum (at the start and end).</param>
    /// <param name="divFactor">initial_lr = max_lr / divFactor.</param>
    /// <param name="finalDivFactor">min_lr = initial_lr / finalDivFactor.</param>
    /// <param name="threePhase">Use three phases (up, back down to initial_lr, then to min_lr) instead of two.</param>
    /// <param name="lastEpoch">Index of the last step when resuming; -1 to start fresh.</param>
    public OneCycleLR(Optimizer optimizer, IReadOnlyList<double> maxLr, int? totalSteps = null, int? epochs = null, int? stepsPerEpoch = null,
        double pctStart = 0.3, string annealStrategy = "cos", bool cycleMomentum = true, double baseMomentum = 0.85,
        double maxMomentum = 0.95, double divFactor = 25, double finalDivFactor = 1e4, bool threePhase = false, int lastEpoch = -1)
        : base(optimizer, lastEpoch)
    {
        ArgumentNullException.ThrowIfNull(maxLr);
        if (totalSteps is { } ts)
        {
            if (ts <= 0) throw new ArgumentOutOfRangeException(nameof(totalSteps), ts, "OneCycleLR: totalSteps must be a positive integer.");
            TotalSteps = ts;
        }
        else if (epochs is { } ep && stepsPerEpoch is { } spe)
        {
            if (ep <= 0) throw new ArgumentOutOfRangeException(nameof(epochs), ep, "OneCycleLR: epochs must be a positive integer.");
            if (spe <= 0) throw new ArgumentOutOfRangeException(nameof(stepsPerEpoch), spe, "OneCycleLR: stepsPerEpoch must be a positive integer.");
            TotalSteps = checked(ep * spe);
        }
        else throw new ArgumentException("OneCycleLR: give either totalSteps, or both epochs and stepsPerEpoch.");
        if (!(pctStart >= 0 && pctStart <= 1))
            throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, "OneCycleLR: pctStart must be between 0 and 1.");
        Anneal = annealStrategy switch
        {
            "cos" => static (start, end, pct) => end + (start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1),
            "linear" => static (start, end, pct) => (end - start) * pct + start,
            _ => throw new ArgumentException($"OneCycleLR: annealStrategy must be \"cos\" or \"linear\", got \"{annealStrategy}\".", nameof(annealStrategy)),
        };
        if (!(divFactor > 0) || !(finalDivFactor > 0))
            throw new ArgumentOutOfRangeException(nameof(divFactor), "OneCycleLR: divFactor and finalDivFactor must be positive.");
        double total = TotalSteps;
        _phases = threePhase
            ? [(pctStart * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
               (2 * pctStart * total - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
               (total - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
            : [(pctStart * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
               (total - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")];

        var groups = optimizer.ParamGroups;
        if (maxLr.Count != groups.Count)
            throw new ArgumentException($"OneCycleLR: expected {groups.Count} values for maxLr (one per parameter group), got {maxLr.Count}.", nameof(maxLr));
        for (int i = 0; i < maxLr.Count; i++)
            if (!double.IsFinite(maxLr[i]) || maxLr[i] < 0)
                throw new ArgumentOutOfRangeException(nameof(maxLr), maxLr[i], $"OneCycleLR: maxLr of group {i} must be a finite number >= 0.");
        if (lastEpoch == -1)
            for (int i = 0; i < groups.Count; i++)
            {
                var o = groups[i].RawOptions;
                o["initial_lr"] = maxLr[i] / divFactor;
                o["max_lr"] = maxLr[i];
                o["min_lr"] = o["initial_lr"] / finalDivFactor;
            }

        CycleMomentum = cycleMomentum;
        if (cycleMomentum)
        {
            var defaults = optimizer.Defaults;
            if (!defaults.ContainsKey("momentum") && !defaults.ContainsKey("beta1"))
                throw new ArgumentException($"OneCycleLR: {optimizer.Name} has no momentum to cycle; pass cycleMomentum: false.");
            _useBeta1 = defaults.ContainsKey("beta1");
            if (lastEpoch == -1)
                foreach (var g in groups)
                {
                    g[_useBeta1 ? "beta1" : "momentum"] = maxMomentum;  // checked by the optimizer
                    g.RawOptions["max_momentum"] = maxMomentum;
                    g.RawOptions["base_momentum"] = baseMomentum;
                }
        }
        Initialize();
    }

    /// <summary>Total number of steps in the cycle.</summary>
    public int TotalSteps { get; }

    /// <summary>Whether the momentum is cycled.</summary>
    public bool CycleMomentum { get; }

    private Func<double, double, double, double> Anneal { get; }

    private protected override double[] ComputeLr()
    {
        int stepNum = LastEpoch;
        if (stepNum > TotalSteps)
            throw new InvalidOperationException($"OneCycleLR: tried to step {stepNum} times, but the schedule has totalSteps = {TotalSteps}; create the scheduler with a larger totalSteps (or epochs × stepsPerEpoch).");
        var groups = Optimizer.ParamGroups;
        var lrs = new double[groups.Count];
        for (int gi = 0; gi < groups.Count; gi++)
        {
            var o = groups[gi].RawOptions;
            double start = 0;
            for (int i = 0; i < _phases.Length; i++)
            {
                var ph = _phases[i];
                if (stepNum <= ph.End || i == _phases.Length - 1)
                {
                    double pct = (stepNum - start) / (ph.End - start);
                    lrs[gi] = Anneal(o[ph.StartLr], o[ph.EndLr], pct);
                    if (CycleMomentum)
                        o[_useBeta1 ? "beta1" : "momentum"] = Anneal(o[ph.StartM], o[ph.EndM], pct);
                    break;
                }
                start = ph.End;
            }
        }
        return lrs;
    }
}
