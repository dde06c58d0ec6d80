using System.Diagnostics;

namespace Fluxion;

/// <summary>
/// A memory plan for a traced graph (issue 20: "a model — a Sequential, or a traced graph"): a training step compiled
/// as a joint forward+backward graph (<see cref="Functional.Compile(Func{Tensor[], Tensor[]}, CompileOptions?)"/>) whose
/// activation-memory planner keeps forward values within the byte budget and recomputes the others in the backward
/// (store or recompute per value, cheap ops first; see <see cref="ActivationPlan"/>). Made by
/// <see cref="MemoryPlan.Create(Func{Tensor[], Tensor[]}, Tensor[], long)"/>.
/// </summary>
public sealed class GraphMemoryPlan
{
    internal GraphMemoryPlan(CompiledFunction step, CompiledGraph graph)
    {
        Step = step;
        Graph = graph;
    }

    /// <summary>The compiled step: call it as the original step (it writes the same gradients).</summary>
    public CompiledFunction Step { get; }

    /// <summary>The planned graph.</summary>
    public CompiledGraph Graph { get; }

    /// <summary>What the planner kept and recomputed (bytes kept against the budget and against storing all).</summary>
    public ActivationPlan Activations => Graph.Activations!;

    /// <summary>The budget for the kept activations, in bytes.</summary>
    public long BudgetBytes => Activations.BudgetBytes;

    /// <summary>Whether the kept activations fit the budget.</summary>
    public bool FitsBudget => Activations.FitsBudget;

    /// <summary>The predicted peak of a replay (arena plus live intermediates, known before it runs).</summary>
    public long PredictedPeakBytes => Graph.Stats.PredictedPeakBytes;

    /// <summary>Replays the step once on <paramref name="inputs"/> and reports the replay's peak
    /// (<see cref="CompiledGraph.MeasurePeakBytes"/>), the wall time of a replay that writes the gradients, and the kept activation bytes.</summary>
    public MemoryPlanMeasurement Measure(params Tensor[] inputs)
    {
        long peak = Graph.MeasurePeakBytes(inputs);
        var sw = Stopwatch.StartNew();
        Step.Invoke(inputs);
        sw.Stop();
        return new MemoryPlanMeasurement(peak, sw.Elapsed.TotalSeconds, Activations.SavedBytes);
    }

    /// <summary>The plan on one line.</summary>
    public override string ToString() => $"GraphMemoryPlan: {Activations}; predicted peak {PredictedPeakBytes} B";
}

public sealed partial class MemoryPlan
{
    /// <summary>
    /// Plans a traced graph: compiles <paramref name="step"/> (a function that runs a forward pass and calls
    /// <c>Backward</c> or <c>Autograd.Grad</c>) with the activation-memory planner at <paramref name="budgetBytes"/>
    /// (bytes of forward values the backward may keep; see <see cref="CompileOptions.ActivationBudgetBytes"/>) and
    /// traces it on <paramref name="sample"/>: the step runs twice, as eager does (trace, then the check that the graph
    /// does not depend on the values), so gradients accumulate as two eager calls would write them.
    /// </summary>
    public static GraphMemoryPlan Create(Func<Tensor[], Tensor[]> step, Tensor[] sample, long budgetBytes)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(sample);
        if (budgetBytes < 0) throw new ArgumentException($"MemoryPlan.Create: the budget must be >= 0 bytes, got {budgetBytes}.", nameof(budgetBytes));
        var compiled = Functional.Compile(step, new CompileOptions { ActivationBudgetBytes = budgetBytes });
        compiled.Invoke(sample);
        compiled.Invoke(sample);
        var g = compiled.LastGraph!;
        if (g.Activations is null)
            throw new CompileException("MemoryPlan.Create: the step ran no backward pass, so its graph has no activations to plan; call loss.Backward() (or Autograd.Grad) inside the step.");
        return new GraphMemoryPlan(compiled, g);
    }
}
