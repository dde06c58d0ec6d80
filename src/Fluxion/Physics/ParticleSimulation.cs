namespace Fluxion.Physics;

/// <summary>The time integrator of a <see cref="ParticleSimulation"/>.</summary>
public enum Integrator
{
    /// <summary>Beeman's method: x₊ = x + h v + h²/6 (4a − a₋), v₊ = v + h/12 (5a₊ + 8a − a₋).</summary>
    Beeman,
    /// <summary>Velocity Verlet: x₊ = x + h v + h²/2 a, v₊ = v + h/2 (a + a₊).</summary>
    VelocityVerlet,
}

/// <summary>
/// A differentiable particle system in R^D. Particles have a <see cref="ParticleKind"/>, a mass (tensor
/// [n]), stiffness multipliers s [n, 3] and attraction multipliers a [n, 3] indexed by the other particle's
/// kind; the force on i is Σ_{j≠i} (1 − s[i, kind_j]) · a[j, kind_i] · f(m_i, m_j, r_ij) · (x_j − x_i) / r_ij
/// (fused: see <see cref="ForceSpec"/>), and its acceleration F_i / |m_i|. A marble within an eater's radius
/// is removed (it neither exerts nor feels force afterwards and stays where it was eaten) and counted
/// for that eater.
/// <para>The whole state is one tensor [n, 4D + 1]: positions, velocities, current and previous
/// accelerations, and a tag column (0 = alive, e + 1 = eaten by particle e; not differentiable). Steps are
/// pure functions of the state, so <see cref="Run"/> checkpoints them (<see cref="Checkpoint.Sequential"/>):
/// T steps keep O(√T) states for the backward pass, and each step's forces use O(n) memory.</para>
/// </summary>
public sealed class ParticleSimulation
{
    private readonly int[] _kinds;
    private readonly double[] _radius;
    private readonly bool[] _fixed;
    private readonly int[] _eaters; // indices of the eaters, in order

    /// <summary>Number of particles.</summary>
    public int Count => _kinds.Length;

    /// <summary>Dimension D of the space.</summary>
    public int Dim { get; }

    /// <summary>The force law.</summary>
    public ForceSpec Force { get; }

    /// <summary>The time integrator.</summary>
    public Integrator Integrator { get; }

    /// <summary>The time step h.</summary>
    public double Dt { get; }

    /// <summary>
    /// A system of particles of the given kinds. <paramref name="eaterRadius"/> gives each eater's radius
    /// (indexed by particle; ignored for other kinds; null = 0.5). <paramref name="fixedParticles"/> marks
    /// particles that never move (their acceleration is zero).
    /// </summary>
    public ParticleSimulation(IReadOnlyList<ParticleKind> kinds, int dim, double dt, ForceSpec? force = null, Integrator integrator = Integrator.Beeman,
        IReadOnlyList<double>? eaterRadius = null, IReadOnlyList<bool>? fixedParticles = null)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        if (dim < 1) throw new ArgumentOutOfRangeException(nameof(dim), $"ParticleSimulation: dim must be at least 1, got {dim}.");
        if (!(dt > 0)) throw new ArgumentOutOfRangeException(nameof(dt), $"ParticleSimulation: dt must be positive, got {dt}.");
        int n = kinds.Count;
        if (eaterRadius is not null && eaterRadius.Count != n)
            throw new ArgumentException($"ParticleSimulation: eaterRadius has {eaterRadius.Count} entries for {n} particles.", nameof(eaterRadius));
        if (fixedParticles is not null && fixedParticles.Count != n)
            throw new ArgumentException($"ParticleSimulation: fixedParticles has {fixedParticles.Count} entries for {n} particles.", nameof(fixedParticles));
        _kinds = kinds.Select(k => (int)k).ToArray();
        _radius = Enumerable.Range(0, n).Select(i => kinds[i] == ParticleKind.Eater ? eaterRadius?[i] ?? 0.5 : 0.0).ToArray();
        _fixed = Enumerable.Range(0, n).Select(i => fixedParticles?[i] ?? false).ToArray();
        _eaters = Enumerable.Range(0, n).Where(i => _kinds[i] == (int)ParticleKind.Eater).ToArray();
        Dim = dim;
        Dt = dt;
        Force = force ?? new ForceSpec();
        Integrator = integrator;
    }

    /// <summary>Number of kinds (columns of the multiplier tensors).</summary>
    public const int KindCount = 3;

    /// <summary>Width of the state tensor: 4D + 1.</summary>
    public int StateWidth => 4 * Dim + 1;

    private void CheckParams(Tensor m, Tensor s, Tensor a)
    {
        int n = Count;
        if (m.Shape.Length != 1 || m.Shape[0] != n)
            throw new ShapeMismatchException($"ParticleSimulation: masses must have shape [{n}], got {ShapeUtil.Format(m.Shape)}.");
        if (s.Shape.Length != 2 || s.Shape[0] != n || s.Shape[1] != KindCount || a.Shape.Length != 2 || a.Shape[0] != n || a.Shape[1] != KindCount)
            throw new ShapeMismatchException($"ParticleSimulation: stiffness and attraction multipliers must have shape [{n}, {KindCount}], got {ShapeUtil.Format(s.Shape)} and {ShapeUtil.Format(a.Shape)}.");
    }

    /// <summary>
    /// Accelerations [n, D] = F / |m| at positions x [n, D] (fused forces). Particles not alive get none,
    /// fixed ones get zero. A zero mass of a live particle raises an <see cref="ArgumentException"/>.
    /// </summary>
    public Tensor Acceleration(Tensor x, Tensor m, Tensor s, Tensor a, bool[]? alive = null)
    {
        CheckParams(m, s, a);
        var mv = m.ToDoubleArray();
        for (int i = 0; i < mv.Length; i++)
            if (mv[i] == 0 && (alive is null || alive[i]))
                throw new ArgumentException($"ParticleSimulation: particle {i} ({(ParticleKind)_kinds[i]}) has mass 0; its acceleration F/|m| is undefined. Give every particle a non-zero mass.", nameof(m));
        var f = PairForces.Apply(_kinds, alive, Force, x, m, s, a);
        var acc = f / m.Abs().Unsqueeze(1);
        if (_fixed.Any(b => b) || alive is not null)
        {
            var mob = new double[Count];
            for (int i = 0; i < Count; i++) mob[i] = _fixed[i] || (alive is not null && !alive[i]) ? 0 : 1;
            acc = acc * Tensor.FromDoubles(mob, [Count, 1], acc.DType);
        }
        return acc;
    }

    /// <summary>The initial state [n, 4D + 1] from positions and velocities [n, D] (a₋ = a₀, all alive).</summary>
    public Tensor InitialState(Tensor x, Tensor v, Tensor m, Tensor s, Tensor a)
    {
        if (x.Shape.Length != 2 || x.Shape[0] != Count || x.Shape[1] != Dim || !x.Shape.SequenceEqual(v.Shape))
            throw new ShapeMismatchException($"ParticleSimulation: positions and velocities must have shape [{Count}, {Dim}], got {ShapeUtil.Format(x.Shape)} and {ShapeUtil.Format(v.Shape)}.");
        var acc = Acceleration(x, m, s, a);
        return Tensor.Cat([x, v, acc, acc, Tensor.Zeros([Count, 1], x.DType)], 1);
    }

    /// <summary>Positions [n, D] of a state.</summary>
    public Tensor Positions(Tensor state) => state.Narrow(1, 0, Dim);

    /// <summary>Velocities [n, D] of a state.</summary>
    public Tensor Velocities(Tensor state) => state.Narrow(1, Dim, Dim);

    /// <summary>For each particle, the index of the eater that ate it, or −1.</summary>
    public int[] EatenBy(Tensor state) => state.Narrow(1, 4 * Dim, 1).ToDoubleArray().Select(t => (int)Math.Round(t) - 1).ToArray();

    /// <summary>Marbles eaten per particle (non-zero only for eaters).</summary>
    public int[] EatenCounts(Tensor state)
    {
        var c = new int[Count];
        foreach (var e in EatenBy(state)) if (e >= 0) c[e]++;
        return c;
    }

    /// <summary>The displacement with the rows of removed (eaten) particles zeroed: they stay where they were eaten.</summary>
    private Tensor Frozen(Tensor dx, bool[] alive)
    {
        if (alive.All(b => b)) return dx;
        return dx * Tensor.FromDoubles(alive.Select(b => b ? 1.0 : 0.0).ToArray(), [Count, 1], dx.DType);
    }

    /// <summary>The radius of particle <paramref name="i"/> if it is an eater, else 0.</summary>
    public double EaterRadius(int i) => _radius[i];

    /// <summary>One integration step of the state [n, 4D + 1]; then marbles within an eater's radius are removed.</summary>
    public Tensor Step(Tensor state, Tensor m, Tensor s, Tensor a)
    {
        int d = Dim;
        double h = Dt;
        var x = state.Narrow(1, 0, d);
        var v = state.Narrow(1, d, d);
        var acc = state.Narrow(1, 2 * d, d);
        var prev = state.Narrow(1, 3 * d, d);
        var tagCol = state.Narrow(1, 4 * d, 1);
        var tag = tagCol.Detach().ToDoubleArray();
        var alive = tag.Select(t => t == 0).ToArray();
        Tensor x1, v1, a1;
        if (Integrator == Integrator.Beeman)
        {
            x1 = x + Frozen(h * v + (h * h / 6) * (4 * acc - prev), alive);
            a1 = Acceleration(x1, m, s, a, alive);
            v1 = v + (h / 12) * (5 * a1 + 8 * acc - prev);
        }
        else
        {
            x1 = x + Frozen(h * v + (h * h / 2) * acc, alive);
            a1 = Acceleration(x1, m, s, a, alive);
            v1 = v + (h / 2) * (acc + a1);
        }
        // eating (a discrete, non-differentiable decision made on the values)
        var xv = x1.Detach().ToDoubleArray();
        bool changed = false;
        for (int i = 0; i < Count; i++)
        {
            if (_kinds[i] != (int)ParticleKind.Marble || !alive[i]) continue;
            foreach (int e in _eaters)
            {
                if (!alive[e]) continue;
                double r2 = 0;
                for (int k = 0; k < d; k++) { double t = xv[i * d + k] - xv[e * d + k]; r2 += t * t; }
                if (r2 < _radius[e] * _radius[e]) { tag[i] = e + 1; changed = true; break; }
            }
        }
        var newTag = changed ? Tensor.FromDoubles(tag, [Count, 1], state.DType) : tagCol.Detach();
        return Tensor.Cat([x1, v1, a1, acc, newTag], 1);
    }

    /// <summary>
    /// Runs <paramref name="steps"/> steps from positions x and velocities v [n, D] and returns the final
    /// state. With <paramref name="checkpoint"/> the steps are checkpointed in ⌈√T⌉ segments (memory
    /// O(√T · n) for the backward pass, at the cost of one recomputation of each step); with
    /// <paramref name="snapshots"/> instead by the binomial schedule of <see cref="Checkpoint.Loop(Func{Tensor, Tensor}, Tensor, int, int, LoopStats?)"/>
    /// (that many states and one step's graph kept, the fewest step evaluations for that memory).
    /// </summary>
    public Tensor Run(Tensor x, Tensor v, Tensor m, Tensor s, Tensor a, int steps, bool checkpoint = true, int? snapshots = null)
    {
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), $"ParticleSimulation.Run: steps must be ≥ 0, got {steps}.");
        return Continue(InitialState(x, v, m, s, a), m, s, a, steps, checkpoint, snapshots);
    }

    /// <summary>
    /// Runs from a state [n, 4D + 1] until a marble is eaten (a marble that was alive at the start is
    /// removed by an eater) or <paramref name="maxSteps"/> steps ran; the length is known only when the
    /// run ends, so the steps are checkpointed online (<see cref="Checkpoint.LoopUntil"/>) keeping at
    /// most <paramref name="snapshots"/> states. Returns the final state and the number of steps run.
    /// </summary>
    public (Tensor State, int Steps) ContinueUntilEaten(Tensor state, Tensor m, Tensor s, Tensor a, int maxSteps, int snapshots, LoopStats? stats = null)
    {
        CheckState(state, "ContinueUntilEaten");
        int eaten0 = EatenBy(state).Count(e => e >= 0);
        stats ??= new LoopStats();
        var end = Checkpoint.LoopUntil(st => Step(st, m, s, a), state, (st, _) => EatenBy(st).Count(e => e >= 0) > eaten0, snapshots, maxSteps, stats);
        return (end, stats.Steps);
    }

    private void CheckState(Tensor state, string what)
    {
        if (state.Shape.Length != 2 || state.Shape[0] != Count || state.Shape[1] != StateWidth)
            throw new ShapeMismatchException($"ParticleSimulation.{what}: expected a state [{Count}, {StateWidth}], got {ShapeUtil.Format(state.Shape)}.");
    }

    /// <summary>
    /// Runs <paramref name="steps"/> more steps from a state [n, 4D + 1] (e.g. one returned by
    /// <see cref="Run"/> or <see cref="Emit"/>), checkpointed as in <see cref="Run"/>.
    /// </summary>
    public Tensor Continue(Tensor state, Tensor m, Tensor s, Tensor a, int steps, bool checkpoint = true, int? snapshots = null)
    {
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), $"ParticleSimulation.Continue: steps must be ≥ 0, got {steps}.");
        if (state.Shape.Length != 2 || state.Shape[0] != Count || state.Shape[1] != StateWidth)
            throw new ShapeMismatchException($"ParticleSimulation.Continue: expected a state [{Count}, {StateWidth}], got {ShapeUtil.Format(state.Shape)}.");
        if (!checkpoint)
        {
            for (int t = 0; t < steps; t++) state = Step(state, m, s, a);
            return state;
        }
        if (snapshots is { } c) return Checkpoint.Loop(st => Step(st, m, s, a), state, steps, c);
        var fns = Enumerable.Repeat<Func<Tensor, Tensor>>(st => Step(st, m, s, a), steps).ToList();
        return Checkpoint.Sequential(fns, state);
    }

    /// <summary>
    /// Emits (or copies) particles during a run: returns a larger system whose first <see cref="Count"/>
    /// particles are this one's, in order and with their state, followed by one new particle per emission.
    /// A new particle starts at its source's current position plus <see cref="Emission.Offset"/>, with the
    /// source's velocity plus <see cref="Emission.Velocity"/> and mass m_source · <see cref="Emission.MassScale"/>,
    /// and takes the source's multiplier rows. Everything is computed with tensor ops from the source's row
    /// of the state and of m, s, a, so the emitted particle keeps its place in the graph: gradients of
    /// anything it does later flow back through it to its source (and to the offset tensors, which may
    /// require grad). The current accelerations of the new system are recomputed (every particle now also
    /// feels the new ones); a new particle's previous acceleration is its current one. Continue with
    /// <see cref="Continue"/> on the returned simulation.
    /// </summary>
    public EmittedSystem Emit(Tensor state, Tensor m, Tensor s, Tensor a, IReadOnlyList<Emission> emissions)
    {
        ArgumentNullException.ThrowIfNull(emissions);
        CheckParams(m, s, a);
        if (state.Shape.Length != 2 || state.Shape[0] != Count || state.Shape[1] != StateWidth)
            throw new ShapeMismatchException($"ParticleSimulation.Emit: expected a state [{Count}, {StateWidth}], got {ShapeUtil.Format(state.Shape)}.");
        int n = Count, k = emissions.Count, d = Dim;
        if (k == 0) return new EmittedSystem(this, state, m, s, a);
        var tag = state.Narrow(1, 4 * d, 1).Detach().ToDoubleArray();
        var src = new long[k];
        for (int e = 0; e < k; e++)
        {
            var em = emissions[e];
            if (em.Source < 0 || em.Source >= n)
                throw new ArgumentOutOfRangeException(nameof(emissions), $"ParticleSimulation.Emit: emission {e} has source {em.Source}, not a particle index in [0, {n}).");
            if (tag[em.Source] != 0)
                throw new ArgumentException($"ParticleSimulation.Emit: emission {e}: source particle {em.Source} was eaten; only live particles can emit.", nameof(emissions));
            if (em.MassScale == 0 || !double.IsFinite(em.MassScale))
                throw new ArgumentException($"ParticleSimulation.Emit: emission {e} has mass scale {em.MassScale}; the emitted particle needs a finite non-zero mass.", nameof(emissions));
            foreach (var (t, what) in new[] { (em.Offset, "Offset"), (em.Velocity, "Velocity") })
                if (t is not null && (t.Shape.Length != 1 || t.Shape[0] != d))
                    throw new ShapeMismatchException($"ParticleSimulation.Emit: emission {e}: {what} must have shape [{d}], got {ShapeUtil.Format(t.Shape)}.");
            src[e] = em.Source;
        }
        var idx = Tensor.FromArray(src, k);
        var rows = state.IndexSelect(0, idx);                       // [k, 4D + 1], graph-connected to the sources
        Tensor Shift(Tensor block, Func<Emission, Tensor?> pick)
        {
            if (emissions.All(em => pick(em) is null)) return block;
            var shift = Tensor.Stack(emissions.Select(em => pick(em) is { } t ? t.To(block.DType) : Tensor.Zeros([d], block.DType)).ToArray());
            return block + shift;
        }
        var xNew = Shift(rows.Narrow(1, 0, d), em => em.Offset);
        var vNew = Shift(rows.Narrow(1, d, d), em => em.Velocity);
        var scale = Tensor.FromDoubles(emissions.Select(em => em.MassScale).ToArray(), [k], m.DType);
        var m2 = Tensor.Cat([m, m.IndexSelect(0, idx) * scale], 0);
        var s2 = Tensor.Cat([s, s.IndexSelect(0, idx)], 0);
        var a2 = Tensor.Cat([a, a.IndexSelect(0, idx)], 0);
        var kinds = _kinds.Select(c => (ParticleKind)c).Concat(emissions.Select(em => em.Kind)).ToArray();
        var radius = _radius.Concat(emissions.Select(em => em.EaterRadius)).ToArray();
        var fixedP = _fixed.Concat(emissions.Select(em => em.Fixed)).ToArray();
        var sim = new ParticleSimulation(kinds, d, Dt, Force, Integrator, radius, fixedP);
        var x2 = Tensor.Cat([state.Narrow(1, 0, d), xNew], 0);
        var v2 = Tensor.Cat([state.Narrow(1, d, d), vNew], 0);
        var tag2 = Tensor.Cat([state.Narrow(1, 4 * d, 1).Detach(), Tensor.Zeros([k, 1], state.DType)], 0);
        var alive = tag2.ToDoubleArray().Select(t => t == 0).ToArray();
        var acc = sim.Acceleration(x2, m2, s2, a2, alive);
        var prev = Tensor.Cat([state.Narrow(1, 3 * d, d), acc.Narrow(0, n, k)], 0);
        return new EmittedSystem(sim, Tensor.Cat([x2, v2, acc, prev, tag2], 1), m2, s2, a2);
    }
}

/// <summary>One particle emitted (or copied) by <see cref="ParticleSimulation.Emit"/>.</summary>
/// <param name="Source">Index of the live particle it comes from.</param>
/// <param name="Kind">The new particle's kind (the source's kind for a copy).</param>
/// <param name="Offset">Added to the source's position ([D]; may require grad); null = 0 (a copy in place).</param>
/// <param name="Velocity">Added to the source's velocity ([D]; may require grad); null = 0.</param>
/// <param name="MassScale">The new mass is the source's mass times this (non-zero).</param>
/// <param name="EaterRadius">The radius if <paramref name="Kind"/> is <see cref="ParticleKind.Eater"/>.</param>
/// <param name="Fixed">Whether the new particle never moves.</param>
public sealed record Emission(int Source, ParticleKind Kind, Tensor? Offset = null, Tensor? Velocity = null, double MassScale = 1.0,
    double EaterRadius = 0.5, bool Fixed = false);

/// <summary>The result of <see cref="ParticleSimulation.Emit"/>: the larger system, its state and parameters.</summary>
/// <param name="Simulation">The simulation of the old particles followed by the emitted ones.</param>
/// <param name="State">Its state [n + k, 4D + 1].</param>
/// <param name="Masses">Masses [n + k].</param>
/// <param name="Stiffness">Stiffness multipliers [n + k, 3].</param>
/// <param name="Attraction">Attraction multipliers [n + k, 3].</param>
public sealed record EmittedSystem(ParticleSimulation Simulation, Tensor State, Tensor Masses, Tensor Stiffness, Tensor Attraction)
{
    /// <summary>Runs <paramref name="steps"/> more steps of the emitted system (see <see cref="ParticleSimulation.Continue"/>).</summary>
    public Tensor Continue(int steps, bool checkpoint = true) => Simulation.Continue(State, Masses, Stiffness, Attraction, steps, checkpoint);
}
