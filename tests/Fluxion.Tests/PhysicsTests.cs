using Fluxion.Physics;

namespace Fluxion.Tests;

// Particle physics: falling and eating, energy conservation, fused forces against a naive all-pairs
// implementation, gradient checks through checkpointed steps, r = 0 handling and errors.
public class PhysicsTests
{
    private static Tensor Mult(int n, double v) => Tensor.Full([n, ParticleSimulation.KindCount], v, DType.Float64);

    [Fact]
    public void MarbleFallsMonotonicallyAndIsEaten()
    {
        // marble at (3, 0) at rest; node (mass 10) and eater (radius 0.5) fixed at the origin
        var kinds = new[] { ParticleKind.Marble, ParticleKind.Node, ParticleKind.Eater };
        var sim = new ParticleSimulation(kinds, 2, 0.01, integrator: Integrator.Beeman,
            eaterRadius: [0, 0, 0.5], fixedParticles: [false, true, true]);
        var x = Tensor.FromArray(new double[] { 3, 0, 0, 0, 0, 0 }, 3, 2);
        var v = Tensor.Zeros([3, 2], DType.Float64);
        var m = Tensor.FromArray(new double[] { 1, 10, 1 }, 3);
        var (s, a) = (Mult(3, 0), Mult(3, 1));
        using var _ = Autograd.NoGrad();
        var state = sim.InitialState(x, v, m, s, a);
        double last = 3;
        int t = 0;
        for (; t < 2000 && sim.EatenBy(state)[0] < 0; t++)
        {
            state = sim.Step(state, m, s, a);
            var p = sim.Positions(state).ToDoubleArray();
            double dist = Math.Sqrt(p[0] * p[0] + p[1] * p[1]);
            Assert.True(dist < last, $"step {t}: distance {dist} did not decrease from {last}");
            Assert.Equal(0.0, p[1], 12); // stays on the axis
            last = dist;
        }
        Assert.Equal(2, sim.EatenBy(state)[0]);
        Assert.Equal(new[] { 0, 0, 1 }, sim.EatenCounts(state));
        Assert.True(last < 0.5);
        // the node and the eater did not move
        var q = sim.Positions(state).ToDoubleArray();
        Assert.All(q.Skip(2), c => Assert.Equal(0.0, c));
        // once eaten, the marble feels no force and is not counted again
        for (int k = 0; k < 5; k++) state = sim.Step(state, m, s, a);
        Assert.Equal(new[] { 0, 0, 1 }, sim.EatenCounts(state));
        Assert.All(sim.Positions(state).ToDoubleArray(), c => Assert.False(double.IsNaN(c)));
    }

    [Theory]
    [InlineData(Integrator.VelocityVerlet)]
    [InlineData(Integrator.Beeman)]
    public void TwoBodyOrbitConservesEnergy(Integrator integrator)
    {
        // equal masses 1 at distance 1, circular orbit about the centre: v = √(1/2)
        var kinds = new[] { ParticleKind.Node, ParticleKind.Node };
        var sim = new ParticleSimulation(kinds, 2, 0.01, new ForceSpec(ForceLaw.NewtonianGravity, Softening: 0), integrator);
        double w = Math.Sqrt(0.5);
        var x = Tensor.FromArray(new double[] { -0.5, 0, 0.5, 0 }, 2, 2);
        var v = Tensor.FromArray(new double[] { 0, -w, 0, w }, 2, 2);
        var m = Tensor.FromArray(new double[] { 1, 1 }, 2);
        var (s, a) = (Mult(2, 0), Mult(2, 1));
        static double Energy(double[] p, double[] u) =>
            0.5 * (u[0] * u[0] + u[1] * u[1] + u[2] * u[2] + u[3] * u[3]) - 1 / Math.Sqrt(Math.Pow(p[2] - p[0], 2) + Math.Pow(p[3] - p[1], 2));
        using var _ = Autograd.NoGrad();
        var state = sim.InitialState(x, v, m, s, a);
        double e0 = Energy(x.ToDoubleArray(), v.ToDoubleArray()), maxDev = 0;
        for (int t = 0; t < 1000; t++)
        {
            state = sim.Step(state, m, s, a);
            maxDev = Math.Max(maxDev, Math.Abs(Energy(sim.Positions(state).ToDoubleArray(), sim.Velocities(state).ToDoubleArray()) - e0));
        }
        Assert.True(maxDev < 1e-4 * Math.Abs(e0), $"energy drift {maxDev} (E0 = {e0})");
        // still a two-body orbit of radius ~1 (not escaped or collapsed)
        var p = sim.Positions(state).ToDoubleArray();
        Assert.InRange(Math.Sqrt(Math.Pow(p[2] - p[0], 2) + Math.Pow(p[3] - p[1], 2)), 0.99, 1.01);
    }

    /// <summary>The forces of <see cref="ParticleSimulation"/> from primitive ops ([n, n] tensors).</summary>
    private static Tensor NaiveForces(Tensor x, Tensor m, Tensor s, Tensor a, int[] kinds, ForceSpec spec)
    {
        int n = x.Shape[0];
        var kt = Tensor.FromArray(kinds.Select(k => (long)k).ToArray(), n);
        var e = x.Unsqueeze(0) - x.Unsqueeze(1);                                  // [i, j, D] = x_j − x_i
        var r = ((e * e).Sum(2) + spec.Softening * spec.Softening).Sqrt();        // [i, j]
        var offDiag = 1.0 - Tensor.Eye(n, dtype: x.DType);
        r = r + (1.0 - offDiag);                                                 // keep the diagonal finite
        Tensor g = spec.Law switch
        {
            ForceLaw.NewtonianGravity => 1.0 / (r * r),
            ForceLaw.ThresholdGravity => Tensor.Where(r.Lt(spec.Threshold), 1.0 / (r * r), 0.0),
            _ => spec.K * (1.0 - r.Tanh().Abs()),
        };
        var sij = s.IndexSelect(1, kt);            // [i, j] = s[i, kind_j]
        var aij = a.IndexSelect(1, kt).T;          // [i, j] = a[j, kind_i]
        var c = (1.0 - sij) * aij * m.Unsqueeze(1) * m.Unsqueeze(0) * g / r * offDiag;
        return (c.Unsqueeze(2) * e).Sum(1);
    }

    private static Tensor[] RandomSystem(int n, int dim, DType dtype, int seed)
    {
        var g = new Generator(seed);
        return
        [
            Tensor.Uniform([n, dim], -2, 2, dtype, g),
            Tensor.Uniform([n], 0.5, 2, dtype, g),
            Tensor.Uniform([n, 3], 0, 1, dtype, g),
            Tensor.Uniform([n, 3], 0, 1, dtype, g),
        ];
    }

    public static TheoryData<ForceLaw> Laws => [ForceLaw.NewtonianGravity, ForceLaw.ThresholdGravity, ForceLaw.Gratan];

    /// <summary>The number of kinds is the model's: one and two kinds (s and a with 1 or 2 columns) run on the fused
    /// kernels zero-padded, with forces, gradients and tangents as the naive tensor-op forces; more kinds than the
    /// kernels take, or a kind label outside the columns, is a shape error naming the op.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void FusedForcesTakeFewerKinds(int nk)
    {
        int n = 9, dim = 2;
        var kinds = Enumerable.Range(0, n).Select(i => i % nk).ToArray();
        var spec = new ForceSpec(ForceLaw.Gratan, K: 1.5, Softening: 0.05);
        var g = new Generator(11);
        Tensor[] inputs = [Tensor.Uniform([n, dim], -2, 2, DType.Float64, g), Tensor.Uniform([n], 0.5, 2, DType.Float64, g),
            Tensor.Uniform([n, nk], 0, 1, DType.Float64, g), Tensor.Uniform([n, nk], 0, 1, DType.Float64, g)];
        var seed = Tensor.Randn([n, dim], DType.Float64, new Generator(3));
        (double[] F, double[][] G) Eval(Func<Tensor[], Tensor> f)
        {
            var xs = inputs.Select(t => t.Detach().Clone().RequiresGrad_()).ToArray();
            var y = f(xs);
            return (y.ToDoubleArray(), Autograd.Grad([y], xs, [seed]).Select(t => t!.ToDoubleArray()).ToArray());
        }
        var fused = Eval(xs => PairForces.Apply(kinds, null, spec, xs));
        var naive = Eval(xs => NaiveForces(xs[0], xs[1], xs[2], xs[3], kinds, spec));
        TensorAssert.Close(naive.F, fused.F, rtol: 1e-9, atol: 1e-9);
        for (int k = 0; k < 4; k++) TensorAssert.Close(naive.G[k], fused.G[k], rtol: 1e-9, atol: 1e-9, what: $"gradient {k}");
        var tangents = inputs.Select((t, i) => Tensor.Randn(t.ShapeArray, DType.Float64, new Generator(20 + i))).ToArray();
        var (_, tf) = Functional.Jvp(xs => PairForces.Apply(kinds, null, spec, xs), inputs, tangents);
        var (_, tn) = Functional.Jvp(xs => NaiveForces(xs[0], xs[1], xs[2], xs[3], kinds, spec), inputs, tangents);
        TensorAssert.Close(tn, tf, rtol: 1e-9, atol: 1e-9, what: "tangent");

        var wide = Tensor.Uniform([n, 4], 0, 1, DType.Float64, g);
        var e = Assert.Throws<ShapeMismatchException>(() => PairForces.Apply(kinds, null, spec, inputs[0], inputs[1], wide, wide));
        Assert.Contains("PairForces", e.Message);
        var bad = kinds.Select(k => k + 1).ToArray();
        Assert.Throws<ShapeMismatchException>(() => PairForces.Apply(bad, null, spec, inputs));
    }

    [Theory]
    [MemberData(nameof(Laws))]
    public void FusedForcesAndGradientsMatchNaive(ForceLaw law)
    {
        int n = 13, dim = 3;
        var kinds = Enumerable.Range(0, n).Select(i => i % 3).ToArray();
        var spec = new ForceSpec(law, Threshold: 2.0, K: 1.5, Softening: 0.05);
        var inputs = RandomSystem(n, dim, DType.Float64, 7);
        var seed = Tensor.Randn([n, dim], DType.Float64, new Generator(3));
        (double[] F, double[][] G) Eval(Func<Tensor[], Tensor> f)
        {
            var xs = inputs.Select(t => t.Detach().Clone().RequiresGrad_()).ToArray();
            var y = f(xs);
            var gr = Autograd.Grad([y], xs, [seed]);
            return (y.ToDoubleArray(), gr.Select(t => t!.ToDoubleArray()).ToArray());
        }
        var fused = Eval(xs => PairForces.Apply(kinds, null, spec, xs));
        var scalar = Eval(xs => new ScalarPairForces(kinds, null, spec).ApplySingle(xs));
        var naive = Eval(xs => NaiveForces(xs[0], xs[1], xs[2], xs[3], kinds, spec));
        TensorAssert.Close(naive.F, fused.F, rtol: 1e-9, atol: 1e-9);
        TensorAssert.Close(naive.F, scalar.F, rtol: 1e-9, atol: 1e-9);
        for (int k = 0; k < 4; k++)
        {
            TensorAssert.Close(naive.G[k], fused.G[k], rtol: 1e-9, atol: 1e-9);
            TensorAssert.Close(naive.G[k], scalar.G[k], rtol: 1e-9, atol: 1e-9);
        }
        Assert.Contains(fused.F, f => Math.Abs(f) > 1e-3);
    }

    [Theory]
    [InlineData(40, false)]
    [InlineData(40, true)]
    [InlineData(300, false)]
    [InlineData(300, true)]
    public void TiledForcesMatchScalarAcrossTilesWithDeadParticles(int n, bool withDead)
    {
        int dim = 2;
        var kinds = Enumerable.Range(0, n).Select(i => (i * 7) % 3).ToArray();
        var alive = withDead ? Enumerable.Range(0, n).Select(i => i % 11 != 0).ToArray() : null;
        var spec = new ForceSpec(ForceLaw.NewtonianGravity, Softening: 0.05);
        var inputs = RandomSystem(n, dim, DType.Float64, 17);
        var seed = Tensor.Randn([n, dim], DType.Float64, new Generator(2));
        (double[] F, double[][] G) Eval(bool tiled)
        {
            var xs = inputs.Select(t => t.Detach().Clone().RequiresGrad_()).ToArray();
            var y = (tiled ? PairForces.Apply(kinds, alive, spec, xs) : new ScalarPairForces(kinds, alive, spec).ApplySingle(xs));
            var gr = Autograd.Grad([y], xs, [seed]);
            return (y.ToDoubleArray(), gr.Select(t => t!.ToDoubleArray()).ToArray());
        }
        var (t, r) = (Eval(true), Eval(false));
        TensorAssert.Close(r.F, t.F, rtol: 1e-8, atol: 1e-8);
        for (int k = 0; k < 4; k++) TensorAssert.Close(r.G[k], t.G[k], rtol: 1e-8, atol: 1e-8);
        if (withDead) for (int d = 0; d < dim; d++) Assert.Equal(0.0, t.F[d]); // particle 0 is dead
    }

    [Theory]
    [MemberData(nameof(Laws))]
    public void FusedForcesForwardModeMatchesFiniteDifferences(ForceLaw law)
    {
        int n = 7;
        var kinds = Enumerable.Range(0, n).Select(i => (i * 2) % 3).ToArray();
        var alive = Enumerable.Range(0, n).Select(i => i != 3).ToArray();
        var spec = new ForceSpec(law, Threshold: 2.5, K: 1.5, Softening: 0.05);
        var inputs = RandomSystem(n, 2, DType.Float64, 61);
        var w = Tensor.Randn([n, 2], DType.Float64, new Generator(62));
        foreach (bool tiled in new[] { true, false })
            GradCheck.Assert(xs => ((tiled ? PairForces.Apply(kinds, alive, spec, xs) : new ScalarPairForces(kinds, alive, spec).ApplySingle(xs)) * w).Sum(), inputs, secondOrder: false, forwardMode: true);
        // Functional.Jvp through the fused op equals the JVP of the naive all-pairs forces
        var tangents = inputs.Select((t, k) => Tensor.Randn(t.ShapeArray, DType.Float64, new Generator(70 + k))).ToArray();
        var (_, fused) = Functional.Jvp(xs => PairForces.Apply(kinds, null, spec, xs), inputs, tangents);
        var (_, naive) = Functional.Jvp(xs => NaiveForces(xs[0], xs[1], xs[2], xs[3], kinds, spec), inputs, tangents);
        TensorAssert.Close(naive.ToDoubleArray(), fused.ToDoubleArray(), rtol: 1e-9, atol: 1e-9);
    }

    [Fact]
    public void FusedForcesFloat32MatchFloat64()
    {
        int n = 9;
        var kinds = Enumerable.Range(0, n).Select(i => i % 3).ToArray();
        var in64 = RandomSystem(n, 2, DType.Float64, 11);
        var f64 = PairForces.Apply(kinds, null, new ForceSpec(), in64).ToDoubleArray();
        var f32 = PairForces.Apply(kinds, null, new ForceSpec(), in64.Select(t => t.To(DType.Float32)).ToArray());
        Assert.Equal(DType.Float32, f32.DType);
        TensorAssert.Close(f64, f32.ToDoubleArray(), rtol: 1e-4, atol: 1e-4);
    }

    [Fact]
    public void Float32KernelsMatchFloat64AcrossBlocks()
    {
        // float32 systems run the float32 kernels (8 lanes): forces, gradients and tangents against float64,
        // with enough particles for several row blocks on both cores (the 2-D fast path) and dead particles
        int n = 300;
        var kinds = Enumerable.Range(0, n).Select(i => (i * 5) % 3).ToArray();
        var alive = Enumerable.Range(0, n).Select(i => i % 13 != 0).ToArray();
        var spec = new ForceSpec(ForceLaw.Gratan, K: 1.5, Softening: 0.1);
        var in64 = RandomSystem(n, 2, DType.Float64, 81);
        var seed = Tensor.Randn([n, 2], DType.Float64, new Generator(82));
        var tangents = in64.Select((t, k) => Tensor.Randn(t.ShapeArray, DType.Float64, new Generator(90 + k))).ToArray();
        (double[] F, double[][] G, double[] T) Eval(DType dt)
        {
            var xs = in64.Select(t => t.To(dt).RequiresGrad_()).ToArray();
            var y = PairForces.Apply(kinds, alive, spec, xs);
            var gr = Autograd.Grad([y], xs, [seed.To(dt)]);
            var (_, jv) = Functional.Jvp(ys => PairForces.Apply(kinds, alive, spec, ys), in64.Select(t => t.To(dt)).ToArray(), tangents.Select(t => t.To(dt)).ToArray());
            Assert.Equal(dt, y.DType);
            return (y.ToDoubleArray(), gr.Select(g => g!.ToDoubleArray()).ToArray(), jv.ToDoubleArray());
        }
        var (a, b) = (Eval(DType.Float64), Eval(DType.Float32));
        double Scale(double[] v) => v.Max(Math.Abs);
        void Near(double[] e, double[] g) { double sc = Scale(e); for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(e[i] - g[i]) <= 1e-4 * sc, $"[{i}] {e[i]} vs {g[i]} (scale {sc})"); }
        Near(a.F, b.F);
        for (int k = 0; k < 4; k++) Near(a.G[k], b.G[k]);
        Near(a.T, b.T);
    }

    [Theory]
    [InlineData(Integrator.Beeman, true)]
    [InlineData(Integrator.VelocityVerlet, false)]
    public void GradCheckThroughThreeSteps(Integrator integrator, bool checkpoint)
    {
        int n = 5;
        var kinds = new[] { ParticleKind.Marble, ParticleKind.Marble, ParticleKind.Node, ParticleKind.Node, ParticleKind.Eater };
        var sim = new ParticleSimulation(kinds, 2, 0.05, new ForceSpec(ForceLaw.Gratan, K: 2, Softening: 0.1), integrator, eaterRadius: [0, 0, 0, 0, 0.1]);
        var sys = RandomSystem(n, 2, DType.Float64, 5);
        var v0 = Tensor.Uniform([n, 2], -0.5, 0.5, DType.Float64, new Generator(9));
        var w = Tensor.Randn([n, 9], DType.Float64, new Generator(4));
        GradCheck.Assert(xs =>
        {
            var st = sim.Run(xs[0], xs[1], xs[2], xs[3], xs[4], 3, checkpoint);
            return (st * w).Sum();
        }, [sys[0], v0, sys[1], sys[2], sys[3]], secondOrder: false, forwardMode: true);
    }

    [Fact]
    public void CheckpointedRunMatchesPlainRun()
    {
        int n = 6;
        var kinds = Enumerable.Range(0, n).Select(i => (ParticleKind)(i % 3)).ToArray();
        var sim = new ParticleSimulation(kinds, 2, 0.02, new ForceSpec(Softening: 0.1));
        var sys = RandomSystem(n, 2, DType.Float64, 21);
        var v0 = Tensor.Zeros([n, 2], DType.Float64);
        double[][] Grads(bool ck)
        {
            var xs = sys.Select(t => t.Detach().Clone().RequiresGrad_()).ToArray();
            var st = sim.Run(xs[0], v0, xs[1], xs[2], xs[3], 16, ck);
            sim.Positions(st).Square().Sum().Backward();
            return xs.Select(t => t.Grad!.ToDoubleArray()).ToArray();
        }
        var (a, b) = (Grads(true), Grads(false));
        for (int k = 0; k < a.Length; k++) TensorAssert.Close(b[k], a[k], rtol: 1e-10, atol: 1e-10);
    }

    [Fact]
    public void CoincidentParticlesGiveNoNaN()
    {
        var kinds = new[] { 0, 1, 1 };
        var x = Tensor.FromArray(new double[] { 1, 1, 1, 1, 0, 0 }, 3, 2).RequiresGrad_();
        var m = Tensor.Ones([3], DType.Float64).RequiresGrad_();
        var (s, a) = (Mult(3, 0.2).RequiresGrad_(), Mult(3, 0.7).RequiresGrad_());
        foreach (double eps in new[] { 0.0, 1e-3 })
        {
            var f = PairForces.Apply(kinds, null, new ForceSpec(Softening: eps), x, m, s, a);
            var gr = Autograd.Grad([f.Square().Sum()], [x, m, s, a]);
            Assert.All(f.ToDoubleArray(), c => Assert.True(double.IsFinite(c)));
            Assert.All(gr.SelectMany(g => g!.ToDoubleArray()), c => Assert.True(double.IsFinite(c)));
        }
    }

    [Fact]
    public void ZeroMassIsRejected()
    {
        var sim = new ParticleSimulation([ParticleKind.Marble, ParticleKind.Node], 2, 0.1);
        var x = Tensor.FromArray(new double[] { 0, 0, 1, 0 }, 2, 2);
        var ex = Assert.Throws<ArgumentException>(() => sim.Acceleration(x, Tensor.FromArray(new double[] { 1, 0 }, 2), Mult(2, 0), Mult(2, 1)));
        Assert.Contains("mass 0", ex.Message);
    }

    [Fact]
    public void CheckpointedRunSavesSqrtTStates()
    {
        int n = 32, steps = 256;
        var kinds = Enumerable.Range(0, n).Select(i => (ParticleKind)(i % 3)).ToArray();
        var sim = new ParticleSimulation(kinds, 2, 0.01, new ForceSpec(Softening: 0.1));
        var sys = RandomSystem(n, 2, DType.Float64, 23).Select(t => t.RequiresGrad_()).ToArray();
        var v0 = Tensor.Zeros([n, 2], DType.Float64);
        long Saved(bool ck) => MemoryTracker.SavedForBackward(sim.Run(sys[0], v0, sys[1], sys[2], sys[3], steps, ck)).SavedBytes;
        long plain = Saved(false), ck = Saved(true);
        long state = n * sim.StateWidth * 8L, perStep = plain / steps;
        // plain: every step keeps O(n) tensors (T of them); checkpointed: √T = 16 segment inputs + the last segment's 16 steps
        Assert.True(perStep >= n * 2 * 8, $"plain run saved {plain} bytes");
        Assert.True(ck <= 16 * (state + perStep) + 4 * state, $"checkpointed run saved {ck} bytes (plain {plain}, state {state} B)");
        Assert.True(4 * ck < plain, $"checkpointed {ck} vs plain {plain}");
    }

    [Fact]
    public void GradientsReachEveryParameterAfterTwoSteps()
    {
        int n = 6;
        var kinds = new[] { ParticleKind.Marble, ParticleKind.Marble, ParticleKind.Node, ParticleKind.Node, ParticleKind.Eater, ParticleKind.Eater };
        var sim = new ParticleSimulation(kinds, 2, 0.05, new ForceSpec(Softening: 0.1), eaterRadius: [0, 0, 0, 0, 0.01, 0.01]);
        var p = RandomSystem(n, 2, DType.Float64, 31);
        var v0 = Tensor.Uniform([n, 2], -1, 1, DType.Float64, new Generator(1)).RequiresGrad_();
        foreach (var t in p) t.RequiresGrad_();
        var st = sim.Run(p[0], v0, p[1], p[2], p[3], 2);
        (sim.Positions(st) * Tensor.Randn([n, 2], DType.Float64, new Generator(8))).Sum().Backward();
        foreach (var t in p.Append(v0))
            Assert.All(t.Grad!.ToDoubleArray(), g => Assert.NotEqual(0.0, g));
    }

    private static Tensor Image() => Tensor.FromArray(new double[] { 0, 0.5, 0, 1, 0, 0.25, 0, 0.75, 0 }, 3, 3);

    [Fact]
    public void PlacerMakesOneMarblePerNonZeroPixel()
    {
        var (p, m) = ParticleModel.PlaceMarbles(Image());
        Assert.Equal(new[] { 4, 2 }, p.ShapeArray);
        Assert.Equal(new[] { 0.5, 1, 0.25, 0.75 }, m.ToDoubleArray());
        var p0 = p.Select(0, 0).ToDoubleArray();
        Assert.Equal(0.0, p0[0], 12);
        Assert.Equal(2.0 / 3, p0[1], 12);
    }

    [Fact]
    public void ModelGradientsReachEveryParameterAfterTwoSteps()
    {
        var model = new ParticleModel(nodes: 3, eaters: 2, steps: 2, generator: new Generator(5));
        var run = model.Simulate(Image());
        Assert.Equal(4, run.Marbles);
        Assert.Equal(2, run.EatenPerEater.Length);
        model.Loss(run, target: 1, mu: 0.5).Backward();
        foreach (var (name, prm) in model.NamedParameters())
        {
            var g = prm.Grad!.ToDoubleArray();
            // a[node, Eater] scales the pull of nodes on eaters, which are fixed: its gradient is exactly 0
            if (name == "node_attraction") g = g.Where((_, i) => i % 3 != (int)ParticleKind.Eater).ToArray();
            Assert.All(g, v => Assert.True(v != 0 && double.IsFinite(v), $"{name}: gradient {v}"));
        }
    }

    [Fact]
    public void TrainingEpochsResetCleanlyAndKeepMultipliersInRange()
    {
        var model = new ParticleModel(nodes: 4, eaters: 2, steps: 6, generator: new Generator(6));
        var opt = new Fluxion.Optim.Adam(model.Parameters(), lr: 0.2);
        for (int epoch = 0; epoch < 4; epoch++)
        {
            opt.ZeroGrad();
            var run = model.Simulate(Image());
            var loss = model.Loss(run, target: epoch % 2);
            Assert.True(double.IsFinite(loss.Item()));
            loss.Backward();
            opt.Step();
            model.ClampMultipliers();
        }
        Assert.All(model.NodeStiffness.ToDoubleArray().Concat(model.NodeAttraction.ToDoubleArray()), v => Assert.InRange(v, 0.0, 1.0));
        Assert.Equal(new[] { 2 }, model.Forward(Image()).ShapeArray);
    }

    [Fact]
    public void ContrastiveMarginAddsTheOtherEatersClosestMarble()
    {
        var model = new ParticleModel(nodes: 3, eaters: 2, steps: 3, generator: new Generator(7));
        var run = model.Simulate(Image());
        var plain = model.Loss(run, target: 0, mu: 0.2);
        var contrast = model.Loss(run, target: 0, mu: 0.2, margin: 10); // a large margin: the hinge is active
        // the closest-marble term of target 0 plus 10 + d_0² − d_1², with d_e the closest live marble of eater e
        var x = run.Simulation.Positions(run.State) + 0.2 * run.Simulation.Velocities(run.State);
        var ep = model.EaterPositions();
        double Closest(int e) => Enumerable.Range(0, run.Marbles).Min(i => Math.Pow(x.Get(i, 0) - ep[2 * e], 2) + Math.Pow(x.Get(i, 1) - ep[2 * e + 1], 2));
        Assert.Equal(plain.Item() + 10 + Closest(0) - Closest(1), contrast.Item(), 9);
        contrast.Backward();
        Assert.Contains(model.NodePositions.Grad!.ToDoubleArray(), g => g != 0);
    }

    [Fact]
    public void MarbleEatenByTheWrongEaterIsPenalized()
    {
        // one marble at the centre is pulled straight into eater 0 (at (1.5, 0)) by a heavy node behind it
        var model = new ParticleModel(nodes: 1, eaters: 2, steps: 40, dt: 0.05, eaterRadius: 0.4, force: new ForceSpec(ForceLaw.NewtonianGravity, Softening: 0.05));
        using (Autograd.NoGrad())
        {
            model.NodePositions.CopyInPlace(Tensor.FromArray(new double[] { 1.5, 0 }, 1, 2));
            model.NodeMasses.FillInPlace(20);
        }
        var img = Tensor.FromArray(new double[] { 0, 0, 0, 0, 1, 0, 0, 0, 0 }, 3, 3);
        var run = model.Simulate(img);
        Assert.Equal(new[] { 1, 0 }, run.EatenPerEater);
        var wrong = model.Loss(run, target: 1);
        Assert.InRange(wrong.Item(), 0.4, 0.8); // 2 · radius − distance, distance < radius
        Assert.Equal(0.0, model.Loss(run, target: 0).Item());
        wrong.Backward();
        Assert.Contains(model.NodeMasses.Grad!.ToDoubleArray(), g => g != 0);
    }

    [Fact]
    public void CopiedStatesKeepTheirPlaceInTheGraph()
    {
        int n = 5;
        var kinds = Enumerable.Range(0, n).Select(i => (ParticleKind)(i % 3)).ToArray();
        var sim = new ParticleSimulation(kinds, 2, 0.05, new ForceSpec(Softening: 0.1));
        var sys = RandomSystem(n, 2, DType.Float64, 41);
        var v0 = Tensor.Zeros([n, 2], DType.Float64);
        double[][] Grads(bool copy)
        {
            var xs = sys.Select(t => t.Detach().Clone().RequiresGrad_()).ToArray();
            var st = sim.InitialState(xs[0], v0, xs[1], xs[2], xs[3]);
            for (int t = 0; t < 4; t++)
            {
                st = sim.Step(st, xs[1], xs[2], xs[3]);
                if (copy && t == 1) st = st.Clone().Contiguous();
            }
            sim.Positions(st).Sum().Backward();
            return xs.Select(t => t.Grad!.ToDoubleArray()).ToArray();
        }
        var (a, b) = (Grads(true), Grads(false));
        for (int k = 0; k < a.Length; k++) TensorAssert.Close(b[k], a[k], rtol: 1e-12, atol: 1e-12);
    }

    [Fact]
    public void Float32RunMatchesFloat64()
    {
        int n = 7;
        var kinds = Enumerable.Range(0, n).Select(i => (ParticleKind)(i % 3)).ToArray();
        var sim = new ParticleSimulation(kinds, 2, 0.02, new ForceSpec(ForceLaw.Gratan, Softening: 0.1));
        var sys = RandomSystem(n, 2, DType.Float64, 43);
        var v0 = Tensor.Zeros([n, 2], DType.Float64);
        var p64 = sim.Positions(sim.Run(sys[0], v0, sys[1], sys[2], sys[3], 10)).ToDoubleArray();
        var s32 = sim.Run(sys[0].To(DType.Float32), v0.To(DType.Float32), sys[1].To(DType.Float32), sys[2].To(DType.Float32), sys[3].To(DType.Float32), 10);
        Assert.Equal(DType.Float32, s32.DType);
        TensorAssert.Close(p64, sim.Positions(s32).ToDoubleArray(), rtol: 1e-4, atol: 1e-4);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EmittedParticlesKeepTheirPlaceInTheGraph(bool checkpoint)
    {
        // a node emits a marble (offset and extra velocity are inputs too) and a marble is copied in place after
        // 2 steps; 2 more steps run on the larger system: gradients match finite differences through the emission
        var kinds = new[] { ParticleKind.Marble, ParticleKind.Node, ParticleKind.Node, ParticleKind.Eater };
        var sim = new ParticleSimulation(kinds, 2, 0.05, new ForceSpec(ForceLaw.Gratan, K: 2, Softening: 0.1), eaterRadius: [0, 0, 0, 0.01]);
        var sys = RandomSystem(4, 2, DType.Float64, 51);
        var v0 = Tensor.Uniform([4, 2], -0.5, 0.5, DType.Float64, new Generator(52));
        var off = Tensor.FromArray(new double[] { 0.3, -0.2 });
        var dv = Tensor.FromArray(new double[] { 0.1, 0.4 });
        var w = Tensor.Randn([6, 9], DType.Float64, new Generator(53));
        Tensor F(Tensor[] xs)
        {
            var st = sim.Run(xs[0], xs[1], xs[2], xs[3], xs[4], 2, checkpoint);
            var em = sim.Emit(st, xs[2], xs[3], xs[4],
                [new Emission(1, ParticleKind.Marble, Offset: xs[5], Velocity: xs[6], MassScale: 0.5), new Emission(0, ParticleKind.Marble)]);
            Assert.Equal(6, em.Simulation.Count);
            return (em.Continue(2, checkpoint) * w).Sum();
        }
        GradCheck.Assert(F, [sys[0], v0, sys[1], sys[2], sys[3], off, dv], secondOrder: false, forwardMode: true);

        // only the emitted marble's final position is scored: its source's initial state still gets a gradient
        var xs = new[] { sys[0], v0, sys[1], sys[2], sys[3], off, dv }.Select(t => t.Detach().Clone().RequiresGrad_()).ToArray();
        var st = sim.Run(xs[0], xs[1], xs[2], xs[3], xs[4], 2, checkpoint);
        var em = sim.Emit(st, xs[2], xs[3], xs[4], [new Emission(1, ParticleKind.Marble, Offset: xs[5], Velocity: xs[6], MassScale: 0.5)]);
        em.Simulation.Positions(em.Continue(2, checkpoint)).Select(0, 4).Sum().Backward();
        Assert.All(xs[0].Grad!.Select(0, 1).ToDoubleArray(), g => Assert.NotEqual(0.0, g)); // the source node's initial position
        Assert.NotEqual(0.0, xs[2].Grad!.ToDoubleArray()[1]);                                 // and its mass
        Assert.All(xs[5].Grad!.ToDoubleArray().Concat(xs[6].Grad!.ToDoubleArray()), g => Assert.NotEqual(0.0, g));
    }

    [Fact]
    public void EmittingFromAnEatenParticleIsRejected()
    {
        var kinds = new[] { ParticleKind.Marble, ParticleKind.Eater };
        var sim = new ParticleSimulation(kinds, 2, 0.05, eaterRadius: [0, 0.5]);
        var x = Tensor.FromArray(new double[] { 0.1, 0, 0, 0 }, 2, 2);
        var (m, s, a) = (Tensor.Ones([2], DType.Float64), Mult(2, 0), Mult(2, 1));
        var st = sim.Continue(sim.InitialState(x, Tensor.Zeros([2, 2], DType.Float64), m, s, a), m, s, a, 1);
        Assert.Equal(1, sim.EatenBy(st)[0]);
        var ex = Assert.Throws<ArgumentException>(() => sim.Emit(st, m, s, a, [new Emission(0, ParticleKind.Marble)]));
        Assert.Contains("was eaten", ex.Message);
    }
}
