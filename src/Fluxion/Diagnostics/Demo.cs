namespace Fluxion;

/// <summary>One node of the demo graph: its value and the gradient of each output with respect to it.</summary>
/// <param name="Name">Short name of the node, e.g. "e^x" or "cosh = s / 2".</param>
/// <param name="GradFn">The operation that produced it (e.g. "ExpBackward"), or null for the input leaf.</param>
/// <param name="Value">The node's value.</param>
/// <param name="DCosh">d cosh / d node, or null when cosh does not depend on the node.</param>
/// <param name="DTanh">d tanh / d node, or null when tanh does not depend on the node.</param>
public sealed record DemoNode(string Name, string? GradFn, double Value, double? DCosh, double? DTanh);

/// <summary>One identity the demo verifies.</summary>
/// <param name="Name">What is checked, e.g. "d cosh/dx = sinh(x)".</param>
/// <param name="Actual">The value computed through the autograd graph.</param>
/// <param name="Expected">The closed-form value (from <see cref="Math"/>).</param>
/// <param name="Ok">Whether they agree within the tolerance.</param>
public sealed record DemoCheck(string Name, double Actual, double Expected, bool Ok);

/// <summary>The outcome of <see cref="Demo.Run"/>.</summary>
/// <param name="X">The point of evaluation.</param>
/// <param name="Nodes">Every node of the graph, inputs first.</param>
/// <param name="Checks">The verified identities.</param>
public sealed record DemoResult(double X, IReadOnlyList<DemoNode> Nodes, IReadOnlyList<DemoCheck> Checks)
{
    /// <summary>True when every check passed.</summary>
    public bool Passed => Checks.All(c => c.Ok);
}

/// <summary>
/// The computation behind <c>fluxion demo</c>: cosh(x) = (e^x + e^-x)/2 and tanh(x) = (e^x - e^-x)/(e^x + e^-x)
/// built from primitive ops in float64, differentiated by reverse mode with every intermediate's
/// gradient retained, and checked against d cosh/dx = sinh(x) and d tanh/dx = 1 - tanh(x)^2.
/// </summary>
public static class Demo
{
    /// <summary>The default point, ln 2, where cosh = 5/4, tanh = 3/5, sinh = 3/4 and 1 - tanh^2 = 16/25.</summary>
    public static readonly double Ln2 = Math.Log(2);

    /// <summary>Evaluates both functions at <paramref name="x"/>, back-propagates each, and checks the derivatives.</summary>
    /// <param name="x">The point of evaluation (defaults to ln 2).</param>
    /// <param name="tolerance">Largest accepted |actual - expected| / max(1, |expected|).</param>
    public static DemoResult Run(double? x = null, double tolerance = 1e-12)
    {
        double x0 = x ?? Ln2;
        var xs = Tensor.Scalar(x0, DType.Float64).RequiresGrad_();
        var negX = -xs;
        var ep = xs.Exp();
        var en = negX.Exp();
        var sum = ep + en;
        var cosh = sum / 2;
        var diff = ep - en;
        var tanh = diff / sum;
        (string Name, Tensor T)[] nodes =
        [
            ("x", xs), ("-x", negX), ("e^x", ep), ("e^-x", en), ("s = e^x + e^-x", sum),
            ("cosh = s / 2", cosh), ("d = e^x - e^-x", diff), ("tanh = d / s", tanh),
        ];
        foreach (var (_, t) in nodes) t.RetainGrad();

        double?[] Gradients(Tensor output, bool retainGraph)
        {
            foreach (var (_, t) in nodes) t.Grad = null;
            output.Backward(retainGraph: retainGraph);
            return Array.ConvertAll(nodes, n => n.T.Grad is { } g ? (double?)g.Item() : null);
        }

        var dCosh = Gradients(cosh, retainGraph: true); // the two outputs share e^x, e^-x and their sum
        var dTanh = Gradients(tanh, retainGraph: false);

        var rows = new DemoNode[nodes.Length];
        for (int i = 0; i < nodes.Length; i++)
            rows[i] = new DemoNode(nodes[i].Name, nodes[i].T.GradFnName, nodes[i].T.Item(), dCosh[i], dTanh[i]);

        DemoCheck Check(string name, double actual, double expected) =>
            new(name, actual, expected, Math.Abs(actual - expected) <= tolerance * Math.Max(1, Math.Abs(expected)));

        double th = Math.Tanh(x0);
        var checks = new[]
        {
            Check("cosh(x) = Math.Cosh(x)", cosh.Item(), Math.Cosh(x0)),
            Check("tanh(x) = Math.Tanh(x)", tanh.Item(), th),
            Check("d cosh/dx = sinh(x)", dCosh[0] ?? double.NaN, Math.Sinh(x0)),
            Check("d tanh/dx = 1 - tanh(x)^2", dTanh[0] ?? double.NaN, 1 - th * th),
        };
        return new DemoResult(x0, rows, checks);
    }
}
