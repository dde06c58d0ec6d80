using Fluxion.Cli;
using Fluxion.Data;
using Fluxion.IO;
using Fluxion.Nn;
using Fluxion.Optim;

namespace Fluxion.Tests;

// Issue 21: a catalogue of common mistakes, each of which must raise a typed error (a FluxionException
// subclass; a System.Argument*Exception only for plain argument validation such as a dim or a
// hyperparameter out of range) whose message names the operation and the shapes (or dtypes, or values)
// involved. One row per mistake: what was done, the expected type, and the words the message must contain.
public class MisuseCatalogueTests : IDisposable
{
    private static readonly string Dir = Directory.CreateTempSubdirectory("fluxion-misuse-").FullName;

    public void Dispose() { }

    private static Tensor R(params int[] shape) => Tensor.Randn(shape, generator: new Generator(1));
    private static Tensor Rd(params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(1));
    private static Tensor L(params long[] v) => Tensor.FromArray(v);
    private static Tensor Leaf(params int[] shape) => R(shape).RequiresGrad_();

    private sealed class WrongShapeGrad : CustomFunction
    {
        public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs) => [inputs[0] * 2.0];
        public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g) => [Tensor.Ones(5)];
    }

    private sealed class TooManyGrads : CustomFunction
    {
        public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs) => [inputs[0] * 2.0];
        public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g) => [g[0], g[0]];
    }

    private sealed class WrongDTypeGrad : CustomFunction
    {
        public override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs) => [inputs[0] * 2.0];
        public override Tensor?[] Backward(FunctionContext ctx, Tensor[] g) => [g[0].To(DType.Float64)];
    }

    private static object? BackwardTwice()
    {
        var x = Leaf(3);
        var y = (x.Exp() * x).Sum();
        y.Backward();
        y.Backward();
        return null;
    }

    private static object? InPlaceOnSaved()
    {
        var x = Leaf(3);
        var e = x.Exp(); // Exp saves its output
        var y = e.Sum() * 1.0;
        var z = (e * 2.0).Sum();
        e.AddInPlace(Tensor.Ones(3));
        (y + z).Backward();
        return null;
    }

    private static object? InPlaceOnSavedInput()
    {
        var x = Leaf(2, 2);
        var h = x * 1.0;
        var y = (h * h).Sum(); // Mul saves h
        h.MulInPlace(2.0);
        y.Backward();
        return null;
    }

    private static string Save(string name, Module m)
    {
        var p = Path.Combine(Dir, name);
        ModelIO.Save(m, p);
        return p;
    }

    private static string Bytes(string name, byte[] b)
    {
        var p = Path.Combine(Dir, name);
        File.WriteAllBytes(p, b);
        return p;
    }

    public static TheoryData<string, Func<object?>, Type, string[]> Mistakes => new()
    {
        // ---- shapes: broadcasting and elementwise ----
        { "add [2,3] + [4]", () => R(2, 3) + R(4), typeof(ShapeMismatchException), ["Add", "[2, 3]", "[4]"] },
        { "sub [5] - [3]", () => R(5) - R(3), typeof(ShapeMismatchException), ["Sub", "[5]", "[3]"] },
        { "mul [2,3] * [3,2]", () => R(2, 3) * R(3, 2), typeof(ShapeMismatchException), ["Mul", "[2, 3]", "[3, 2]"] },
        { "div [4,1,3] / [2,4]", () => R(4, 1, 3) / R(2, 4), typeof(ShapeMismatchException), ["Div", "[4, 1, 3]", "[2, 4]"] },
        { "pow [3] ^ [2]", () => R(3).Pow(R(2)), typeof(ShapeMismatchException), ["Pow", "[3]", "[2]"] },
        { "maximum [3] vs [4]", () => Tensor.Maximum(R(3), R(4)), typeof(ShapeMismatchException), ["Maximum", "[3]", "[4]"] },
        { "where shapes", () => Tensor.Where(R(3).Gt(0.0), R(3), R(4)), typeof(ShapeMismatchException), ["Where", "[3]", "[4]"] },
        { "in-place add that would grow the target", () => R(3).AddInPlace(R(2, 3)), typeof(ShapeMismatchException), ["AddInPlace", "[3]", "[2, 3]"] },
        { "copy into a smaller tensor", () => R(2).CopyInPlace(R(3)), typeof(ShapeMismatchException), ["CopyInPlace", "[2]", "[3]"] },

        // ---- shapes: matrix products ----
        { "matmul inner dims", () => R(2, 3).MatMul(R(4, 5)), typeof(ShapeMismatchException), ["MatMul", "[2, 3]", "[4, 5]"] },
        { "matmul with a 0-d tensor", () => R(2, 3).MatMul(Tensor.Scalar(2)), typeof(ShapeMismatchException), ["MatMul", "[2, 3]", "[]"] },
        { "matmul batch mismatch", () => R(2, 3, 4).MatMul(R(5, 4, 2)), typeof(ShapeMismatchException), ["MatMul", "[2, 3, 4]", "[5, 4, 2]"] },
        { "vector-matrix inner dims", () => R(3).MatMul(R(4, 2)), typeof(ShapeMismatchException), ["MatMul", "(3 vs 4)", "[4, 2]"] },
        { "dot of different lengths", () => Tensor.Dot(R(3), R(4)), typeof(ShapeMismatchException), ["Dot", "[3]", "[4]"] },
        { "dot of matrices", () => Tensor.Dot(R(2, 2), R(2, 2)), typeof(ShapeMismatchException), ["Dot", "[2, 2]"] },
        { "outer of matrices", () => Tensor.Outer(R(2, 2), R(3)), typeof(ShapeMismatchException), ["Outer", "[2, 2]"] },
        { "linear layer with the wrong in_features", () => new Linear(4, 3).Forward(R(2, 5)), typeof(ShapeMismatchException), ["[2, 5]", "4"] },
        { "inverse of a non-square matrix", () => Tensor.Inv(Rd(2, 3)), typeof(ShapeMismatchException), ["Inv", "[2, 3]"] },
        { "determinant of a vector", () => Tensor.Det(Rd(3)), typeof(ShapeMismatchException), ["Det", "[3]"] },
        { "solve with mismatched rows", () => Tensor.Solve(Rd(3, 3), Rd(4, 1)), typeof(ShapeMismatchException), ["Solve", "[3, 3]", "[4, 1]"] },
        { "cholesky of a non-square matrix", () => Tensor.Cholesky(Rd(3, 2)), typeof(ShapeMismatchException), ["Cholesky", "[3, 2]"] },

        // ---- shapes: views, joins, reductions ----
        { "reshape to the wrong count", () => R(2, 3).Reshape(4, 2), typeof(ShapeMismatchException), ["Reshape", "[4, 2]", "[2, 3]"] },
        { "reshape with two -1", () => R(2, 3).Reshape(-1, -1), typeof(ShapeMismatchException), ["Reshape", "[-1, -1]"] },
        { "reshape with a negative dim", () => R(2, 3).Reshape(-2, 3), typeof(ShapeMismatchException), ["Reshape", "-2"] },
        { "view of a transposed tensor", () => R(2, 3).T.View(6), typeof(ShapeMismatchException), ["View", "[3, 2]"] },
        { "expand a dim that is not 1", () => R(2, 3).Expand(4, 3), typeof(ShapeMismatchException), ["Expand", "[2, 3]", "[4, 3]"] },
        { "expand to fewer dims", () => R(2, 3).Expand(3), typeof(ShapeMismatchException), ["Expand", "[3]", "[2, 3]"] },
        { "cat of different widths", () => Tensor.Cat([R(2, 3), R(2, 4)], 0), typeof(ShapeMismatchException), ["Cat", "[2, 3]", "[2, 4]"] },
        { "cat of different ranks", () => Tensor.Cat([R(2, 3), R(3)], 0), typeof(ShapeMismatchException), ["Cat", "[2, 3]", "[3]"] },
        { "stack of different shapes", () => Tensor.Stack([R(2, 3), R(3, 2)]), typeof(ShapeMismatchException), ["Stack", "[2, 3]", "[3, 2]"] },
        { "permute with too few dims", () => R(2, 3, 4).Permute(1, 0), typeof(ShapeMismatchException), ["Permute", "[2, 3, 4]"] },
        { "permute with a repeated dim", () => R(2, 3).Permute(0, 0), typeof(ShapeMismatchException), ["Permute", "[2, 3]"] },
        { "split sizes that do not add up", () => R(5, 2).Split([2, 2], 0), typeof(ShapeMismatchException), ["Split", "[5, 2]"] },
        { "narrow beyond the end", () => R(4, 3).Narrow(0, 3, 2), typeof(ArgumentOutOfRangeException), ["Narrow", "[4, 3]"] },
        { "sum to an incompatible shape", () => R(2, 3).SumTo([4]), typeof(ShapeMismatchException), ["SumTo", "[2, 3]", "[4]"] },
        { "item of a vector", () => R(3).Item<float>(), typeof(ShapeMismatchException), ["Item", "[3]"] },
        { "from an array of the wrong length", () => Tensor.FromArray([1f, 2f, 3f], 2, 2), typeof(ShapeMismatchException), ["FromArray", "[2, 2]"] },
        { "zeros with a negative dim", () => Tensor.Zeros(2, -1), typeof(ShapeMismatchException), ["Zeros", "[2, -1]"] },
        { "zeros too large to hold", () => Tensor.Zeros(1 << 30, 1 << 30, 1 << 30), typeof(ShapeMismatchException), ["Zeros", "[1073741824, 1073741824, 1073741824]"] },
        { "ones too large to hold", () => Tensor.Ones(1 << 16, 1 << 16), typeof(ShapeMismatchException), ["Full", "[65536, 65536]"] },
        { "expand beyond what a tensor holds", () => R(1).Expand(1 << 16, 1 << 16), typeof(ShapeMismatchException), ["Expand", "[65536, 65536]"] },

        // ---- indices ----
        { "select past the end", () => R(2, 3).Select(1, 3), typeof(IndexOutOfBoundsException), ["Select", "index 3", "size 3", "[2, 3]"] },
        { "index past the end", () => R(2, 3)[2], typeof(IndexOutOfBoundsException), ["Index", "index 2", "size 2", "[2, 3]"] },
        { "index from the end past the start", () => R(2, 3)[.., ^4], typeof(IndexOutOfBoundsException), ["Index", "^4", "size 3", "[2, 3]"] },
        { "range past the end", () => R(2, 3)[0..5], typeof(IndexOutOfBoundsException), ["Index", "0..5", "size 2", "[2, 3]"] },
        { "too many indices", () => R(2, 3)[0, 1, 2], typeof(ShapeMismatchException), ["Index", "too many indices", "[2, 3]"] },
        { "get with a bad index", () => R(2, 3).Get(0, 3), typeof(IndexOutOfBoundsException), ["Index", "index 3", "size 3", "[2, 3]"] },
        { "gather index past the end", () => R(2, 2).Gather(1, Tensor.FromArray([0L, 3, 1, 1], 2, 2)), typeof(IndexOutOfBoundsException), ["Gather", "index 3", "size 2", "[2, 2]"] },
        { "gather with float indices", () => R(2, 2).Gather(1, R(2, 2)), typeof(DTypeMismatchException), ["Gather", "int64", "float32", "[2, 2]"] },
        { "gather index of another rank", () => R(2, 2).Gather(1, L(0, 1)), typeof(ShapeMismatchException), ["Gather", "[2]", "[2, 2]"] },
        { "index select with a negative index", () => R(2, 2).IndexSelect(0, L(0, -1)), typeof(IndexOutOfBoundsException), ["IndexSelect", "index -1", "size 2", "[2, 2]"] },
        { "index select with a 2-D index", () => R(3, 2).IndexSelect(0, Tensor.FromArray([0L, 1, 2, 0], 2, 2)), typeof(ShapeMismatchException), ["IndexSelect", "[2, 2]"] },
        { "scatter add past the end", () => R(2, 2).ScatterAdd(0, Tensor.FromArray([2L], 1, 1), R(1, 1)), typeof(IndexOutOfBoundsException), ["ScatterAdd", "index 2", "[2, 2]"] },
        { "one-hot with too few classes", () => Tensor.OneHot(L(0, 4), 3), typeof(IndexOutOfBoundsException), ["OneHot", "index 4", "3"] },
        { "embedding index past the table", () => new Embedding(3, 4).Forward(L(1, 5)), typeof(IndexOutOfBoundsException), ["Embedding", "index 5", "num_embeddings 3", "[3, 4]"] },
        { "embedding with float indices", () => new Embedding(3, 4).Forward(R(2)), typeof(DTypeMismatchException), ["Embedding", "int64", "float32", "[2]"] },
        { "take past the end", () => R(2, 3).Take(L(6)), typeof(IndexOutOfBoundsException), ["Take", "index 6", "[2, 3]"] },
        { "masked fill with a float mask", () => R(3).MaskedFill(R(3), 0), typeof(DTypeMismatchException), ["MaskedFill", "[3]"] },
        { "where with a float condition", () => Tensor.Where(R(3), R(3), R(3)), typeof(DTypeMismatchException), ["Where", "float32", "[3]"] },

        // ---- losses ----
        { "cross entropy target past the classes", () => Losses.CrossEntropy(R(3, 4), L(0, 4, 1)), typeof(IndexOutOfBoundsException), ["CrossEntropy", "target 4", "4 classes", "[3, 4]"] },
        { "cross entropy with a negative target", () => Losses.CrossEntropy(R(3, 4), L(0, -2, 1)), typeof(IndexOutOfBoundsException), ["CrossEntropy", "target -2", "[3, 4]"] },
        { "cross entropy target of the wrong length", () => Losses.CrossEntropy(R(3, 4), L(0, 1)), typeof(ShapeMismatchException), ["CrossEntropy", "[3, 4]", "[3]", "[2]"] },
        { "cross entropy with float targets of another shape", () => Losses.CrossEntropy(R(3, 4), R(3, 5)), typeof(ShapeMismatchException), ["CrossEntropy", "[3, 4]", "[3, 5]"] },
        { "cross entropy with int32-like float class indices", () => Losses.CrossEntropy(R(3, 4), R(3)), typeof(ShapeMismatchException), ["CrossEntropy", "[3, 4]", "[3]"] },
        { "nll loss target past the classes", () => Losses.NllLoss(R(2, 3).LogSoftmax(1), L(0, 3)), typeof(IndexOutOfBoundsException), ["NllLoss", "target 3", "3 classes"] },
        { "mse of different shapes", () => Losses.MseLoss(R(3, 2), R(2, 3)), typeof(ShapeMismatchException), ["MseLoss", "[3, 2]", "[2, 3]"] },
        { "binary cross entropy of different shapes", () => Losses.BinaryCrossEntropy(R(4).Sigmoid(), R(3).Sigmoid()), typeof(ShapeMismatchException), ["BinaryCrossEntropy", "[4]", "[3]"] },

        // ---- layers ----
        { "conv2d with the wrong channel count", () => new Conv2d(3, 8, 3).Forward(R(1, 4, 8, 8)), typeof(ShapeMismatchException), ["Conv2d", "[1, 4, 8, 8]", "3"] },
        { "conv2d on a 2-D input", () => new Conv2d(3, 8, 3).Forward(R(8, 8)), typeof(ShapeMismatchException), ["Conv2d", "[8, 8]"] },
        { "conv2d kernel larger than the input", () => new Conv2d(1, 1, 5).Forward(R(1, 1, 3, 3)), typeof(ShapeMismatchException), ["Conv2d", "[1, 1, 3, 3]"] },
        { "max pool window larger than the input", () => new MaxPool2d(4).Forward(R(1, 1, 3, 3)), typeof(ShapeMismatchException), ["MaxPool2d", "[1, 1, 3, 3]"] },
        { "batch norm with the wrong feature count", () => new BatchNorm1d(3).Forward(R(4, 5)), typeof(ShapeMismatchException), ["BatchNorm1d", "[4, 5]", "3"] },
        { "layer norm over the wrong trailing shape", () => new LayerNorm(4).Forward(R(2, 5)), typeof(ShapeMismatchException), ["LayerNorm", "[2, 5]", "[4]"] },
        { "softmax over a missing dim", () => R(2, 3).Softmax(2), typeof(ArgumentOutOfRangeException), ["Softmax", "dimension 2", "rank 2"] },
        { "sum over a missing dim", () => R(2, 3).Sum(-3), typeof(ArgumentOutOfRangeException), ["Sum", "dimension -3", "rank 2"] },
        { "transpose of a missing dim", () => R(2, 3).Transpose(0, 2), typeof(ArgumentOutOfRangeException), ["Transpose", "dimension 2", "rank 2"] },

        // ---- dtypes ----
        { "exp of an int64 tensor", () => L(1, 2).Exp(), typeof(DTypeMismatchException), ["Exp", "int64"] },
        { "matmul of int64 matrices", () => Tensor.FromArray([1L, 2, 3, 4], 2, 2).MatMul(Tensor.FromArray([1L, 2, 3, 4], 2, 2)), typeof(DTypeMismatchException), ["MatMul", "int64"] },
        { "float added into an int64 tensor", () => L(1, 2).AddInPlace(0.5), typeof(DTypeMismatchException), ["AddInPlace", "float32", "int64", "can't be cast"] },
        { "copy of another dtype", () => R(3).CopyInPlace(Rd(3)), typeof(DTypeMismatchException), ["CopyInPlace", "float64", "float32", "[3]"] },
        { "requires grad on an int64 tensor", () => L(1, 2).RequiresGrad_(), typeof(DTypeMismatchException), ["RequiresGrad", "int64", "[2]"] },
        { "sqrt of a bool tensor", () => Tensor.FromArray([true, false]).Sqrt(), typeof(DTypeMismatchException), ["Sqrt", "bool"] },
        { "add into a bool tensor with index add", () => Tensor.FromArray([true, false]).IndexAdd(0, L(0), Tensor.FromArray([true])), typeof(DTypeMismatchException), ["IndexAdd", "bool", "[2]"] },

        // ---- autograd ----
        { "backward twice through a freed graph", BackwardTwice, typeof(AutogradException), ["backward", "retainGraph"] },
        { "backward of a non-scalar without a gradient", () => { (Leaf(3) * 2.0).Backward(); return null; }, typeof(AutogradException), ["Backward", "[3]"] },
        { "backward with a gradient of another shape", () => { (Leaf(3) * 2.0).Backward(Tensor.Ones(4)); return null; }, typeof(ShapeMismatchException), ["[3]", "[4]"] },
        { "backward of a tensor that does not require grad", () => { R(3).Sum().Backward(); return null; }, typeof(AutogradException), ["Backward", "does not require grad"] },
        { "grad with respect to an unused input", () => Autograd.Grad((Leaf(3) * 2.0).Sum(), Leaf(2)), typeof(AutogradException), ["Grad", "[2]"] },
        { "in-place change of a leaf that requires grad", () => Leaf(3).AddInPlace(Tensor.Ones(3)), typeof(AutogradException), ["AddInPlace", "leaf", "[3]"] },
        { "in-place change of a saved output", InPlaceOnSaved, typeof(InPlaceModificationException), ["Exp", "[3]", "in-place"] },
        { "in-place change of a saved input", InPlaceOnSavedInput, typeof(InPlaceModificationException), ["Mul", "[2, 2]", "in-place"] },
        { "retain grad of a constant", () => { R(3).RetainGrad(); return null; }, typeof(AutogradException), ["RetainGrad", "[3]"] },
        { "hook on a constant", () => R(3).RegisterHook(g => g), typeof(AutogradException), ["RegisterHook", "[3]"] },
        { "hook that returns a gradient of another shape", () => { var x = Leaf(3); x.RegisterHook(g => Tensor.Ones(4)); (x * 2.0).Sum().Backward(); return null; }, typeof(AutogradException), ["RegisterHook", "[4]", "[3]"] },
        { "custom function returning a gradient of another shape", () => { new WrongShapeGrad().ApplySingle(Leaf(3)).Sum().Backward(); return null; }, typeof(AutogradException), ["WrongShapeGrad", "[5]", "[3]"] },
        { "custom function returning too many gradients", () => { new TooManyGrads().ApplySingle(Leaf(3)).Sum().Backward(); return null; }, typeof(AutogradException), ["TooManyGrads", "2"] },
        { "custom function returning a gradient of another dtype", () => { new WrongDTypeGrad().ApplySingle(Leaf(3)).Sum().Backward(); return null; }, typeof(AutogradException), ["WrongDTypeGrad", "float64", "float32"] },

        // ---- modules, optimizers, checkpoints, files ----
        { "load a state dict of another shape", () => { new Linear(3, 2).LoadStateDict(new Linear(3, 4).StateDict()); return null; }, typeof(ShapeMismatchException), ["LoadStateDict", "[4, 3]", "[2, 3]"] },
        { "load a checkpoint into another architecture", () => ModelIO.Load(new Linear(3, 2), Save("lin34.safetensors", new Linear(3, 4))), typeof(CheckpointMismatchException), ["lin34.safetensors", "[4, 3]", "[2, 3]"] },
        { "load a checkpoint of another dtype", () => ModelIO.Load(new Linear(3, 2), Save("lin64.safetensors", new Linear(3, 2, dtype: DType.Float64))), typeof(CheckpointMismatchException), ["lin64.safetensors", "float64", "float32"] },
        { "load a text file as safetensors", () => SafeTensors.Load(Bytes("notes.safetensors", "hello, this is not a checkpoint"u8.ToArray())), typeof(SafeTensorsFormatException), ["notes.safetensors", "header length"] },
        { "read a text file as IDX", () => Idx.Read(Bytes("notes.idx", "hello, this is not idx"u8.ToArray())), typeof(DataFormatException), ["notes.idx", "bad magic number"] },
        { "read an IDX file with too few bytes", () => Idx.Read(Bytes("short.idx", [0, 0, 8, 1, 0, 0, 0, 9, 1, 2])), typeof(DataFormatException), ["short.idx", "[9]", "truncated data"] },
        { "optimizer with a negative learning rate", () => new SGD(new Linear(2, 2).Parameters(), lr: -0.1), typeof(ArgumentOutOfRangeException), ["SGD", "lr"] },
        { "clip the gradients of NaN", () => { var p = Leaf(2); p.Grad = Tensor.FromArray([float.NaN, 1f]); return Clipping.ClipGradNorm([p], 1.0, errorIfNonfinite: true); }, typeof(ArithmeticException), ["ClipGradNorm", "NaN"] },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void EachMistakeIsATypedErrorNamingTheOpAndShapes(string mistake, Func<object?> act, Type expected, string[] mentions)
    {
        Exception? e = null;
        try { act(); }
        catch (Exception ex) { e = ex; }
        Assert.True(e is not null, $"{mistake}: no exception");
        Assert.True(expected.IsInstanceOfType(e), $"{mistake}: expected {expected.Name}, got {e.GetType().Name}: {e.Message}");
        if (e is not FluxionException)
            Assert.True(e is ArgumentException or ArithmeticException, $"{mistake}: {e.GetType().Name} is neither a FluxionException nor argument validation");
        foreach (var m in mentions)
            Assert.True(e.Message.Contains(m, StringComparison.Ordinal), $"{mistake}: the message does not mention '{m}': {e.Message}");
    }

    // ---- the command line: a mistake exits with 2 and a message naming the option --------------------

    [Theory]
    [InlineData(new[] { "frobnicate" }, "unknown command 'frobnicate'")]
    [InlineData(new[] { "--frobnicate" }, "unknown option '--frobnicate'")]
    [InlineData(new[] { "train", "--epochs", "-1" }, "--epochs needs a positive integer")]
    [InlineData(new[] { "train", "--lr", "fast" }, "--lr needs a positive number")]
    [InlineData(new[] { "train", "--batch-size" }, "--batch-size")]
    [InlineData(new[] { "fuzz", "zip" }, "unknown format 'zip'")]
    [InlineData(new[] { "fuzz", "idx", "--cases", "-5" }, "--cases needs a positive integer")]
    [InlineData(new[] { "ops", "--family", "nope" }, "nope")]
    [InlineData(new[] { "demo", "--x", "abc" }, "--x")]
    public void CommandLineMistakesExit2NamingTheOption(string[] args, string message)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(args, o, e);
        Assert.True(code == 2, $"exit {code}: {o}{e}");
        Assert.Contains(message, e.ToString());
        Assert.DoesNotContain("   at ", e.ToString());
    }
}
