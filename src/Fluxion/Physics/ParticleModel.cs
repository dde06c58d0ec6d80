using Fluxion.Nn;

namespace Fluxion.Physics;

/// <summary>The result of one <see cref="ParticleModel.Simulate"/> call.</summary>
/// <param name="Simulation">The simulation that ran (particle order: marbles, nodes, eaters).</param>
/// <param name="State">The final state [n, 4D + 1] (differentiable in the model's parameters).</param>
/// <param name="Marbles">Number of marbles placed from the image.</param>
/// <param name="EatenPerEater">Marbles eaten by each eater (the model's output).</param>
public sealed record ParticleRun(ParticleSimulation Simulation, Tensor State, int Marbles, int[] EatenPerEater);

/// <summary>
/// A trainable particle system in the plane: an image becomes a grid of marbles (mass = pixel value, zero
/// pixels skipped, at rest), trainable nodes (initial positions, velocities, masses, stiffness and
/// attraction multipliers: parameters) shape the field, and fixed eaters (one per class, on a circle of
/// radius 1.5) count the marbles that reach them. Each <see cref="Simulate"/> call builds a fresh state
/// from the parameters (nothing is modified in place), so optimizer steps between runs are always safe.
/// Marbles and eaters have multipliers s = 0, a = 1; call <see cref="ClampMultipliers"/> after each
/// optimizer step to keep the nodes' multipliers in [0, 1].
/// </summary>
public sealed class ParticleModel : Module
{
    /// <summary>Nodes' initial positions [nodes, 2].</summary>
    public Parameter NodePositions { get; }

    /// <summary>Nodes' initial velocities [nodes, 2].</summary>
    public Parameter NodeVelocities { get; }

    /// <summary>Nodes' masses [nodes].</summary>
    public Parameter NodeMasses { get; }

    /// <summary>Nodes' stiffness multipliers [nodes, 3] (by the other particle's kind).</summary>
    public Parameter NodeStiffness { get; }

    /// <summary>Nodes' attraction multipliers [nodes, 3] (by the other particle's kind).</summary>
    public Parameter NodeAttraction { get; }

    /// <summary>Number of eaters (classes).</summary>
    public int Eaters { get; }

    /// <summary>Integration steps per run.</summary>
    public int Steps { get; }

    private readonly double _dt, _radius;
    private readonly ForceSpec _force;
    private readonly Integrator _integrator;

    /// <summary>A model with <paramref name="nodes"/> nodes (random initial positions in [−1, 1]², mass 1) and
    /// <paramref name="eaters"/> eaters of the given radius.</summary>
    public ParticleModel(int nodes, int eaters, int steps = 20, double dt = 0.05, double eaterRadius = 0.3, ForceSpec? force = null,
        Integrator integrator = Integrator.Beeman, Generator? generator = null)
    {
        if (nodes < 1 || eaters < 1) throw new ArgumentException($"ParticleModel: need at least one node and one eater, got {nodes} and {eaters}.");
        Eaters = eaters;
        Steps = steps;
        _dt = dt;
        _radius = eaterRadius;
        _force = force ?? new ForceSpec(ForceLaw.Gratan, K: 1, Softening: 0.05);
        _integrator = integrator;
        var dt64 = DType.Float64;
        NodePositions = AddParameter("node_positions", Tensor.Uniform([nodes, 2], -1, 1, dt64, generator));
        NodeVelocities = AddParameter("node_velocities", Tensor.Zeros([nodes, 2], dt64));
        NodeMasses = AddParameter("node_masses", Tensor.Ones([nodes], dt64));
        NodeStiffness = AddParameter("node_stiffness", Tensor.Full([nodes, 3], 0.1, dt64));
        NodeAttraction = AddParameter("node_attraction", Tensor.Full([nodes, 3], 0.9, dt64));
    }

    /// <summary>Clamps the multipliers into [0, 1] (in place, without recording).</summary>
    public void ClampMultipliers()
    {
        using var _ = Autograd.NoGrad();
        NodeStiffness.ClampInPlace(0, 1);
        NodeAttraction.ClampInPlace(0, 1);
    }

    /// <summary>Positions of the eaters: evenly on a circle of radius 1.5.</summary>
    public double[] EaterPositions()
    {
        var p = new double[2 * Eaters];
        for (int e = 0; e < Eaters; e++)
        {
            double t = 2 * Math.PI * e / Eaters;
            (p[2 * e], p[2 * e + 1]) = (1.5 * Math.Cos(t), 1.5 * Math.Sin(t));
        }
        return p;
    }

    /// <summary>
    /// The input placer: pixel (r, c) of an [H, W] image with value v ≠ 0 becomes a marble of mass v at
    /// ((c + ½)/W · 2 − 1, 1 − (r + ½)/H · 2) in [−1, 1]². Returns positions [marbles, 2] and masses [marbles].
    /// </summary>
    public static (Tensor Positions, Tensor Masses) PlaceMarbles(Tensor image)
    {
        if (image.Shape.Length != 2)
            throw new ShapeMismatchException($"ParticleModel.PlaceMarbles: expected an image [H, W], got {ShapeUtil.Format(image.Shape)}.");
        int h = image.Shape[0], w = image.Shape[1];
        var px = image.ToDoubleArray();
        var pos = new List<double>();
        var mass = new List<double>();
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                double v = px[r * w + c];
                if (v == 0) continue;
                pos.Add((c + 0.5) / w * 2 - 1);
                pos.Add(1 - (r + 0.5) / h * 2);
                mass.Add(v);
            }
        return (Tensor.FromArray(pos.ToArray(), mass.Count, 2), Tensor.FromArray(mass.ToArray(), mass.Count));
    }

    /// <summary>Places the image's marbles, runs <see cref="Steps"/> checkpointed steps and counts the eaten marbles.</summary>
    public ParticleRun Simulate(Tensor image)
    {
        var (mp, mm) = PlaceMarbles(image);
        int nm = mm.Shape[0], nn = NodeMasses.Shape[0], ne = Eaters, n = nm + nn + ne;
        var kinds = Enumerable.Repeat(ParticleKind.Marble, nm).Concat(Enumerable.Repeat(ParticleKind.Node, nn)).Concat(Enumerable.Repeat(ParticleKind.Eater, ne)).ToArray();
        var radius = kinds.Select(k => k == ParticleKind.Eater ? _radius : 0.0).ToArray();
        var fixedP = kinds.Select(k => k == ParticleKind.Eater).ToArray();
        var sim = new ParticleSimulation(kinds, 2, _dt, _force, _integrator, radius, fixedP);
        var ep = Tensor.FromArray(EaterPositions(), ne, 2);
        var x = Tensor.Cat([mp, NodePositions, ep], 0);
        var v = Tensor.Cat([Tensor.Zeros([nm, 2], DType.Float64), NodeVelocities, Tensor.Zeros([ne, 2], DType.Float64)], 0);
        var m = Tensor.Cat([mm, NodeMasses, Tensor.Ones([ne], DType.Float64)], 0);
        var s = Tensor.Cat([Tensor.Zeros([nm, 3], DType.Float64), NodeStiffness, Tensor.Zeros([ne, 3], DType.Float64)], 0);
        var a = Tensor.Cat([Tensor.Ones([nm, 3], DType.Float64), NodeAttraction, Tensor.Ones([ne, 3], DType.Float64)], 0);
        var state = sim.Run(x, v, m, s, a, Steps);
        var counts = sim.EatenCounts(state);
        return new ParticleRun(sim, state, nm, counts.Skip(nm + nn).ToArray());
    }

    /// <summary>The eaten counts per eater as a tensor [eaters] (not differentiable).</summary>
    public override Tensor Forward(Tensor input) => Tensor.FromArray(Simulate(input).EatenPerEater.Select(c => (double)c).ToArray(), Eaters);

    /// <summary>
    /// The predicted class of a run: the eater that ate the most marbles; a tie (e.g. no marble eaten)
    /// goes to the tied eater whose closest live (uneaten) marble is nearest to it.
    /// </summary>
    public int Predict(ParticleRun run)
    {
        int max = run.EatenPerEater.Max();
        var tied = Enumerable.Range(0, Eaters).Where(e => run.EatenPerEater[e] == max).ToArray();
        if (tied.Length == 1) return tied[0];
        var sim = run.Simulation;
        var x = sim.Positions(run.State).Detach().ToDoubleArray();
        var eatenBy = sim.EatenBy(run.State);
        var ep = EaterPositions();
        int best = tied[0];
        double bestD = double.PositiveInfinity;
        foreach (int e in tied)
            for (int i = 0; i < run.Marbles; i++)
            {
                if (eatenBy[i] >= 0) continue;
                double dx = x[2 * i] - ep[2 * e], dy = x[2 * i + 1] - ep[2 * e + 1], d = dx * dx + dy * dy;
                if (d < bestD) (best, bestD) = (e, d);
            }
        return best;
    }

    /// <summary>
    /// A differentiable loss for class <paramref name="target"/>: the squared distance from the target eater
    /// of the live marble closest to it (at x + μ v, a velocity look-ahead), plus, for each marble eaten by
    /// a wrong eater, 2·radius − its distance from that eater's centre (between radius and 2·radius: every
    /// wrong meal costs at least the radius, so grazing a wrong eater is not free, and the deeper the more;
    /// the gradient pushes the marble's path outwards). Zero when the target ate
    /// every marble.
    /// <para>With a <paramref name="margin"/> the loss is also contrastive, matching the closest-marble rule of
    /// <see cref="Predict"/>: for each other eater e with a live marble, max(0, margin + d_target² − d_e²),
    /// where d_e is the distance of eater e's closest live marble (at the look-ahead). Without it, spraying
    /// marbles towards every eater would minimize the loss of every class at once.</para>
    /// </summary>
    public Tensor Loss(ParticleRun run, int target, double mu = 0, double? margin = null)
    {
        if (target < 0 || target >= Eaters) throw new ArgumentOutOfRangeException(nameof(target), $"ParticleModel.Loss: target {target} is not an eater index in [0, {Eaters}).");
        var sim = run.Simulation;
        int n = sim.Count, firstEater = n - Eaters;
        var x = sim.Positions(run.State);
        var look = mu == 0 ? x : x + mu * sim.Velocities(run.State);
        var eatenBy = sim.EatenBy(run.State);
        var xv = look.Detach().ToDoubleArray();
        var te = Tensor.FromArray(EaterPositions(), Eaters, 2).Select(0, target);
        int best = -1;
        double bestD = double.PositiveInfinity;
        var terms = new List<Tensor>();
        for (int i = 0; i < run.Marbles; i++)
        {
            int e = eatenBy[i];
            if (e < 0)
            {
                double dx = xv[2 * i] - te.Get(0), dy = xv[2 * i + 1] - te.Get(1), d = dx * dx + dy * dy;
                if (d < bestD) (best, bestD) = (i, d);
            }
            else if (e != firstEater + target)
            {
                var ex = x.Select(0, e).Detach();
                terms.Add(2 * sim.EaterRadius(e) - ((x.Select(0, i) - ex).Square().Sum() + 1e-12).Sqrt());
            }
        }
        if (best >= 0)
        {
            var dt = (look.Select(0, best) - te).Square().Sum();
            terms.Add(dt);
            if (margin is { } mg)
                for (int o = 0; o < Eaters; o++)
                {
                    if (o == target) continue;
                    var oe = Tensor.FromArray(EaterPositions(), Eaters, 2).Select(0, o);
                    var op = oe.ToDoubleArray();
                    int ob = -1;
                    double od = double.PositiveInfinity;
                    for (int i = 0; i < run.Marbles; i++)
                    {
                        if (eatenBy[i] >= 0) continue;
                        double dx = xv[2 * i] - op[0], dy = xv[2 * i + 1] - op[1], d = dx * dx + dy * dy;
                        if (d < od) (ob, od) = (i, d);
                    }
                    if (mg + bestD - od > 0) terms.Add(mg + dt - (look.Select(0, ob) - oe).Square().Sum());
                }
        }
        return terms.Count == 0 ? (x.Sum() * 0.0) : Tensor.Stack(terms.ToArray()).Sum();
    }
}
