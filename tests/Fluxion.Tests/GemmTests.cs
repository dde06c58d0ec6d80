using Fluxion.Kernels;

namespace Fluxion.Tests;

public class GemmTests
{
    /// <summary>How an operand is laid out in its buffer.</summary>
    public enum Layout { RowMajor, ColMajor, Stepped, Broadcast }

    /// <summary>A rows×cols operand in the given layout: its buffer, offset, strides and logical values.</summary>
    private static (T[] Buf, int Off, int Rs, int Cs, double[,] Val) Make<T>(int rows, int cols, Layout layout, Random rng)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var val = new double[rows, cols];
        int off = 3, rs, cs, len;
        switch (layout)
        {
            case Layout.RowMajor: rs = cols; cs = 1; len = rows * cols; break;
            case Layout.ColMajor: rs = 1; cs = rows; len = rows * cols; break;
            case Layout.Stepped: rs = 2 * cols + 1; cs = 2; len = rows * rs; break; // e.g. x.Slice(0, step 2)[.., ::2]
            default: rs = 0; cs = 1; len = cols; break;                              // every row the same (Expand)
        }
        var buf = new T[off + len + 2];
        for (int i = 0; i < buf.Length; i++) buf[i] = T.CreateChecked(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                val[i, j] = double.CreateChecked(buf[off + i * rs + j * cs]);
        return (buf, off, rs, cs, val);
    }

    /// <summary>C (+)= A·B against the definition; <paramref name="packed"/>: through Gemm.PackLhs + Gemm.MatMulPacked.</summary>
    private static void Check<T>(int m, int k, int n, Layout la, Layout lb, bool accumulate, int seed, bool packed = false)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var rng = new Random(seed);
        var (a, aOff, ars, acs, av) = Make<T>(m, k, la, rng);
        var (b, bOff, brs, bcs, bv) = Make<T>(k, n, lb, rng);
        int cOff = 2;
        var c = new T[cOff + m * n + 3];
        for (int i = 0; i < c.Length; i++) c[i] = T.CreateChecked(rng.NextDouble());
        var before = (T[])c.Clone();
        if (packed)
        {
            using var pa = Gemm.PackLhs(a, aOff, ars, acs, m, k);
            Gemm.MatMulPacked(pa, b, bOff, brs, bcs, c, cOff, n, n, accumulate);
        }
        else Gemm.MatMul(a, aOff, ars, acs, b, bOff, brs, bcs, c, cOff, m, k, n, accumulate);
        double tol = typeof(T) == typeof(float) ? 1e-5 : 1e-12;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, mag = 1;
                for (int p = 0; p < k; p++)
                {
                    s += av[i, p] * bv[p, j];
                    mag += Math.Abs(av[i, p] * bv[p, j]);
                }
                if (accumulate) s += double.CreateChecked(before[cOff + i * n + j]);
                double got = double.CreateChecked(c[cOff + i * n + j]);
                Assert.True(Math.Abs(got - s) <= tol * mag, $"{typeof(T).Name} {m}x{k}x{n} {la}/{lb} acc={accumulate}: C[{i},{j}] = {got}, want {s}");
            }
        // nothing outside C was touched
        for (int i = 0; i < cOff; i++) Assert.Equal(before[i], c[i]);
        for (int i = cOff + m * n; i < c.Length; i++) Assert.Equal(before[i], c[i]);
    }

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 7, 13, 5 }, { 129, 257, 65 }, { 1, 300, 1 }, { 300, 1, 300 }, { 3, 0, 4 },
        { 1, 70, 90 }, { 90, 70, 1 }, { 2, 2, 2 },
        { 13, 9, 37 }, { 5, 20, 19 }, // unpacked path: 4-row groups, vector and scalar column tails
        { 300, 20, 70 },  // several MC row blocks on one thread
        { 300, 60, 70 },  // parallel row blocks
        { 7, 200, 1000 }, // parallel column groups (few rows)
        { 7, 5, 3100 },   // several NC column blocks
        { 40, 600, 33 },  // several KC depth blocks
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesReferenceForEveryLayout(int m, int k, int n)
    {
        int seed = 0;
        foreach (var la in Enum.GetValues<Layout>())
            foreach (var lb in Enum.GetValues<Layout>())
            {
                // large shapes: only a few layout pairs, to keep the suite fast
                if ((long)m * k * n > 1_000_000 && la != lb && !(la == Layout.RowMajor || lb == Layout.RowMajor)) continue;
                Check<float>(m, k, n, la, lb, accumulate: false, seed++);
                Check<double>(m, k, n, la, lb, accumulate: false, seed++);
            }
        Check<float>(m, k, n, Layout.ColMajor, Layout.Stepped, accumulate: true, seed++);
        Check<float>(m, k, n, Layout.Stepped, Layout.RowMajor, accumulate: true, seed++);
        Check<double>(m, k, n, Layout.RowMajor, Layout.ColMajor, accumulate: true, seed++);
    }

    [SkippableTheory]
    [InlineData("Portable")]
    [InlineData("Avx2")]
    [InlineData("Avx512")]
    public void EveryKernelMatchesReference(string name)
    {
        var kernel = Enum.Parse<Gemm.GemmKernel>(name);
        Skip.IfNot(Gemm.IsSupported(kernel), $"the {name} GEMM kernel needs instructions this CPU lacks");
        var old = Gemm.Kernel;
        Gemm.Kernel = kernel;
        try
        {
            foreach (var (m, k, n) in new[] { (129, 257, 65), (300, 40, 70), (37, 29, 41) })
            {
                Check<float>(m, k, n, Layout.RowMajor, Layout.RowMajor, false, 1);
                Check<float>(m, k, n, Layout.ColMajor, Layout.Stepped, true, 2);
                Check<double>(m, k, n, Layout.Stepped, Layout.ColMajor, false, 3);
                Check<double>(m, k, n, Layout.RowMajor, Layout.Broadcast, true, 4);
            }
        }
        finally { Gemm.Kernel = old; }
    }

    /// <summary>A packed once (the convolutions' weights) against B per product: the CNN's shapes, row and column tails,
    /// one depth block up to 1.5·KC and balanced blocks beyond, several NC column blocks; every layout of A and B.</summary>
    [SkippableTheory]
    [InlineData("Portable")]
    [InlineData("Avx2")]
    [InlineData("Avx512")]
    public void PackedLeftOperandMatchesReference(string name)
    {
        var kernel = Enum.Parse<Gemm.GemmKernel>(name);
        Skip.IfNot(Gemm.IsSupported(kernel), $"the {name} GEMM kernel needs instructions this CPU lacks");
        var old = Gemm.Kernel;
        Gemm.Kernel = kernel;
        try
        {
            int seed = 100;
            foreach (var (m, k, n) in new[] { (64, 288, 196), (288, 64, 196), (1, 1, 1), (13, 9, 37), (7, 400, 20), (9, 1000, 17), (7, 5, 3100) })
                foreach (var la in new[] { Layout.RowMajor, Layout.ColMajor, Layout.Stepped })
                    foreach (var lb in Enum.GetValues<Layout>())
                    {
                        Check<float>(m, k, n, la, lb, accumulate: seed % 2 == 0, seed++, packed: true);
                        Check<double>(m, k, n, la, lb, accumulate: seed % 2 == 0, seed++, packed: true);
                    }
        }
        finally { Gemm.Kernel = old; }
    }

    [Fact]
    public void LargeVectorProductsSplitOverThreads()
    {
        Check<float>(1, 2000, 2100, Layout.RowMajor, Layout.RowMajor, false, 11); // vector·matrix, split over columns
        Check<double>(2100, 2000, 1, Layout.RowMajor, Layout.ColMajor, true, 12); // matrix·vector, split over rows
    }

    [Fact]
    public void LargeOuterProductsAreStreamedAndSplitOverThreads()
    {
        // k = 1 beyond 2M cells: one pass with non-temporal stores, rows split over the threads
        Check<float>(1500, 1, 1501, Layout.ColMajor, Layout.RowMajor, false, 21);
        Check<double>(1501, 1, 1500, Layout.Stepped, Layout.RowMajor, false, 22);
        Check<float>(1500, 1, 1501, Layout.RowMajor, Layout.RowMajor, true, 23);
        // a batch of outer products (per-example weight gradients), streamed together
        var rng = new Random(24);
        int count = 6, m = 500, n = 701;
        var a = new float[count * m + 5];
        var b = new float[count * n + 7];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() - 0.5);
        for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() - 0.5);
        var c = new float[1 + count * m * n + 2];
        c[0] = c[^1] = c[^2] = 42;
        int[] aOffs = [.. Enumerable.Range(0, count).Select(i => 5 + i * m)], bOffs = [.. Enumerable.Range(0, count).Select(i => i * n)];
        Gemm.MatMulBatched(a, aOffs, 1, 1, b, bOffs, n, 1, c, 1, m, 1, n, count);
        for (int e = 0; e < count; e++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    Assert.Equal(a[aOffs[e] + i] * b[bOffs[e] + j], c[1 + (e * m + i) * n + j]);
        Assert.Equal(42, c[0]);
        Assert.Equal(42, c[^1]);
        Assert.Equal(42, c[^2]);
    }

    [Fact]
    public void SeveralPackedColumnBlocks()
    {
        int old = Gemm.PackedBLimit;
        Gemm.PackedBLimit = 4096;
        try
        {
            Check<float>(100, 300, 150, Layout.RowMajor, Layout.ColMajor, false, 7);
            Check<double>(100, 300, 150, Layout.Stepped, Layout.RowMajor, true, 8);
        }
        finally { Gemm.PackedBLimit = old; }
    }

    [Fact]
    public void RowMajorOverloadAndTransposedProblem()
    {
        var rng = new Random(5);
        int m = 150, k = 90, n = 110;
        var a = new float[m * k];
        var b = new float[k * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble();
        var c1 = new float[m * n];
        Gemm.MatMul(a, 0, b, 0, c1, 0, m, k, n);
        var c2 = new float[m * n];
        Gemm.MatMul(b, 0, 1, n, a, 0, 1, k, c2, 0, n, k, m); // Cᵀ = Bᵀ·Aᵀ through the strided entry
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                Assert.Equal(c1[i * n + j], c2[j * m + i], 3);
    }

    /// <summary>The unpacked register-blocked path on edge shapes: every row count of a partial 6-row block, column
    /// counts around one and two vectors (float and double widths), depths 1 and odd, every layout of A (B rows
    /// contiguous: the path's form), float and double, overwriting and accumulating.</summary>
    [Fact]
    public void SmallPathEdgeShapes()
    {
        int seed = 100;
        foreach (int m in new[] { 1, 2, 3, 4, 5, 6, 7, 11, 13 })
            foreach (int n in new[] { 1, 3, 4, 5, 8, 9, 15, 16, 17, 24, 33, 40 })
                foreach (int k in new[] { 2, 3, 17 })
                {
                    var la = (Layout)(seed % 3);
                    Check<float>(m, k, n, la, Layout.RowMajor, accumulate: seed % 2 == 0, seed++);
                    Check<double>(m, k, n, la, Layout.RowMajor, accumulate: seed % 2 == 0, seed++);
                }
    }

    /// <summary>Products big enough for two threads on the unpacked path (split over whole 6-row blocks) and on
    /// either side of its crossover with the packed path, with A row-major and transposed.</summary>
    [Theory]
    [InlineData(128, 128, 128)]
    [InlineData(131, 97, 133)]
    [InlineData(203, 200, 205)]
    [InlineData(255, 130, 250)]
    public void SmallPathThreadsAndCrossover(int m, int k, int n)
    {
        Check<float>(m, k, n, Layout.RowMajor, Layout.RowMajor, false, 21);
        Check<float>(m, k, n, Layout.ColMajor, Layout.RowMajor, true, 22);
        Check<double>(m, k, n, Layout.RowMajor, Layout.RowMajor, true, 23);
        Check<double>(m, k, n, Layout.ColMajor, Layout.RowMajor, false, 24);
    }

    /// <summary>The unpacked path's copied column strips (B's row stride a multiple of 256 bytes: 128 and 256 float
    /// columns, 128 double columns) and its split over column strips on two threads (n at least four strips per thread,
    /// n not a multiple of the strip: the last chunk is partial), with A row-major, transposed and stepped, m not a
    /// multiple of the 6-row block, overwriting and accumulating.</summary>
    [Theory]
    [InlineData(131, 97, 128)]
    [InlineData(13, 300, 256)]
    [InlineData(200, 50, 200)]
    [InlineData(70, 128, 136)]
    public void SmallPathCopiedStripsAndColumnSplit(int m, int k, int n)
    {
        int seed = 40;
        foreach (var la in new[] { Layout.RowMajor, Layout.ColMajor, Layout.Stepped })
        {
            Check<float>(m, k, n, la, Layout.RowMajor, accumulate: seed % 2 == 0, seed++);
            Check<double>(m, k, n, la, Layout.RowMajor, accumulate: seed % 2 == 0, seed++);
        }
    }

    /// <summary>The parallel packed path's column slices (<see cref="Gemm.ColumnTiles"/>, off by default): B small enough,
    /// n with a partial last panel, every layout of A and B, float and double, overwriting and accumulating; the switch
    /// only changes how the work is cut, so other tests running meanwhile are unaffected.</summary>
    [Theory]
    [InlineData(100, 200, 250)]
    [InlineData(70, 256, 256)]
    public void PackedColumnSlicesPerThread(int m, int k, int n)
    {
        bool before = Gemm.ColumnTiles;
        Gemm.ColumnTiles = true;
        try
        {
            int seed = 60;
            foreach (var (la, lb) in new[] { (Layout.RowMajor, Layout.RowMajor), (Layout.ColMajor, Layout.ColMajor), (Layout.Stepped, Layout.RowMajor) })
            {
                Check<float>(m, k, n, la, lb, accumulate: seed % 2 == 0, seed++);
                Check<double>(m, k, n, la, lb, accumulate: seed % 2 == 0, seed++);
            }
        }
        finally { Gemm.ColumnTiles = before; }
    }

    /// <summary><see cref="Gemm.SmallProduct"/> with B's leading dimension a multiple of 256 bytes wider than n (its strips
    /// are copied before use): column counts with one- and two-vector and scalar tails, m around the 6-row block, depths
    /// short and long, all three stores, float and double.</summary>
    [Fact]
    public void SmallProductCopiedStripsWithTails()
    {
        var rng = new Random(7);
        foreach (var mode in new[] { Gemm.Store.Assign, Gemm.Store.Add, Gemm.Store.Subtract })
            foreach (var (m, k, n) in new[] { (7, 5, 16), (13, 100, 37), (20, 33, 50), (12, 384, 61), (7, 9, 8) })
            {
                int ldb = 128, ldc = n + 2, ars = k, acs = 1;
                var a = new double[m * k];
                var b = new double[k * ldb];
                var c = new double[m * ldc];
                for (int i = 0; i < a.Length; i++) a[i] = rng.NextDouble() - 0.5;
                for (int i = 0; i < b.Length; i++) b[i] = rng.NextDouble() - 0.5;
                for (int i = 0; i < c.Length; i++) c[i] = rng.NextDouble() - 0.5;
                var before = (double[])c.Clone();
                var cf = Array.ConvertAll(c, x => (float)x);
                var beforeF = (float[])cf.Clone();
                Gemm.SmallProduct(a, 0, ars, acs, b, 0, ldb, c, 0, ldc, m, k, n, mode);
                Gemm.SmallProduct(Array.ConvertAll(a, x => (float)x), 0, ars, acs, Array.ConvertAll(b, x => (float)x), 0, ldb, cf, 0, ldc, m, k, n, mode);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < ldc; j++)
                    {
                        int o = i * ldc + j;
                        if (j >= n)
                        {
                            Assert.Equal(before[o], c[o]);
                            Assert.Equal(beforeF[o], cf[o]);
                            continue;
                        }
                        double s = 0;
                        for (int p = 0; p < k; p++) s += a[i * ars + p * acs] * b[p * ldb + j];
                        double want = mode switch { Gemm.Store.Assign => s, Gemm.Store.Add => before[o] + s, _ => before[o] - s };
                        Assert.True(Math.Abs(c[o] - want) <= 1e-12 * (1 + k), $"double {m}x{k}x{n} {mode}: C[{i},{j}] = {c[o]}, want {want}");
                        Assert.True(Math.Abs(cf[o] - want) <= 1e-5 * (1 + k), $"float {m}x{k}x{n} {mode}: C[{i},{j}] = {cf[o]}, want {want}");
                    }
            }
    }

    /// <summary><see cref="Gemm.SmallProduct"/> (the entry for kernels that cut their own tiles): strided A, B rows
    /// with a leading dimension wider than n, C rows with a leading dimension wider than n, and all three stores.</summary>
    [Theory]
    [InlineData("Assign")]
    [InlineData("Add")]
    [InlineData("Subtract")]
    public void SmallProductStores(string store)
    {
        var mode = Enum.Parse<Gemm.Store>(store);
        var rng = new Random((int)mode);
        foreach (var (m, k, n) in new[] { (7, 5, 19), (13, 33, 37), (1, 9, 70), (6, 1, 16) })
        {
            int ars = 2, acs = 2 * m + 1, ldb = n + 5, ldc = n + 3;
            var a = new double[m * ars + k * acs + 1];
            var b = new double[k * ldb];
            var c = new double[m * ldc];
            for (int i = 0; i < a.Length; i++) a[i] = rng.NextDouble() - 0.5;
            for (int i = 0; i < b.Length; i++) b[i] = rng.NextDouble() - 0.5;
            for (int i = 0; i < c.Length; i++) c[i] = rng.NextDouble() - 0.5;
            var before = (double[])c.Clone();
            var cf = Array.ConvertAll(c, x => (float)x);
            var beforeF = (float[])cf.Clone();
            Gemm.SmallProduct(a, 1, ars, acs, b, 0, ldb, c, 0, ldc, m, k, n, mode);
            Gemm.SmallProduct(Array.ConvertAll(a, x => (float)x), 1, ars, acs, Array.ConvertAll(b, x => (float)x), 0, ldb, cf, 0, ldc, m, k, n, mode);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < ldc; j++)
                {
                    int o = i * ldc + j;
                    if (j >= n)
                    {
                        Assert.Equal(before[o], c[o]); // padding columns untouched
                        Assert.Equal(beforeF[o], cf[o]);
                        continue;
                    }
                    double s = 0;
                    for (int p = 0; p < k; p++) s += a[1 + i * ars + p * acs] * b[p * ldb + j];
                    double want = mode switch { Gemm.Store.Assign => s, Gemm.Store.Add => before[o] + s, _ => before[o] - s };
                    Assert.True(Math.Abs(c[o] - want) <= 1e-12 * (1 + k), $"double {m}x{k}x{n} {mode}: C[{i},{j}] = {c[o]}, want {want}");
                    Assert.True(Math.Abs(cf[o] - want) <= 1e-5 * (1 + k), $"float {m}x{k}x{n} {mode}: C[{i},{j}] = {cf[o]}, want {want}");
                }
        }
    }

    /// <summary>GemmProfile accounts one packed and one unpacked product: counts, multiply-adds, packing and
    /// kernel time present on the packed path only, parts within the thread time; nothing counted once off.</summary>
    [Fact]
    public void OutOfRangeOperandThrows()
    {
        var a = new float[10];
        var c = new float[4];
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.MatMul(a, 0, 6, 1, a, 0, 2, 1, c, 0, 2, 5, 2));
    }

    // ---- through Tensor.MatMul: views reach the kernel without copies and give the same values

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void TensorViewsMatchContiguous(DType dtype)
    {
        double tol = dtype == DType.Float32 ? 1e-4 : 1e-11;
        var x = Tensor.Randn([40, 70], dtype);
        var w = Tensor.Randn([50, 70], dtype);
        TensorAssert.Close(x.MatMul(w.T.Contiguous()), x.MatMul(w.T), rtol: tol, atol: tol);           // a @ b.T
        TensorAssert.Close(x.T.Contiguous().MatMul(x), x.T.MatMul(x), rtol: tol, atol: tol);           // a.T @ b
        TensorAssert.Close(w.Contiguous().MatMul(x.T.Contiguous()), w.MatMul(x.MT), rtol: tol, atol: tol);
        var big = Tensor.Randn([81, 141], dtype);
        var sa = big.Slice(0, 0, 80, 2).Slice(1, 1, 141, 2);                    // [40, 70], both dims stepped
        TensorAssert.Close(sa.Contiguous().MatMul(w.T.Contiguous()), sa.MatMul(w.T), rtol: tol, atol: tol);
        var col = big.Slice(1, 3, 4);                                           // [81, 1] column view
        TensorAssert.Close(big.T.Contiguous().MatMul(col.Contiguous()), big.T.MatMul(col), rtol: tol, atol: tol);
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void BatchedViewsMatchContiguous(DType dtype)
    {
        double tol = dtype == DType.Float32 ? 1e-4 : 1e-11;
        var a = Tensor.Randn([3, 20, 30], dtype);
        var b = Tensor.Randn([3, 30, 25], dtype);
        TensorAssert.Close(a.Contiguous().MatMul(b), a.MatMul(b), rtol: tol, atol: tol);
        TensorAssert.Close(a.MT.Contiguous().MatMul(a), a.MT.MatMul(a), rtol: tol, atol: tol);               // batched transposed, no fold
        var r2 = Tensor.Randn([20, 25], dtype);
        TensorAssert.Close(a.MT.Contiguous().MatMul(r2), a.MT.MatMul(r2), rtol: tol, atol: tol);             // unfoldable 3-D · 2-D
        var one = Tensor.Randn([1, 9, 11], dtype);
        var w = Tensor.Randn([1, 11, 4], dtype);
        TensorAssert.Close(one.Select(0, 0).MatMul(w.Select(0, 0)).Unsqueeze(0), one.MatMul(w), rtol: tol, atol: tol); // batch of 1
        var bc = Tensor.Randn([4, 1, 6, 5], dtype);
        var bd = Tensor.Randn([3, 5, 7], dtype);
        var want = bc.Expand([4, 3, 6, 5]).Contiguous().MatMul(bd.Expand([4, 3, 5, 7]).Contiguous());
        TensorAssert.Close(want, bc.MatMul(bd), rtol: tol, atol: tol);                                       // broadcast batch (stride 0)
        var many = Tensor.Randn([300, 16, 16], dtype);                               // many small products in parallel
        var r = many.MatMul(many.MT);
        TensorAssert.Close(many.Select(0, 123).MatMul(many.Select(0, 123).T), r.Select(0, 123), rtol: tol, atol: tol);
    }

    [Fact]
    public void EmptyInnerDimensionGivesZeros()
    {
        var y = Tensor.Zeros([3, 0]).MatMul(Tensor.Zeros([0, 4]));
        Assert.Equal([3, 4], y.ShapeArray);
        Assert.All(y.ToArray<float>(), v => Assert.Equal(0f, v));
        var yb = Tensor.Zeros([2, 3, 0], DType.Float64).MatMul(Tensor.Zeros([2, 0, 4], DType.Float64));
        Assert.All(yb.ToArray<double>(), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void GradientsThroughTransposedAndSteppedViews()
    {
        var big = Tensor.Randn([9, 8], DType.Float64);
        GradCheck.Assert(t => t[0].Slice(0, 0, 9, 2).MatMul(t[1].T), [big, Tensor.Randn([6, 8], DType.Float64)]);
        GradCheck.Assert(t => t[0].MT.MatMul(t[1]), [Tensor.Randn([2, 5, 3], DType.Float64), Tensor.Randn([5, 4], DType.Float64)]);
    }
}
