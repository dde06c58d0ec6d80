using System.Buffers;
using System.Diagnostics;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fluxion.Kernels;

/// <summary>
/// Dense matrix products C[m,n] (+)= Σ_k A[m,k]·B[k,n] for float and double.
/// <para>
/// Operands are described by an offset and a (row, column) element stride each, so transposed, sliced,
/// stepped and broadcast views are consumed without a copy: the layout is absorbed when blocks are
/// packed. C is dense row-major. Products use a BLIS-style blocked algorithm: B (KC×NC blocks) and A
/// (MC×KC blocks) are packed into pooled, 64-byte aligned scratch buffers as NR-column / MR-row
/// micro-panels (zero-padded at the edges), and a register-tiled micro-kernel computes each MR×NR
/// tile of C: AVX-512 6×32 float / 6×16 double where the runtime accelerates 512-bit vectors, else
/// AVX2+FMA 6×16 float / 6×8 double, else a portable Vector&lt;T&gt; 4×(2·W) kernel. Small products with
/// contiguous B rows skip the packing: the same 6×(2 vectors) register block reads A and B in place
/// (<see cref="SmallProduct"/>, also used by kernels that cut their own tiles).
/// </para>
/// <para>
/// Large products run on all cores: a column block of B is packed once (split over the workers), then
/// MC-row blocks of A (crossed with column groups when A has few rows) are claimed dynamically, each
/// worker packing its own A blocks (threads through <see cref="Parallelism"/>: calls from inside a parallel
/// region or a <see cref="Parallelism.Serial"/> scope run on the calling thread). Small products and vector-shaped ones
/// (m = 1 with contiguous B rows, n = 1 with contiguous A rows) take the unpacked path, split over rows when large enough.
/// </para>
/// </summary>
internal static unsafe partial class Gemm
{
    /// <summary>Up to this many multiply-adds the unpacked path (<see cref="SmallProduct"/>) is used when B's rows and
    /// A's rows are contiguous (a quarter of it when A is strided, e.g. a transposed view). Its 6×2-vector register
    /// block matches the packed micro-kernel. Since the packed micro-kernels were unrolled (C tile prefetched), A/B on
    /// thread CPU time, one thread, load ~110 (bench/Fluxion.Micro <c>ab smallpath</c>): level at 128³, the packed path
    /// ahead from 192³ (0.88-0.97x the time at 192³, 0.88x at 256³, 0.85-0.92x at 256×128×512) and at 128³ with A
    /// transposed; so the crossover is 2^22 (it was 2^23). Initialised from the FLUXION_GEMM_SMALL_WORK environment
    /// variable (benchmarks move the crossover with it).</summary>
    internal static long SmallWork = EnvLong("FLUXION_GEMM_SMALL_WORK", 1L << 22);

    /// <summary>Below this many multiply-adds a dot-product layout (A rows and B columns contiguous) takes the
    /// unpacked dot path.</summary>
    private const long DotWork = 1 << 14;

    /// <summary>Below this many multiply-adds a product runs on one thread (memory-bound vector shapes: below four
    /// times it). Initialised from the FLUXION_GEMM_PARALLEL_WORK environment variable (benchmarks try the
    /// threading threshold with it).</summary>
    internal static long ParallelWork = EnvLong("FLUXION_GEMM_PARALLEL_WORK", 1L << 20);

    private static long EnvLong(string name, long fallback) =>
        long.TryParse(Environment.GetEnvironmentVariable(name), out long v) && v >= 0 ? v : fallback;

    /// <summary>Micro-kernel families.</summary>
    internal enum GemmKernel
    {
        /// <summary>The best one the hardware supports (<see cref="Best"/>).</summary>
        Auto,
        /// <summary>Vector&lt;T&gt; kernel, any hardware.</summary>
        Portable,
        /// <summary>AVX2 + FMA, 256-bit.</summary>
        Avx2,
        /// <summary>AVX-512F, 512-bit, 32 registers.</summary>
        Avx512,
    }

    /// <summary>The kernel the hardware supports best. AVX-512 only where the runtime accelerates 512-bit
    /// vectors (it does not on parts that throttle them).</summary>
    internal static readonly GemmKernel Best =
        Avx512F.IsSupported && Vector512.IsHardwareAccelerated ? GemmKernel.Avx512
        : Fma.IsSupported && Avx2.IsSupported ? GemmKernel.Avx2
        : GemmKernel.Portable;

    /// <summary>Kernel override (tests, benchmarks; initialised from the FLUXION_GEMM_KERNEL environment
    /// variable); <see cref="GemmKernel.Auto"/>, or a kernel the hardware lacks, means <see cref="Best"/>.</summary>
    internal static GemmKernel Kernel = Environment.GetEnvironmentVariable("FLUXION_GEMM_KERNEL") is { } env
        && Enum.TryParse<GemmKernel>(env, ignoreCase: true, out var fromEnv) ? fromEnv : GemmKernel.Auto;

    /// <summary>A/B switch (bench/Fluxion.Micro <c>ab prefetch</c>): the AVX2 micro-kernels prefetch their C tile.</summary>
    internal static bool PrefetchTiles = true;

    /// <summary>Whether the hardware can run <paramref name="kernel"/>.</summary>
    internal static bool IsSupported(GemmKernel kernel) => kernel switch
    {
        GemmKernel.Avx512 => Avx512F.IsSupported,
        GemmKernel.Avx2 => Fma.IsSupported && Avx2.IsSupported,
        _ => true,
    };

    /// <summary>C = A·B for row-major A (m×k) at <paramref name="aOff"/>, B (k×n) at <paramref name="bOff"/>,
    /// C (m×n) at <paramref name="cOff"/>.</summary>
    public static void MatMul<T>(T[] a, int aOff, T[] b, int bOff, T[] c, int cOff, int m, int k, int n) where T : unmanaged, IFloatingPointIeee754<T>
        => MatMul(a, aOff, k, 1, b, bOff, n, 1, c, cOff, m, k, n, accumulate: false);

    /// <summary>
    /// C = A·B (or C += A·B when <paramref name="accumulate"/>) where element (i,p) of A is
    /// <c>a[aOff + i*aRowStride + p*aColStride]</c>, element (p,j) of B is <c>b[bOff + p*bRowStride + j*bColStride]</c>
    /// and C is dense row-major m×n at <paramref name="cOff"/>. Any non-negative strides are accepted
    /// (transposed, sliced, stepped or broadcast views); C must not overlap A or B.
    /// </summary>
    public static void MatMul<T>(T[] a, int aOff, int aRowStride, int aColStride,
                                 T[] b, int bOff, int bRowStride, int bColStride,
                                 T[] c, int cOff, int m, int k, int n, bool accumulate = false) where T : unmanaged, IFloatingPointIeee754<T>
        => MatMul(a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, c, cOff, n, m, k, n, accumulate);

    /// <summary>
    /// As the strided overload, with C row-major of leading dimension <paramref name="ldc"/> ≥ n (a block of a larger
    /// matrix, e.g. the trailing submatrix of a blocked factorization): element (i, j) of C is <c>c[cOff + i*ldc + j]</c>.
    /// </summary>
    public static void MatMul<T>(T[] a, int aOff, int aRowStride, int aColStride,
                                 T[] b, int bOff, int bRowStride, int bColStride,
                                 T[] c, int cOff, int ldc, int m, int k, int n, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Profile.Enabled)
        {
            MatMulCore(a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, c, cOff, ldc, m, k, n, accumulate);
            return;
        }
        long t0 = Stopwatch.GetTimestamp();
        Profile.Threads = 1;
        MatMulCore(a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, c, cOff, ldc, m, k, n, accumulate);
        long dt = Stopwatch.GetTimestamp() - t0;
        Interlocked.Increment(ref Profile.Calls);
        Interlocked.Add(ref Profile.WallTicks, dt);
        Interlocked.Add(ref Profile.ThreadTicks, dt * Profile.Threads);
        Interlocked.Add(ref Profile.MultiplyAdds, (long)m * n * k);
    }

    private static void MatMulCore<T>(T[] a, int aOff, int aRowStride, int aColStride,
                                      T[] b, int bOff, int bRowStride, int bColStride,
                                      T[] c, int cOff, int ldc, int m, int k, int n, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (m == 0 || n == 0) return;
        ArgumentOutOfRangeException.ThrowIfLessThan(ldc, n);
        CheckRange(c.Length, cOff, m, n, ldc, 1, "C");
        if (k == 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) c.AsSpan(cOff + i * ldc, n).Clear();
            return;
        }
        CheckRange(a.Length, aOff, m, k, aRowStride, aColStride, "A");
        CheckRange(b.Length, bOff, k, n, bRowStride, bColStride, "B");
        // strides of unit dimensions are irrelevant: normalise them so the fast layouts are recognised
        if (k == 1) { aColStride = 1; bRowStride = 1; }
        if (n == 1) bColStride = 1;
        if (k == 1 && bColStride == 1)
        {
            // an outer product (e.g. per-example weight gradients): each row of C is B's row scaled, one pass over
            // memory, split over rows when large (memory-bound: both cores' write bandwidth)
            long cells = (long)m * n;
            int ot = Parallelism.Threads(cells, OuterParallelCells);
            if (ot <= 1 || m < 2) OuterRows(a, aOff, aRowStride, b, bOff, c, cOff, ldc, 0, m, n, accumulate, cells >= StreamCells);
            else Parallelism.For(m, 2 * ot, ot, (_, r0, r1) => OuterRows(a, aOff, aRowStride, b, bOff, c, cOff, ldc, r0, r1, n, accumulate, cells >= StreamCells));
            return;
        }

        long work = (long)m * n * k;
        int threads = Parallelism.Threads(work, ParallelWork);
        bool packable = typeof(T) == typeof(float) || typeof(T) == typeof(double);
        bool rowsForm = bColStride == 1, dotForm = aColStride == 1 && bRowStride == 1;
        bool unpackedRows = rowsForm && m > 1 && work <= (aColStride == 1 ? SmallWork : SmallWork / 4);
        if (!packable || unpackedRows || (dotForm && work < DotWork) || (m == 1 && rowsForm) || (n == 1 && dotForm))
        {
            // small products with B rows contiguous (register-blocked, compute-bound), tiny dot-product layouts,
            // vector·matrix with B rows contiguous, matrix·vector with A rows contiguous (memory-bound): no packing;
            // threads from ParallelWork on for the compute-bound ones, four times that for the others, split over
            // rows in whole 6-row register blocks (or over columns when m = 1)
            if (threads <= 1 || work < (unpackedRows ? ParallelWork : 4 * ParallelWork))
            {
                long t0 = Profile.Start();
                Small(a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, c, cOff, ldc, m, k, n, accumulate);
                Profile.Stop(ref Profile.KernelTicks, t0);
                return;
            }
            Profile.Threads = threads;
            // register-blocked products wide enough for two column strips (2 vectors) per chunk split over strips: each
            // thread copies only its own strips of B (SmallRows); else over rows in whole 6-row blocks
            int stripW = 2 * Vector256<T>.Count;
            bool byStrips = unpackedRows && SmallColumnSplit && n >= 4 * threads * stripW;
            bool byRows = !byStrips && m >= 2 * threads;
            int unit = byStrips ? stripW : byRows && unpackedRows ? 6 : 1;
            int len = byRows ? (m + unit - 1) / unit : (n + unit - 1) / unit, chunks = Math.Min(len, 2 * threads);
            int ars = aRowStride, acs = aColStride, brs = bRowStride, bcs = bColStride;
            Parallelism.For(len, chunks, threads, (_, s0, s1) =>
            {
                long t0 = Profile.Start();
                if (byRows)
                {
                    int r0 = s0 * unit, r1 = Math.Min(m, s1 * unit);
                    Small(a, aOff + r0 * ars, ars, acs, b, bOff, brs, bcs, c, cOff + r0 * ldc, ldc, r1 - r0, k, n, accumulate);
                }
                else
                {
                    int j0 = s0 * unit, j1 = Math.Min(n, s1 * unit);
                    Small(a, aOff, ars, acs, b, bOff + j0 * bcs, brs, bcs, c, cOff + j0, ldc, m, k, j1 - j0, accumulate);
                }
                Profile.Stop(ref Profile.KernelTicks, t0);
            });
            return;
        }
        var kernel = Kernel == GemmKernel.Auto || !IsSupported(Kernel) ? Best : Kernel;
        if (typeof(T) == typeof(float))
        {
            var (fa, fb, fc) = (Unsafe.As<float[]>(a), Unsafe.As<float[]>(b), Unsafe.As<float[]>(c));
            if (kernel == GemmKernel.Avx512)
                Blocked<float, F32Avx512>(fa, aOff, aRowStride, aColStride, fb, bOff, bRowStride, bColStride, fc, cOff, ldc, m, k, n, accumulate, threads);
            else if (kernel == GemmKernel.Avx2)
                Blocked<float, F32Avx2>(fa, aOff, aRowStride, aColStride, fb, bOff, bRowStride, bColStride, fc, cOff, ldc, m, k, n, accumulate, threads);
            else
                Blocked<float, Portable<float>>(fa, aOff, aRowStride, aColStride, fb, bOff, bRowStride, bColStride, fc, cOff, ldc, m, k, n, accumulate, threads);
        }
        else if (typeof(T) == typeof(double))
        {
            var (da, db, dc) = (Unsafe.As<double[]>(a), Unsafe.As<double[]>(b), Unsafe.As<double[]>(c));
            if (kernel == GemmKernel.Avx512)
                Blocked<double, F64Avx512>(da, aOff, aRowStride, aColStride, db, bOff, bRowStride, bColStride, dc, cOff, ldc, m, k, n, accumulate, threads);
            else if (kernel == GemmKernel.Avx2)
                Blocked<double, F64Avx2>(da, aOff, aRowStride, aColStride, db, bOff, bRowStride, bColStride, dc, cOff, ldc, m, k, n, accumulate, threads);
            else
                Blocked<double, Portable<double>>(da, aOff, aRowStride, aColStride, db, bOff, bRowStride, bColStride, dc, cOff, ldc, m, k, n, accumulate, threads);
        }
        else
        {
            Small(a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, c, cOff, ldc, m, k, n, accumulate);
        }
    }

    /// <summary>Outer products from this many cells of C on run over rows on all threads.</summary>
    private const long OuterParallelCells = 1L << 16;

    /// <summary>Outputs of this many cells or more (8 MB of floats: beyond the caches) are written with non-temporal
    /// stores by the outer-product path: no read of C's lines before they are overwritten, no eviction of the operands.</summary>
    private const long StreamCells = 1L << 21;

    /// <summary>Rows [<paramref name="r0"/>, <paramref name="r1"/>) of the outer product C = a·b (a a column with row stride
    /// <paramref name="aRowStride"/>, b a contiguous row of <paramref name="n"/>), or C += a·b. <paramref name="stream"/>:
    /// overwrite with non-temporal stores (C is large and not read back soon).</summary>
    private static void OuterRows<T>(T[] a, int aOff, int aRowStride, T[] b, int bOff, T[] c, int cOff, int ldc, int r0, int r1, int n, bool accumulate, bool stream)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var bRow = new ReadOnlySpan<T>(b, bOff, n);
        if (stream && !accumulate && Avx.IsSupported && (typeof(T) == typeof(float) || typeof(T) == typeof(double)))
        {
            fixed (T* pb = &b[bOff], pc = &c[cOff])
            {
                for (int i = r0; i < r1; i++)
                {
                    T ai = a[aOff + i * aRowStride];
                    if (typeof(T) == typeof(float)) StreamScaled((float*)pb, Unsafe.As<T, float>(ref ai), (float*)pc + (long)i * ldc, n);
                    else StreamScaled((double*)pb, Unsafe.As<T, double>(ref ai), (double*)pc + (long)i * ldc, n);
                }
            }
            Sse.StoreFence();
            return;
        }
        for (int i = r0; i < r1; i++)
        {
            var cRow = c.AsSpan(cOff + i * ldc, n);
            T ai = a[aOff + i * aRowStride];
            if (accumulate) TensorPrimitives.MultiplyAdd(bRow, ai, cRow, cRow);
            else TensorPrimitives.Multiply(bRow, ai, cRow);
        }
    }

    /// <summary>dst[0..n) = src[0..n)·s, the aligned body with non-temporal stores.</summary>
    private static void StreamScaled(float* src, float s, float* dst, int n)
    {
        int i = 0;
        for (; i < n && ((nint)(dst + i) & 31) != 0; i++) dst[i] = src[i] * s;
        var vs = Vector256.Create(s);
        for (; i + 8 <= n; i += 8) Avx.StoreAlignedNonTemporal(dst + i, Avx.Multiply(Avx.LoadVector256(src + i), vs));
        for (; i < n; i++) dst[i] = src[i] * s;
    }

    /// <inheritdoc cref="StreamScaled(float*, float, float*, int)"/>
    private static void StreamScaled(double* src, double s, double* dst, int n)
    {
        int i = 0;
        for (; i < n && ((nint)(dst + i) & 31) != 0; i++) dst[i] = src[i] * s;
        var vs = Vector256.Create(s);
        for (; i + 4 <= n; i += 4) Avx.StoreAlignedNonTemporal(dst + i, Avx.Multiply(Avx.LoadVector256(src + i), vs));
        for (; i < n; i++) dst[i] = src[i] * s;
    }

    /// <summary>
    /// <paramref name="count"/> independent products C_i = A_i·B_i (strides as in the strided overload), A_i at
    /// <paramref name="aOffs"/>[i], B_i at <paramref name="bOffs"/>[i], C_i dense at <c>cOff + i*m*n</c>.
    /// Many small products run in parallel over the batch; large ones are parallel inside each product.
    /// </summary>
    public static void MatMulBatched<T>(T[] a, int[] aOffs, int aRowStride, int aColStride,
                                        T[] b, int[] bOffs, int bRowStride, int bColStride,
                                        T[] c, int cOff, int m, int k, int n, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long work = (long)m * n * k;
        int threads = Parallelism.Available;
        if (k == 1 && (bColStride == 1 || n == 1) && m > 0 && n > 0 && count > 1)
        {
            // outer products (per-example weight gradients): one pass over C, split over the products, streamed when C is large
            long cells = (long)count * m * n;
            bool stream = cells >= StreamCells;
            int ot = Parallelism.Threads(cells, OuterParallelCells);
            for (int i = 0; i < count; i++)
            {
                CheckRange(a.Length, aOffs[i], m, 1, aRowStride, 1, "A");
                CheckRange(b.Length, bOffs[i], 1, n, 1, 1, "B");
            }
            CheckRange(c.Length, cOff, count * m, n, n, 1, "C");
            Parallelism.For(count, 4 * ot, ot, (_, i0, i1) =>
            {
                for (int i = i0; i < i1; i++) OuterRows(a, aOffs[i], aRowStride, b, bOffs[i], c, cOff + i * m * n, n, 0, m, n, false, stream);
            });
            return;
        }
        if (count > 1 && threads > 1 && work < ParallelWork && work * count >= ParallelWork)
        {
            // each chunk is a parallel region: its products run serially
            Parallelism.For(count, threads * 4, threads, (_, i0, i1) =>
            {
                for (int i = i0; i < i1; i++)
                    MatMul(a, aOffs[i], aRowStride, aColStride, b, bOffs[i], bRowStride, bColStride, c, cOff + i * m * n, m, k, n);
            });
            return;
        }
        for (int i = 0; i < count; i++)
            MatMul(a, aOffs[i], aRowStride, aColStride, b, bOffs[i], bRowStride, bColStride, c, cOff + i * m * n, m, k, n);
    }

    private static void CheckRange(int length, int off, int rows, int cols, int rs, int cs, string name)
    {
        long last = off + (long)(rows - 1) * rs + (long)(cols - 1) * cs;
        if (off < 0 || rs < 0 || cs < 0 || last >= length)
            throw new ArgumentOutOfRangeException(name, $"Gemm: operand {name} ({rows}x{cols}, offset {off}, strides ({rs},{cs})) exceeds its buffer of {length} elements.");
    }

    /// <summary>
    /// Opt-in time accounting of <see cref="MatMul{T}(T[], int, int, int, T[], int, int, int, T[], int, int, int, int, bool)"/>
    /// (read through <c>Fluxion.Diagnostics.GemmProfile</c>): per product its wall time and the threads it used,
    /// and summed over the threads the time spent packing B, packing A and in the micro-kernels (on the unpacked
    /// path all of a chunk's time counts as kernel time). threads × wall − (pack + kernel) is the time the
    /// threads spent elsewhere: starting and joining the parallel regions, waiting for the last item, buffers.
    /// Meant for one product at a time (a benchmark); off, it costs one static read per product.
    /// </summary>
    internal static class Profile
    {
        /// <summary>Whether products are timed.</summary>
        internal static volatile bool Enabled;
        /// <summary>Threads used by the product being timed (set by the path that runs it).</summary>
        internal static int Threads;
        /// <summary>Accumulated Stopwatch ticks: packing B, packing A, micro-kernels (summed over threads).</summary>
        internal static long PackBTicks, PackATicks, KernelTicks;
        /// <summary>Accumulated wall ticks of the products, and wall ticks times threads used.</summary>
        internal static long WallTicks, ThreadTicks;
        /// <summary>Products timed and their multiply-adds.</summary>
        internal static long Calls, MultiplyAdds;

        /// <summary>Zeroes the counters.</summary>
        internal static void Reset() => PackBTicks = PackATicks = KernelTicks = WallTicks = ThreadTicks = Calls = MultiplyAdds = 0;

        /// <summary>A timestamp when enabled, else 0.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static long Start() => Enabled ? Stopwatch.GetTimestamp() : 0;

        /// <summary>Adds the ticks since <paramref name="t0"/> to <paramref name="counter"/> when enabled.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Stop(ref long counter, long t0)
        {
            if (Enabled) Interlocked.Add(ref counter, Stopwatch.GetTimestamp() - t0);
        }
    }

    // ---------------------------------------------------------------- small / matrix-vector path

    /// <summary>The unpacked path: register-blocked rows (<see cref="SmallProduct"/>) when B's rows are contiguous, dot
    /// products when A's rows and B's columns are, else a scalar loop. Bounds were checked by the caller.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Small<T>(T[] a, int aOff, int ars, int acs, T[] b, int bOff, int brs, int bcs,
                                 T[] c, int cOff, int ldc, int m, int k, int n, bool acc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool dotForm = acs == 1 && brs == 1;
        if (bcs == 1 && !(dotForm && n < Vector256<T>.Count))
            SmallProduct(a, aOff, ars, acs, b, bOff, brs, c, cOff, ldc, m, k, n, acc ? Store.Add : Store.Assign);
        else if (dotForm)
        {
            // dot form: C[i,j] = A[i,:] · B[:,j]
            for (int i = 0; i < m; i++)
            {
                var arow = new ReadOnlySpan<T>(a, aOff + i * ars, k);
                for (int j = 0; j < n; j++)
                {
                    T s = TensorPrimitives.Dot(arow, new ReadOnlySpan<T>(b, bOff + j * bcs, k));
                    ref T dst = ref c[cOff + i * ldc + j];
                    dst = acc ? dst + s : s;
                }
            }
        }
        else
        {
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    T s = T.Zero;
                    int ai = aOff + i * ars, bj = bOff + j * bcs;
                    for (int p = 0; p < k; p++) s += a[ai + p * acs] * b[bj + p * brs];
                    ref T dst = ref c[cOff + i * ldc + j];
                    dst = acc ? dst + s : s;
                }
        }
    }

    /// <summary>How a product is combined with the existing C.</summary>
    internal enum Store
    {
        /// <summary>C = A·B.</summary>
        Assign,
        /// <summary>C += A·B.</summary>
        Add,
        /// <summary>C −= A·B.</summary>
        Subtract,
    }

    /// <summary>
    /// The unpacked product for B with contiguous rows, for callers that cut their own tiles (no argument checks,
    /// no threads): C[m, n] (=, +=, −=) A·B with C rows at <c>cOff + i·ldc</c>, A element (i, p) at
    /// <c>a[aOff + i·ars + p·acs]</c> (any strides) and B row p at <c>bOff + p·ldb</c>.
    /// </summary>
    internal static void SmallProduct<T>(T[] a, int aOff, int ars, int acs, T[] b, int bOff, int ldb,
                                         T[] c, int cOff, int ldc, int m, int k, int n, Store mode) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0 || n == 0) return;
        if (Vector256<T>.IsSupported && (typeof(T) == typeof(float) || typeof(T) == typeof(double)))
            SmallRows(a, aOff, ars, acs, b, bOff, ldb, c, cOff, ldc, m, k, n, mode);
        else
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    T s = T.Zero;
                    for (int p = 0; p < k; p++) s += a[aOff + i * ars + p * acs] * b[bOff + p * ldb + j];
                    ref T dst = ref c[cOff + i * ldc + j];
                    dst = mode switch { Store.Assign => s, Store.Add => dst + s, _ => dst - s };
                }
    }

    /// <summary>
    /// C (=, +=, −=) A·B for B with contiguous rows, without packing (float and double): register blocks of up to
    /// 6 rows × 2 Vector256 columns (12 accumulators: the 16 AVX2 registers hold them, two B vectors and one
    /// broadcast A element) accumulate over the whole depth, A read as broadcast scalars (any strides), B rows
    /// streamed in place. The last rows take the same kernel with fewer rows; a column tail narrower than a
    /// vector is copied once into a zero-padded k×W buffer and computed as one more vector column.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void SmallRows<T>(T[] a, int aOff, int ars, int acs, T[] b, int bOff, int ldb,
                                     T[] c, int cOff, int ldc, int m, int k, int n, Store mode) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector256<T>.Count;
        ref T A = ref MemoryMarshal.GetArrayDataReference(a);
        ref T B = ref MemoryMarshal.GetArrayDataReference(b);
        ref T C = ref MemoryMarshal.GetArrayDataReference(c);
        int nv = n - n % w;
        bool stripFits = m > 6 && nv >= 2 * w && (long)k * 2 * w * Unsafe.SizeOf<T>() <= ColumnsOuterStripBytes;
        long ldbBytes = (long)ldb * Unsafe.SizeOf<T>();
        bool packStrips = PackSmallStrips && stripFits && (ldbBytes % ConflictStrideBytes == 0 || ldbBytes % 64 != 0 && m >= 24);
        bool stripsOuter = packStrips || ColumnsOuter && stripFits && (long)k * n * Unsafe.SizeOf<T>() > ColumnsOuterStripBytes;
        if (stripsOuter)
        {
            // B larger than L1 but a 2-vector strip of it (k × 2W) fits: walk the strips outermost, so each strip is read
            // from L2 once and reused from L1 by every row block (rows outermost re-streams all of B per 6 rows). When
            // B's row stride is a multiple of ConflictStrideBytes (64, 128, 192, 256, ... float columns) its rows map onto
            // a few L1 sets, so neither B nor a strip of it stays in L1 in place: then each strip is first copied into a
            // contiguous, 64-byte aligned k × 2W buffer (one line per depth row, conflict-free), whatever B's size. So is
            // it when B's rows are not 64-byte aligned (a strip row then spans two lines: the strip is up to twice its
            // size in L1) and there are enough row blocks (m ≥ 24) to pay for the copy. A/B on thread CPU time, one
            // thread, load ~110 (bench/Fluxion.Micro `ab smallstrip`): 0.85-0.95x the time at 128³-256³ and 256×128×512
            int j = 0;
            T* strip = stackalloc T[packStrips ? k * 2 * w + 64 / sizeof(T) : 0];
            strip = (T*)(((nint)strip + 63) & ~(nint)63);
            for (; j + 2 * w <= nv; j += 2 * w)
            {
                if (packStrips)
                {
                    PackStrip(ref Unsafe.Add(ref B, bOff + j), ldb, k, 2 * w, strip);
                    RowBlocks<T, V2>(ref Unsafe.Add(ref A, aOff), ars, acs, ref Unsafe.AsRef<T>(strip), 2 * w, ref Unsafe.Add(ref C, cOff + j), ldc, m, k, mode);
                }
                else
                    RowBlocks<T, V2>(ref Unsafe.Add(ref A, aOff), ars, acs, ref Unsafe.Add(ref B, bOff + j), ldb, ref Unsafe.Add(ref C, cOff + j), ldc, m, k, mode);
            }
            if (j < nv)
                RowBlocks<T, V1>(ref Unsafe.Add(ref A, aOff), ars, acs, ref Unsafe.Add(ref B, bOff + j), ldb, ref Unsafe.Add(ref C, cOff + j), ldc, m, k, mode);
        }
        for (int i = 0; !stripsOuter && i < m; i += 6)
        {
            int rows = Math.Min(6, m - i);
            ref T ai = ref Unsafe.Add(ref A, aOff + (nint)i * ars);
            ref T ci = ref Unsafe.Add(ref C, cOff + (nint)i * ldc);
            if (rows == 1)
            {
                OneRow(ref ai, acs, ref Unsafe.Add(ref B, bOff), ldb, ref ci, k, nv, mode);
                continue;
            }
            switch (rows)
            {
                case 6: Columns<T, R6>(ref ai, ars, acs, ref Unsafe.Add(ref B, bOff), ldb, ref ci, ldc, k, nv, mode); break;
                case 5: Columns<T, R5>(ref ai, ars, acs, ref Unsafe.Add(ref B, bOff), ldb, ref ci, ldc, k, nv, mode); break;
                case 4: Columns<T, R4>(ref ai, ars, acs, ref Unsafe.Add(ref B, bOff), ldb, ref ci, ldc, k, nv, mode); break;
                case 3: Columns<T, R3>(ref ai, ars, acs, ref Unsafe.Add(ref B, bOff), ldb, ref ci, ldc, k, nv, mode); break;
                case 2: Columns<T, R2>(ref ai, ars, acs, ref Unsafe.Add(ref B, bOff), ldb, ref ci, ldc, k, nv, mode); break;
                default: Columns<T, R1>(ref ai, ars, acs, ref Unsafe.Add(ref B, bOff), ldb, ref ci, ldc, k, nv, mode); break;
            }
        }
        if (nv == n) return;
        // column tail: B[:, nv..n] zero-padded to one vector per depth row, the result through a small tile
        int nt = n - nv;
        T[] tail = ArrayPool<T>.Shared.Rent(k * w);
        try
        {
            ref T bt = ref MemoryMarshal.GetArrayDataReference(tail);
            for (int p = 0; p < k; p++)
            {
                ref T src = ref Unsafe.Add(ref B, bOff + (nint)p * ldb + nv);
                ref T dst = ref Unsafe.Add(ref bt, (nint)p * w);
                int j = 0;
                for (; j < nt; j++) Unsafe.Add(ref dst, j) = Unsafe.Add(ref src, j);
                for (; j < w; j++) Unsafe.Add(ref dst, j) = T.Zero;
            }
            Span<T> tile = stackalloc T[6 * 16];
            ref T tt = ref MemoryMarshal.GetReference(tile);
            for (int i = 0; i < m; i += 6)
            {
                int rows = Math.Min(6, m - i);
                ref T ai = ref Unsafe.Add(ref A, aOff + (nint)i * ars);
                switch (rows)
                {
                    case 6: Block<T, R6, V1>(ref ai, ars, acs, ref bt, w, ref tt, w, k, Store.Assign); break;
                    case 5: Block<T, R5, V1>(ref ai, ars, acs, ref bt, w, ref tt, w, k, Store.Assign); break;
                    case 4: Block<T, R4, V1>(ref ai, ars, acs, ref bt, w, ref tt, w, k, Store.Assign); break;
                    case 3: Block<T, R3, V1>(ref ai, ars, acs, ref bt, w, ref tt, w, k, Store.Assign); break;
                    case 2: Block<T, R2, V1>(ref ai, ars, acs, ref bt, w, ref tt, w, k, Store.Assign); break;
                    default: Block<T, R1, V1>(ref ai, ars, acs, ref bt, w, ref tt, w, k, Store.Assign); break;
                }
                for (int r = 0; r < rows; r++)
                {
                    ref T cr = ref Unsafe.Add(ref C, cOff + (nint)(i + r) * ldc + nv);
                    for (int j = 0; j < nt; j++)
                    {
                        T s = tile[r * w + j];
                        ref T dst = ref Unsafe.Add(ref cr, j);
                        dst = mode switch { Store.Assign => s, Store.Add => dst + s, _ => dst - s };
                    }
                }
            }
        }
        finally { ArrayPool<T>.Shared.Return(tail); }
    }

    /// <summary>A/B switch (bench/Fluxion.Micro <c>ab colsouter</c>): the unpacked path walks B's column strips outermost when B outgrows L1.</summary>
    internal static bool ColumnsOuter = true;

    /// <summary>A/B switch (bench/Fluxion.Micro <c>ab smallstrip</c>): when the unpacked path walks B's column strips
    /// outermost, each strip is first copied into a contiguous aligned buffer (see <see cref="SmallRows{T}"/>).</summary>
    internal static bool PackSmallStrips = true;

    /// <summary>Copies B[0..k, 0..width) (rows at stride <paramref name="ldb"/>; width a multiple of the vector width)
    /// into <paramref name="dst"/> as k contiguous rows of <paramref name="width"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackStrip<T>(ref T b, nint ldb, int k, int width, T* dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nuint w = (nuint)Vector256<T>.Count;
        for (int p = 0; p < k; p++, dst += width)
        {
            ref T src = ref Unsafe.Add(ref b, p * ldb);
            for (nuint j = 0; j < (nuint)width; j += w)
                Vector256.LoadUnsafe(ref src, j).Store(dst + j);
        }
    }

    /// <summary>Bytes of B's column strip that should stay in L1 (the unpacked path's strip order applies up to it).</summary>
    private const long ColumnsOuterStripBytes = 24 << 10;

    /// <summary>B row strides (bytes) that are a multiple of this map a column strip's rows onto at most 16 of the 64 L1
    /// sets (128 lines in 8 ways): the unpacked path copies such strips before use (<see cref="PackSmallStrips"/>).</summary>
    private const long ConflictStrideBytes = 256;

    /// <summary>Whether the unpacked path's threads split C by column strips (each thread copies only its own strips of B)
    /// rather than by rows. Initialised from FLUXION_GEMM_SMALL_SPLIT (<c>rows</c> turns it off; for wall-clock A/B on a
    /// quiet machine).</summary>
    internal static bool SmallColumnSplit = Environment.GetEnvironmentVariable("FLUXION_GEMM_SMALL_SPLIT") != "rows";

    /// <summary>One column strip (<typeparamref name="TV"/> vectors wide) across all <paramref name="m"/> rows, in 6-row register blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBlocks<T, TV>(ref T a, int ars, int acs, ref T b, int ldb, ref T c, int ldc, int m, int k, Store mode)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct, IConst
    {
        for (int i = 0; i < m; i += 6)
        {
            ref T ai = ref Unsafe.Add(ref a, (nint)i * ars);
            ref T ci = ref Unsafe.Add(ref c, (nint)i * ldc);
            switch (Math.Min(6, m - i))
            {
                case 6: Block<T, R6, TV>(ref ai, ars, acs, ref b, ldb, ref ci, ldc, k, mode); break;
                case 5: Block<T, R5, TV>(ref ai, ars, acs, ref b, ldb, ref ci, ldc, k, mode); break;
                case 4: Block<T, R4, TV>(ref ai, ars, acs, ref b, ldb, ref ci, ldc, k, mode); break;
                case 3: Block<T, R3, TV>(ref ai, ars, acs, ref b, ldb, ref ci, ldc, k, mode); break;
                case 2: Block<T, R2, TV>(ref ai, ars, acs, ref b, ldb, ref ci, ldc, k, mode); break;
                default: Block<T, R1, TV>(ref ai, ars, acs, ref b, ldb, ref ci, ldc, k, mode); break;
            }
        }
    }

    /// <summary>One row block (<typeparamref name="TR"/> rows) across the first <paramref name="nv"/> columns
    /// (a multiple of the vector width): two vectors at a time, then one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Columns<T, TR>(ref T a, int ars, int acs, ref T b, int ldb, ref T c, int ldc, int k, int nv, Store mode)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IConst
    {
        int w = Vector256<T>.Count, j = 0;
        for (; j + 2 * w <= nv; j += 2 * w)
            Block<T, TR, V2>(ref a, ars, acs, ref Unsafe.Add(ref b, j), ldb, ref Unsafe.Add(ref c, j), ldc, k, mode);
        if (j < nv)
            Block<T, TR, V1>(ref a, ars, acs, ref Unsafe.Add(ref b, j), ldb, ref Unsafe.Add(ref c, j), ldc, k, mode);
    }

    /// <summary>One row across the first <paramref name="nv"/> columns: four vectors at a time (four independent
    /// accumulator chains hide the FMA latency), then one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneRow<T>(ref T a, nint acs, ref T b, nint ldb, ref T c, int k, int nv, Store mode)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nuint w = (nuint)Vector256<T>.Count;
        int j = 0;
        for (; j + 4 * (int)w <= nv; j += 4 * (int)w)
        {
            Vector256<T> s0 = default, s1 = default, s2 = default, s3 = default;
            ref T bp = ref Unsafe.Add(ref b, j);
            nint ap = 0;
            for (int p = 0; p < k; p++, ap += acs, bp = ref Unsafe.Add(ref bp, ldb))
            {
                var x = Vector256.Create(Unsafe.Add(ref a, ap));
                s0 = MulAdd(x, Vector256.LoadUnsafe(ref bp), s0);
                s1 = MulAdd(x, Vector256.LoadUnsafe(ref bp, w), s1);
                s2 = MulAdd(x, Vector256.LoadUnsafe(ref bp, 2 * w), s2);
                s3 = MulAdd(x, Vector256.LoadUnsafe(ref bp, 3 * w), s3);
            }
            ref T cj = ref Unsafe.Add(ref c, j);
            StoreBlockRow<T, V2>(ref cj, w, s0, s1, mode);
            StoreBlockRow<T, V2>(ref Unsafe.Add(ref cj, 2 * w), w, s2, s3, mode);
        }
        for (; j < nv; j += (int)w)
            Block<T, R1, V1>(ref a, 0, acs, ref Unsafe.Add(ref b, j), ldb, ref Unsafe.Add(ref c, j), 0, k, mode);
    }

    /// <summary>A compile-time count (rows or vectors of a register block): the JIT specializes each block for it.</summary>
    private interface IConst
    {
        /// <summary>The count.</summary>
        static abstract int N { get; }
    }

    private struct R1 : IConst { public static int N => 1; }
    private struct R2 : IConst { public static int N => 2; }
    private struct R3 : IConst { public static int N => 3; }
    private struct R4 : IConst { public static int N => 4; }
    private struct R5 : IConst { public static int N => 5; }
    private struct R6 : IConst { public static int N => 6; }
    private struct V1 : IConst { public static int N => 1; }
    private struct V2 : IConst { public static int N => 2; }

    /// <summary>a·b + c, fused where the hardware has FMA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> MulAdd<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Fma.IsSupported)
        {
            if (typeof(T) == typeof(float)) return Fma.MultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double)) return Fma.MultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        }
        return a * b + c;
    }

    /// <summary>
    /// The register block of the unpacked path: C[0..R, 0..V·W] (=, +=, −=) Σ_p A[r, p]·B[p, 0..V·W] with
    /// R ≤ 6 rows and V ≤ 2 vectors, accumulated in R·V registers over the whole depth.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<T, TR, TV>(ref T a, nint ars, nint acs, ref T b, nint ldb, ref T c, nint ldc, int k, Store mode)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IConst where TV : struct, IConst
    {
        nuint w = (nuint)Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                     c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        ref T a0 = ref a;
        ref T a1 = ref Unsafe.Add(ref a, TR.N > 1 ? ars : 0);
        ref T a2 = ref Unsafe.Add(ref a, TR.N > 2 ? 2 * ars : 0);
        ref T a3 = ref Unsafe.Add(ref a, TR.N > 3 ? 3 * ars : 0);
        ref T a4 = ref Unsafe.Add(ref a, TR.N > 4 ? 4 * ars : 0);
        ref T a5 = ref Unsafe.Add(ref a, TR.N > 5 ? 5 * ars : 0);
        ref T bp = ref b;
        nint ap = 0;
        for (int p = 0; p < k; p++)
        {
            var b0 = Vector256.LoadUnsafe(ref bp);
            var b1 = TV.N > 1 ? Vector256.LoadUnsafe(ref bp, w) : default;
            var x = Vector256.Create(Unsafe.Add(ref a0, ap));
            c00 = MulAdd(x, b0, c00);
            if (TV.N > 1) c01 = MulAdd(x, b1, c01);
            if (TR.N > 1)
            {
                x = Vector256.Create(Unsafe.Add(ref a1, ap));
                c10 = MulAdd(x, b0, c10);
                if (TV.N > 1) c11 = MulAdd(x, b1, c11);
            }
            if (TR.N > 2)
            {
                x = Vector256.Create(Unsafe.Add(ref a2, ap));
                c20 = MulAdd(x, b0, c20);
                if (TV.N > 1) c21 = MulAdd(x, b1, c21);
            }
            if (TR.N > 3)
            {
                x = Vector256.Create(Unsafe.Add(ref a3, ap));
                c30 = MulAdd(x, b0, c30);
                if (TV.N > 1) c31 = MulAdd(x, b1, c31);
            }
            if (TR.N > 4)
            {
                x = Vector256.Create(Unsafe.Add(ref a4, ap));
                c40 = MulAdd(x, b0, c40);
                if (TV.N > 1) c41 = MulAdd(x, b1, c41);
            }
            if (TR.N > 5)
            {
                x = Vector256.Create(Unsafe.Add(ref a5, ap));
                c50 = MulAdd(x, b0, c50);
                if (TV.N > 1) c51 = MulAdd(x, b1, c51);
            }
            ap += acs;
            bp = ref Unsafe.Add(ref bp, ldb);
        }
        StoreBlockRow<T, TV>(ref c, w, c00, c01, mode);
        if (TR.N > 1) StoreBlockRow<T, TV>(ref Unsafe.Add(ref c, ldc), w, c10, c11, mode);
        if (TR.N > 2) StoreBlockRow<T, TV>(ref Unsafe.Add(ref c, 2 * ldc), w, c20, c21, mode);
        if (TR.N > 3) StoreBlockRow<T, TV>(ref Unsafe.Add(ref c, 3 * ldc), w, c30, c31, mode);
        if (TR.N > 4) StoreBlockRow<T, TV>(ref Unsafe.Add(ref c, 4 * ldc), w, c40, c41, mode);
        if (TR.N > 5) StoreBlockRow<T, TV>(ref Unsafe.Add(ref c, 5 * ldc), w, c50, c51, mode);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreBlockRow<T, TV>(ref T c, nuint w, Vector256<T> v0, Vector256<T> v1, Store mode)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct, IConst
    {
        if (mode == Store.Add)
        {
            v0 += Vector256.LoadUnsafe(ref c);
            if (TV.N > 1) v1 += Vector256.LoadUnsafe(ref c, w);
        }
        else if (mode == Store.Subtract)
        {
            v0 = Vector256.LoadUnsafe(ref c) - v0;
            if (TV.N > 1) v1 = Vector256.LoadUnsafe(ref c, w) - v1;
        }
        v0.StoreUnsafe(ref c);
        if (TV.N > 1) v1.StoreUnsafe(ref c, w);
    }
    // ---------------------------------------------------------------- blocked path

    /// <summary>A register-tiled micro-kernel and its blocking parameters.</summary>
    private interface IKernel<T> where T : unmanaged
    {
        /// <summary>Rows of the register tile.</summary>
        static abstract int MR { get; }
        /// <summary>Columns of the register tile.</summary>
        static abstract int NR { get; }
        /// <summary>Depth of a packed block (B micro-panel KC×NR should sit in L1).</summary>
        static abstract int KC { get; }
        /// <summary>Rows of a packed A block (MC×KC should sit in L2).</summary>
        static abstract int MC { get; }
        /// <summary>Columns of a packed B block.</summary>
        static abstract int NC { get; }
        /// <summary>C[0..MR, 0..NR] (+)= Ap·Bp for packed micro-panels Ap (kc×MR) and Bp (kc×NR).</summary>
        static abstract void Run(int kc, T* a, T* b, T* c, nint ldc, bool add);
    }

    private static int RoundUp(int x, int r) => (x + r - 1) / r * r;

    /// <summary>Whether the parallel packed path runs products with a small B (at most <see cref="ColumnTilesMaxB"/>
    /// elements) as one column slice per thread, each packing its own part of B. Off by default (not yet measured on a
    /// quiet machine); initialised from FLUXION_GEMM_COLUMN_TILES (<c>1</c> turns it on) for a wall-clock A/B.</summary>
    internal static bool ColumnTiles = Environment.GetEnvironmentVariable("FLUXION_GEMM_COLUMN_TILES") == "1";

    /// <summary>Largest B (k·n elements) for <see cref="ColumnTiles"/>: 256³'s B.</summary>
    private const long ColumnTilesMaxB = 1L << 16;

    /// <summary>Upper bound on the elements of B packed at once by the parallel path (its column block is
    /// narrowed to fit). A field so tests can exercise several column blocks on small inputs.</summary>
    internal static int PackedBLimit = 1 << 23;

    /// <summary>
    /// The parallel blocked product, with two parallel regions per column block and no barrier in between
    /// depth blocks: first the whole column block of B (all of K) is packed, split over the workers; then
    /// the work items, MC-row blocks of A (times groups of NR-column panels when A has few rows), are
    /// claimed dynamically. Each item walks all depth blocks, packing its own A block each time, so every
    /// element of A and B is packed once. Dynamic items keep both cores busy when another process steals one.
    /// </summary>
    private static void Blocked<T, TK>(T[] a, int aOff, int ars, int acs, T[] b, int bOff, int brs, int bcs,
                                       T[] c, int cOff, int ldc, int m, int k, int n, bool acc, int threads)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : struct, IKernel<T>
    {
        if (threads <= 1)
        {
            Tile<T, TK>(a, aOff, ars, acs, b, bOff, brs, bcs, c, cOff, ldc, m, k, n, acc);
            return;
        }
        Profile.Threads = threads;
        if (ColumnTiles && (long)k * n <= ColumnTilesMaxB && n >= 4 * threads * TK.NR)
        {
            // a small B (e.g. 256³): one parallel region of column slices, each thread packing only its own B columns
            // (and all of A) in the sequential blocked product, instead of B packed on one thread, then a second region
            int panels = (n + TK.NR - 1) / TK.NR;
            Parallelism.For(panels, threads, threads, (_, p0, p1) =>
            {
                int j0 = p0 * TK.NR, j1 = Math.Min(n, p1 * TK.NR);
                Tile<T, TK>(a, aOff, ars, acs, b, bOff + j0 * bcs, brs, bcs, c, cOff + j0, ldc, m, k, j1 - j0, acc);
            });
            return;
        }
        int target = 4 * threads;
        int ni = Math.Min(Math.Max((m + TK.MC - 1) / TK.MC, target), Math.Max(1, m / (4 * TK.MR)));
        // small products (few row blocks): a multiple of the threads, so no core idles at the end of the region
        if (ni < target && ni > threads) ni = ni / threads * threads;
        // row blocks balanced in whole micro-panels (item bi has rows [micro·bi/ni, micro·(bi+1)/ni)·MR)
        int micro = (m + TK.MR - 1) / TK.MR;
        ni = Math.Min(ni, micro);
        int mc = (micro + ni - 1) / ni * TK.MR;
        int kBlocks = (k + TK.KC - 1) / TK.KC;
        int ncBlock = Math.Min(RoundUp(n, TK.NR), Math.Max(TK.NR, PackedBLimit / k / TK.NR * TK.NR));
        int align = 64 / sizeof(T);
        T[] bufB = ArrayPool<T>.Shared.Rent(ncBlock * k + align);
        try
        {
            fixed (T* pa = &MemoryMarshal.GetArrayDataReference(a), pb = &MemoryMarshal.GetArrayDataReference(b),
                   pc = &MemoryMarshal.GetArrayDataReference(c), bb = &MemoryMarshal.GetArrayDataReference(bufB))
            {
                nint aBase = (nint)(pa + aOff), bBase = (nint)(pb + bOff), cBase = (nint)(pc + cOff);
                nint bp = ((nint)bb + 63) & ~(nint)63;
                for (int jc = 0; jc < n; jc += ncBlock)
                {
                    int nc = Math.Min(ncBlock, n - jc);
                    int npanels = (nc + TK.NR - 1) / TK.NR;
                    // packed layout: depth block after depth block, each kc×nc as NR-column panels
                    long packWork = (long)k * nc * (bcs == 1 ? 1 : 4);
                    int groups = packWork < 1 << 18 ? 1 : Math.Min(npanels * kBlocks, target);
                    if (groups == 1)
                    {
                        long t0 = Profile.Start();
                        PackBAll<T, TK>(bBase, brs, bcs, jc, k, nc, bp, 0, npanels * kBlocks);
                        Profile.Stop(ref Profile.PackBTicks, t0);
                    }
                    else
                        Parallelism.For(npanels * kBlocks, groups, threads, (_, s, e) =>
                        {
                            long t0 = Profile.Start();
                            PackBAll<T, TK>(bBase, brs, bcs, jc, k, nc, bp, s, e);
                            Profile.Stop(ref Profile.PackBTicks, t0);
                        });
                    int nj = ni >= target ? 1 : Math.Min((target + ni - 1) / ni, Math.Max(1, npanels / 4));
                    Parallelism.For(ni * nj, ni * nj, threads, (item, _, _) =>
                    {
                        int bi = item / nj, bj = item % nj;
                        int i0 = (int)((long)micro * bi / ni) * TK.MR, rows = Math.Min(m, (int)((long)micro * (bi + 1) / ni) * TK.MR) - i0;
                        int j0 = (int)((long)npanels * bj / nj) * TK.NR;
                        int j1 = Math.Min(nc, (int)((long)npanels * (bj + 1) / nj) * TK.NR);
                        int kcMax = Math.Min(k, TK.KC);
                        T[] bufA = ArrayPool<T>.Shared.Rent(mc * kcMax + align + 8); // + 8: PackRows* store past the panel end
                        try
                        {
                            fixed (T* ba = &MemoryMarshal.GetArrayDataReference(bufA))
                            {
                                T* ap = (T*)(((nint)ba + 63) & ~(nint)63);
                                T* tmp = stackalloc T[TK.MR * TK.NR + align];
                                tmp = (T*)(((nint)tmp + 63) & ~(nint)63);
                                long packTicks = 0, kernelTicks = 0;
                                for (int pcol = 0; pcol < k; pcol += TK.KC)
                                {
                                    int kc = Math.Min(TK.KC, k - pcol);
                                    long t0 = Profile.Start();
                                    PackA<T, TK>((T*)aBase + (nint)i0 * ars + (nint)pcol * acs, ars, acs, rows, kc, ap);
                                    long t1 = Profile.Start();
                                    T* bBlock = (T*)bp + (nint)pcol * RoundUp(nc, TK.NR);
                                    Macro<T, TK>(ap, bBlock + (nint)j0 * kc, (T*)cBase + (nint)i0 * ldc + jc + j0, ldc, rows, j1 - j0, kc,
                                                 acc || pcol > 0, tmp);
                                    packTicks += t1 - t0;
                                    kernelTicks += Profile.Start() - t1;
                                }
                                if (Profile.Enabled)
                                {
                                    Interlocked.Add(ref Profile.PackATicks, packTicks);
                                    Interlocked.Add(ref Profile.KernelTicks, kernelTicks);
                                }
                            }
                        }
                        finally { ArrayPool<T>.Shared.Return(bufA); }
                    });
                }
            }
        }
        finally { ArrayPool<T>.Shared.Return(bufB); }
    }

    /// <summary>Packs units [u0, u1) of a column block of B (all depth blocks), a unit being one NR-column
    /// panel of one depth block (unit = depthBlock * panels + panel).</summary>
    private static void PackBAll<T, TK>(nint bBase, int brs, int bcs, int jc, int k, int nc, nint bp, int u0, int u1)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : struct, IKernel<T>
    {
        int npanels = (nc + TK.NR - 1) / TK.NR;
        int ncPad = npanels * TK.NR;
        while (u0 < u1)
        {
            int kb = u0 / npanels, p0 = u0 % npanels;
            int p1 = Math.Min(npanels, p0 + (u1 - u0));
            int pcol = kb * TK.KC, kc = Math.Min(TK.KC, k - pcol);
            int j0 = p0 * TK.NR, j1 = Math.Min(nc, p1 * TK.NR);
            T* src = (T*)bBase + (nint)pcol * brs + (nint)(jc + j0) * bcs;
            PackB<T, TK>(src, brs, bcs, kc, j1 - j0, (T*)bp + (nint)pcol * ncPad + (nint)j0 * kc);
            u0 += p1 - p0;
        }
    }

    /// <summary>The sequential blocked product on one output tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<T, TK>(T[] a, int aOff, int ars, int acs, T[] b, int bOff, int brs, int bcs,
                                    T[] c, int cOff, int ldc, int m, int k, int n, bool acc)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : struct, IKernel<T>
    {
        int kcMax = Math.Min(k, TK.KC);
        int mcMax = Math.Min(RoundUp(m, TK.MR), TK.MC);
        int ncMax = Math.Min(RoundUp(n, TK.NR), TK.NC);
        int align = 64 / sizeof(T);
        T[] bufA = ArrayPool<T>.Shared.Rent(mcMax * kcMax + align + 8); // + 8: PackRows* store past the panel end
        T[] bufB = ArrayPool<T>.Shared.Rent(ncMax * kcMax + align);
        try
        {
            fixed (T* pa = &MemoryMarshal.GetArrayDataReference(a), pb = &MemoryMarshal.GetArrayDataReference(b),
                   pc = &MemoryMarshal.GetArrayDataReference(c),
                   ba = &MemoryMarshal.GetArrayDataReference(bufA), bb = &MemoryMarshal.GetArrayDataReference(bufB))
            {
                T* ap = (T*)(((nint)ba + 63) & ~(nint)63);
                T* bp = (T*)(((nint)bb + 63) & ~(nint)63);
                T* tmp = stackalloc T[TK.MR * TK.NR + align];
                tmp = (T*)(((nint)tmp + 63) & ~(nint)63);
                for (int jc = 0; jc < n; jc += TK.NC)
                {
                    int nc = Math.Min(TK.NC, n - jc);
                    for (int pcol = 0; pcol < k; pcol += TK.KC)
                    {
                        int kc = Math.Min(TK.KC, k - pcol);
                        long t0 = Profile.Start();
                        PackB<T, TK>(pb + bOff + (nint)pcol * brs + (nint)jc * bcs, brs, bcs, kc, nc, bp);
                        Profile.Stop(ref Profile.PackBTicks, t0);
                        bool add = acc || pcol > 0;
                        for (int ic = 0; ic < m; ic += TK.MC)
                        {
                            int mc = Math.Min(TK.MC, m - ic);
                            t0 = Profile.Start();
                            PackA<T, TK>(pa + aOff + (nint)ic * ars + (nint)pcol * acs, ars, acs, mc, kc, ap);
                            Profile.Stop(ref Profile.PackATicks, t0);
                            t0 = Profile.Start();
                            Macro<T, TK>(ap, bp, pc + cOff + (nint)ic * ldc + jc, ldc, mc, nc, kc, add, tmp);
                            Profile.Stop(ref Profile.KernelTicks, t0);
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(bufA);
            ArrayPool<T>.Shared.Return(bufB);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Macro<T, TK>(T* ap, T* bp, T* c, nint ldc, int mc, int nc, int kc, bool add, T* tmp)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : struct, IKernel<T>
    {
        for (int jr = 0; jr < nc; jr += TK.NR)
        {
            int nr = Math.Min(TK.NR, nc - jr);
            T* bpanel = bp + (nint)jr * kc;
            for (int ir = 0; ir < mc; ir += TK.MR)
            {
                int mr = Math.Min(TK.MR, mc - ir);
                T* apanel = ap + (nint)ir * kc;
                T* ct = c + ir * ldc + jr;
                if (mr == TK.MR && nr == TK.NR)
                {
                    TK.Run(kc, apanel, bpanel, ct, ldc, add);
                    continue;
                }
                TK.Run(kc, apanel, bpanel, tmp, TK.NR, false);
                for (int i = 0; i < mr; i++)
                {
                    T* src = tmp + i * TK.NR;
                    T* dst = ct + i * ldc;
                    if (add) for (int j = 0; j < nr; j++) dst[j] += src[j];
                    else for (int j = 0; j < nr; j++) dst[j] = src[j];
                }
            }
        }
    }

    /// <summary>Packs B[0..kc, 0..nc] as NR-column micro-panels: panel j holds B[p, j..j+NR] at p*NR, zero-padded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB<T, TK>(T* src, nint rs, nint cs, int kc, int nc, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : struct, IKernel<T>
    {
        int NR = TK.NR;
        for (int j = 0; j < nc; j += NR)
        {
            int cols = Math.Min(NR, nc - j);
            T* s = src + j * cs;
            T* d = dst + (nint)j * kc;
            if (cols == NR && cs == 1)
            {
                for (int p = 0; p < kc; p++, s += rs, d += NR)
                {
                    Unsafe.CopyBlockUnaligned(d, s, (uint)(sizeof(T) * TK.NR));
                }
            }
            else if (cols == NR && rs == 1)
            {
                // B's columns are contiguous (a transposed view, e.g. x @ w.T): transpose in register tiles
                int p0 = 0;
                if (typeof(T) == typeof(float) && Avx.IsSupported && NR % 8 == 0)
                    p0 = PackTransposedF32((float*)s, cs, kc, NR, (float*)d);
                else if (typeof(T) == typeof(double) && Avx.IsSupported && NR % 4 == 0)
                    p0 = PackTransposedF64((double*)s, cs, kc, NR, (double*)d);
                for (int jj = 0; jj < NR; jj++)
                {
                    T* sc = s + jj * cs;
                    T* dc = d + jj;
                    for (int p = p0; p < kc; p++) dc[(nint)p * NR] = sc[p];
                }
            }
            else
            {
                for (int p = 0; p < kc; p++, d += NR)
                {
                    T* sp = s + p * rs;
                    int jj = 0;
                    for (; jj < cols; jj++) d[jj] = sp[jj * cs];
                    for (; jj < NR; jj++) d[jj] = T.Zero;
                }
            }
        }
    }

    /// <summary>dst[p*nr + j] = src[j*cs + p] for j &lt; nr, p &lt; (kc rounded down to 8), by 8×8 AVX transposes.
    /// Returns the number of depth rows done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int PackTransposedF32(float* src, nint cs, int kc, int nr, float* dst)
    {
        int kv = kc & ~7;
        for (int j = 0; j < nr; j += 8)
        {
            float* s0 = src + j * cs;
            for (int p = 0; p < kv; p += 8)
            {
                float* sp = s0 + p;
                var r0 = Avx.LoadVector256(sp);
                var r1 = Avx.LoadVector256(sp + cs);
                var r2 = Avx.LoadVector256(sp + 2 * cs);
                var r3 = Avx.LoadVector256(sp + 3 * cs);
                var r4 = Avx.LoadVector256(sp + 4 * cs);
                var r5 = Avx.LoadVector256(sp + 5 * cs);
                var r6 = Avx.LoadVector256(sp + 6 * cs);
                var r7 = Avx.LoadVector256(sp + 7 * cs);
                var t0 = Avx.UnpackLow(r0, r1);
                var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3);
                var t3 = Avx.UnpackHigh(r2, r3);
                var t4 = Avx.UnpackLow(r4, r5);
                var t5 = Avx.UnpackHigh(r4, r5);
                var t6 = Avx.UnpackLow(r6, r7);
                var t7 = Avx.UnpackHigh(r6, r7);
                var u0 = Avx.Shuffle(t0, t2, 0x44);
                var u1 = Avx.Shuffle(t0, t2, 0xEE);
                var u2 = Avx.Shuffle(t1, t3, 0x44);
                var u3 = Avx.Shuffle(t1, t3, 0xEE);
                var u4 = Avx.Shuffle(t4, t6, 0x44);
                var u5 = Avx.Shuffle(t4, t6, 0xEE);
                var u6 = Avx.Shuffle(t5, t7, 0x44);
                var u7 = Avx.Shuffle(t5, t7, 0xEE);
                float* dp = dst + (nint)p * nr + j;
                nint step = nr;
                Avx.Store(dp, Avx.Permute2x128(u0, u4, 0x20));
                Avx.Store(dp + step, Avx.Permute2x128(u1, u5, 0x20));
                Avx.Store(dp + 2 * step, Avx.Permute2x128(u2, u6, 0x20));
                Avx.Store(dp + 3 * step, Avx.Permute2x128(u3, u7, 0x20));
                Avx.Store(dp + 4 * step, Avx.Permute2x128(u0, u4, 0x31));
                Avx.Store(dp + 5 * step, Avx.Permute2x128(u1, u5, 0x31));
                Avx.Store(dp + 6 * step, Avx.Permute2x128(u2, u6, 0x31));
                Avx.Store(dp + 7 * step, Avx.Permute2x128(u3, u7, 0x31));
            }
        }
        return kv;
    }

    /// <summary>dst[p*nr + j] = src[j*cs + p] for j &lt; nr, p &lt; (kc rounded down to 4), by 4×4 AVX transposes.
    /// Returns the number of depth rows done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int PackTransposedF64(double* src, nint cs, int kc, int nr, double* dst)
    {
        int kv = kc & ~3;
        for (int j = 0; j < nr; j += 4)
        {
            double* s0 = src + j * cs;
            for (int p = 0; p < kv; p += 4)
            {
                double* sp = s0 + p;
                var r0 = Avx.LoadVector256(sp);
                var r1 = Avx.LoadVector256(sp + cs);
                var r2 = Avx.LoadVector256(sp + 2 * cs);
                var r3 = Avx.LoadVector256(sp + 3 * cs);
                var t0 = Avx.UnpackLow(r0, r1);
                var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3);
                var t3 = Avx.UnpackHigh(r2, r3);
                double* dp = dst + (nint)p * nr + j;
                nint step = nr;
                Avx.Store(dp, Avx.Permute2x128(t0, t2, 0x20));
                Avx.Store(dp + step, Avx.Permute2x128(t1, t3, 0x20));
                Avx.Store(dp + 2 * step, Avx.Permute2x128(t0, t2, 0x31));
                Avx.Store(dp + 3 * step, Avx.Permute2x128(t1, t3, 0x31));
            }
        }
        return kv;
    }

    /// <summary>dst[p*6 + r] = src[r*rs + p] for r &lt; 6, p &lt; (kc rounded down to 8), by 8×8 AVX transposes
    /// (rows 6 and 7 zero). Each 8-wide store spills 2 elements into the next slot, which the next store (or
    /// the caller's tail, or the next panel) overwrites: the buffer needs 2 elements of slack at its end.
    /// Returns the number of depth columns done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int PackRowsF32x6(float* src, nint rs, int kc, float* dst)
    {
        int kv = kc & ~7;
        var z = Vector256<float>.Zero;
        for (int p = 0; p < kv; p += 8)
        {
            float* sp = src + p;
            var r0 = Avx.LoadVector256(sp);
            var r1 = Avx.LoadVector256(sp + rs);
            var r2 = Avx.LoadVector256(sp + 2 * rs);
            var r3 = Avx.LoadVector256(sp + 3 * rs);
            var r4 = Avx.LoadVector256(sp + 4 * rs);
            var r5 = Avx.LoadVector256(sp + 5 * rs);
            var t0 = Avx.UnpackLow(r0, r1);
            var t1 = Avx.UnpackHigh(r0, r1);
            var t2 = Avx.UnpackLow(r2, r3);
            var t3 = Avx.UnpackHigh(r2, r3);
            var t4 = Avx.UnpackLow(r4, r5);
            var t5 = Avx.UnpackHigh(r4, r5);
            var u0 = Avx.Shuffle(t0, t2, 0x44);
            var u1 = Avx.Shuffle(t0, t2, 0xEE);
            var u2 = Avx.Shuffle(t1, t3, 0x44);
            var u3 = Avx.Shuffle(t1, t3, 0xEE);
            var u4 = Avx.Shuffle(t4, z, 0x44);
            var u5 = Avx.Shuffle(t4, z, 0xEE);
            var u6 = Avx.Shuffle(t5, z, 0x44);
            var u7 = Avx.Shuffle(t5, z, 0xEE);
            float* dp = dst + (nint)p * 6;
            Avx.Store(dp, Avx.Permute2x128(u0, u4, 0x20));
            Avx.Store(dp + 6, Avx.Permute2x128(u1, u5, 0x20));
            Avx.Store(dp + 12, Avx.Permute2x128(u2, u6, 0x20));
            Avx.Store(dp + 18, Avx.Permute2x128(u3, u7, 0x20));
            Avx.Store(dp + 24, Avx.Permute2x128(u0, u4, 0x31));
            Avx.Store(dp + 30, Avx.Permute2x128(u1, u5, 0x31));
            Avx.Store(dp + 36, Avx.Permute2x128(u2, u6, 0x31));
            Avx.Store(dp + 42, Avx.Permute2x128(u3, u7, 0x31));
        }
        return kv;
    }

    /// <summary>Double version of <see cref="PackRowsF32x6"/>: rows 0–3 and 4–5 (plus two zero rows) by 4×4
    /// transposes, p &lt; (kc rounded down to 4); the same 2-element spill.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int PackRowsF64x6(double* src, nint rs, int kc, double* dst)
    {
        int kv = kc & ~3;
        var z = Vector256<double>.Zero;
        for (int p = 0; p < kv; p += 4)
        {
            double* sp = src + p;
            var r0 = Avx.LoadVector256(sp);
            var r1 = Avx.LoadVector256(sp + rs);
            var r2 = Avx.LoadVector256(sp + 2 * rs);
            var r3 = Avx.LoadVector256(sp + 3 * rs);
            var r4 = Avx.LoadVector256(sp + 4 * rs);
            var r5 = Avx.LoadVector256(sp + 5 * rs);
            var t0 = Avx.UnpackLow(r0, r1);
            var t1 = Avx.UnpackHigh(r0, r1);
            var t2 = Avx.UnpackLow(r2, r3);
            var t3 = Avx.UnpackHigh(r2, r3);
            var t4 = Avx.UnpackLow(r4, r5);
            var t5 = Avx.UnpackHigh(r4, r5);
            double* dp = dst + (nint)p * 6;
            // per depth column q: rows 0-3 at dp + 6q, rows 4-5 (+ 2 spilled zeros) at dp + 6q + 4
            Avx.Store(dp, Avx.Permute2x128(t0, t2, 0x20));
            Avx.Store(dp + 4, Avx.Permute2x128(t4, z, 0x20));
            Avx.Store(dp + 6, Avx.Permute2x128(t1, t3, 0x20));
            Avx.Store(dp + 10, Avx.Permute2x128(t5, z, 0x20));
            Avx.Store(dp + 12, Avx.Permute2x128(t0, t2, 0x31));
            Avx.Store(dp + 16, Avx.Permute2x128(t4, z, 0x31));
            Avx.Store(dp + 18, Avx.Permute2x128(t1, t3, 0x31));
            Avx.Store(dp + 22, Avx.Permute2x128(t5, z, 0x31));
        }
        return kv;
    }

    /// <summary>Packs A[0..mc, 0..kc] as MR-row micro-panels: panel i holds A[i..i+MR, p] at p*MR, zero-padded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA<T, TK>(T* src, nint rs, nint cs, int mc, int kc, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : struct, IKernel<T>
    {
        int MR = TK.MR;
        int i0 = 0;
        if (rs == 1 && cs != 1)
        {
            // column-contiguous A (a transposed view): walk the depth outermost so each source row of Aᵀ
            // is read once, in order, into all full panels (panel by panel would revisit lines that a
            // power-of-two stride maps to one cache set)
            i0 = mc / MR * MR;
            for (int p = 0; p < kc; p++)
            {
                T* sp = src + p * cs;
                T* dp = dst + (nint)p * MR;
                for (int i = 0; i < i0; i += MR)
                    Unsafe.CopyBlockUnaligned(dp + (nint)i * kc, sp + i, (uint)(sizeof(T) * TK.MR));
            }
        }
        for (int i = i0; i < mc; i += MR)
        {
            int rows = Math.Min(MR, mc - i);
            T* s = src + i * rs;
            T* d = dst + (nint)i * kc;
            if (rows == MR && cs == 1 && TK.MR == 6)
            {
                // row-major A: transpose in register tiles, then the depth tail one column at a time
                int p0 = 0;
                if (typeof(T) == typeof(float) && Avx.IsSupported)
                    p0 = PackRowsF32x6((float*)s, rs, kc, (float*)d);
                else if (typeof(T) == typeof(double) && Avx.IsSupported)
                    p0 = PackRowsF64x6((double*)s, rs, kc, (double*)d);
                d += p0 * 6;
                T* s0 = s, s1 = s + rs, s2 = s1 + rs, s3 = s2 + rs, s4 = s3 + rs, s5 = s4 + rs;
                for (int p = p0; p < kc; p++, d += 6)
                {
                    d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p];
                    d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p];
                }
            }
            else if (rows == MR && cs == 1)
            {
                for (int r = 0; r < MR; r++)
                {
                    T* sr = s + r * rs;
                    T* dr = d + r;
                    for (int p = 0; p < kc; p++) dr[(nint)p * MR] = sr[p];
                }
            }
            else
            {
                for (int p = 0; p < kc; p++, d += MR)
                {
                    T* sp = s + p * cs;
                    int r = 0;
                    for (; r < rows; r++) d[r] = sp[r * rs];
                    for (; r < MR; r++) d[r] = T.Zero;
                }
            }
        }
    }

    // ---------------------------------------------------------------- micro-kernels

    /// <summary>AVX2/FMA float kernel: 6×16 tile in 12 ymm accumulators, the depth loop unrolled by 4 (2 B loads and 6
    /// broadcasts per 12 FMAs), the C tile prefetched before the loop. A/B on thread CPU time, one thread, against the
    /// rolled loop without prefetch (bench/Fluxion.Micro, load 70-135): 0.64-0.76× the time at 256³ and 1024³, 0.76-0.82×
    /// at the MLP's 128×784×512-class shapes.</summary>
    private struct F32Avx2 : IKernel<float>
    {
        public static int MR => 6;
        public static int NR => 16;
        public static int KC => 256;
        public static int MC => 144;
        public static int NC => 3072;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(int kc, float* a, float* b, float* c, nint ldc, bool add)
        {
            // the C tile's lines, fetched while the depth loop runs (read at the end when add, written in any case)
            PrefetchTile(c, ldc);
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                             c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            Vector256<float> b0, b1, av;
            int p = kc;
            for (; p >= 4; p -= 4)
            {
                b0 = Avx.LoadAlignedVector256(b + 0);
                b1 = Avx.LoadAlignedVector256(b + 8);
                av = Vector256.Create(a[0]);
                c00 = Fma.MultiplyAdd(av, b0, c00);
                c01 = Fma.MultiplyAdd(av, b1, c01);
                av = Vector256.Create(a[1]);
                c10 = Fma.MultiplyAdd(av, b0, c10);
                c11 = Fma.MultiplyAdd(av, b1, c11);
                av = Vector256.Create(a[2]);
                c20 = Fma.MultiplyAdd(av, b0, c20);
                c21 = Fma.MultiplyAdd(av, b1, c21);
                av = Vector256.Create(a[3]);
                c30 = Fma.MultiplyAdd(av, b0, c30);
                c31 = Fma.MultiplyAdd(av, b1, c31);
                av = Vector256.Create(a[4]);
                c40 = Fma.MultiplyAdd(av, b0, c40);
                c41 = Fma.MultiplyAdd(av, b1, c41);
                av = Vector256.Create(a[5]);
                c50 = Fma.MultiplyAdd(av, b0, c50);
                c51 = Fma.MultiplyAdd(av, b1, c51);
                b0 = Avx.LoadAlignedVector256(b + 16);
                b1 = Avx.LoadAlignedVector256(b + 24);
                av = Vector256.Create(a[6]);
                c00 = Fma.MultiplyAdd(av, b0, c00);
                c01 = Fma.MultiplyAdd(av, b1, c01);
                av = Vector256.Create(a[7]);
                c10 = Fma.MultiplyAdd(av, b0, c10);
                c11 = Fma.MultiplyAdd(av, b1, c11);
                av = Vector256.Create(a[8]);
                c20 = Fma.MultiplyAdd(av, b0, c20);
                c21 = Fma.MultiplyAdd(av, b1, c21);
                av = Vector256.Create(a[9]);
                c30 = Fma.MultiplyAdd(av, b0, c30);
                c31 = Fma.MultiplyAdd(av, b1, c31);
                av = Vector256.Create(a[10]);
                c40 = Fma.MultiplyAdd(av, b0, c40);
                c41 = Fma.MultiplyAdd(av, b1, c41);
                av = Vector256.Create(a[11]);
                c50 = Fma.MultiplyAdd(av, b0, c50);
                c51 = Fma.MultiplyAdd(av, b1, c51);
                b0 = Avx.LoadAlignedVector256(b + 32);
                b1 = Avx.LoadAlignedVector256(b + 40);
                av = Vector256.Create(a[12]);
                c00 = Fma.MultiplyAdd(av, b0, c00);
                c01 = Fma.MultiplyAdd(av, b1, c01);
                av = Vector256.Create(a[13]);
                c10 = Fma.MultiplyAdd(av, b0, c10);
                c11 = Fma.MultiplyAdd(av, b1, c11);
                av = Vector256.Create(a[14]);
                c20 = Fma.MultiplyAdd(av, b0, c20);
                c21 = Fma.MultiplyAdd(av, b1, c21);
                av = Vector256.Create(a[15]);
                c30 = Fma.MultiplyAdd(av, b0, c30);
                c31 = Fma.MultiplyAdd(av, b1, c31);
                av = Vector256.Create(a[16]);
                c40 = Fma.MultiplyAdd(av, b0, c40);
                c41 = Fma.MultiplyAdd(av, b1, c41);
                av = Vector256.Create(a[17]);
                c50 = Fma.MultiplyAdd(av, b0, c50);
                c51 = Fma.MultiplyAdd(av, b1, c51);
                b0 = Avx.LoadAlignedVector256(b + 48);
                b1 = Avx.LoadAlignedVector256(b + 56);
                av = Vector256.Create(a[18]);
                c00 = Fma.MultiplyAdd(av, b0, c00);
                c01 = Fma.MultiplyAdd(av, b1, c01);
                av = Vector256.Create(a[19]);
                c10 = Fma.MultiplyAdd(av, b0, c10);
                c11 = Fma.MultiplyAdd(av, b1, c11);
                av = Vector256.Create(a[20]);
                c20 = Fma.MultiplyAdd(av, b0, c20);
                c21 = Fma.MultiplyAdd(av, b1, c21);
                av = Vector256.Create(a[21]);
                c30 = Fma.MultiplyAdd(av, b0, c30);
                c31 = Fma.MultiplyAdd(av, b1, c31);
                av = Vector256.Create(a[22]);
                c40 = Fma.MultiplyAdd(av, b0, c40);
                c41 = Fma.MultiplyAdd(av, b1, c41);
                av = Vector256.Create(a[23]);
                c50 = Fma.MultiplyAdd(av, b0, c50);
                c51 = Fma.MultiplyAdd(av, b1, c51);
                a += 24;
                b += 64;
            }
            for (; p > 0; p--)
            {
                b0 = Avx.LoadAlignedVector256(b + 0);
                b1 = Avx.LoadAlignedVector256(b + 8);
                av = Vector256.Create(a[0]);
                c00 = Fma.MultiplyAdd(av, b0, c00);
                c01 = Fma.MultiplyAdd(av, b1, c01);
                av = Vector256.Create(a[1]);
                c10 = Fma.MultiplyAdd(av, b0, c10);
                c11 = Fma.MultiplyAdd(av, b1, c11);
                av = Vector256.Create(a[2]);
                c20 = Fma.MultiplyAdd(av, b0, c20);
                c21 = Fma.MultiplyAdd(av, b1, c21);
                av = Vector256.Create(a[3]);
                c30 = Fma.MultiplyAdd(av, b0, c30);
                c31 = Fma.MultiplyAdd(av, b1, c31);
                av = Vector256.Create(a[4]);
                c40 = Fma.MultiplyAdd(av, b0, c40);
                c41 = Fma.MultiplyAdd(av, b1, c41);
                av = Vector256.Create(a[5]);
                c50 = Fma.MultiplyAdd(av, b0, c50);
                c51 = Fma.MultiplyAdd(av, b1, c51);
                a += 6;
                b += 16;
            }
            Row(c, c00, c01, add); c += ldc;
            Row(c, c10, c11, add); c += ldc;
            Row(c, c20, c21, add); c += ldc;
            Row(c, c30, c31, add); c += ldc;
            Row(c, c40, c41, add); c += ldc;
            Row(c, c50, c51, add);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Row(float* c, Vector256<float> v0, Vector256<float> v1, bool add)
        {
            if (add)
            {
                v0 += Vector256.Load(c);
                v1 += Vector256.Load(c + 8);
            }
            Vector256.Store(v0, c);
            Vector256.Store(v1, c + 8);
        }
    }

    /// <summary>Prefetches the 6 rows of a 64-byte-wide C tile (both lines of a row when it is not aligned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchTile<T>(T* c, nint ldc) where T : unmanaged
    {
        if (!Sse.IsSupported || !PrefetchTiles) return;
        byte* p = (byte*)c;
        nint s = ldc * sizeof(T);
        for (int r = 0; r < 6; r++, p += s)
        {
            Sse.Prefetch0(p);
            Sse.Prefetch0(p + 63);
        }
    }

    /// <summary>AVX2/FMA double kernel: 6×8 tile in 12 ymm accumulators, as <see cref="F32Avx2"/> (unrolled by 4, C prefetched).</summary>
    private struct F64Avx2 : IKernel<double>
    {
        public static int MR => 6;
        public static int NR => 8;
        public static int KC => 256;
        public static int MC => 96;
        public static int NC => 2048;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(int kc, double* a, double* b, double* c, nint ldc, bool add)
        {
            PrefetchTile(c, ldc);
            Vector256<double> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                              c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            Vector256<double> b0, b1, av;
            int p = kc;
            for (; p >= 4; p -= 4)
            {
                b0 = Avx.LoadAlignedVector256(b + 0);
                b1 = Avx.LoadAlignedVector256(b + 4);
                av = Vector256.Create(a[0]);
                c00 = Fma.MultiplyAdd(av, b0, c00);
                c01 = Fma.MultiplyAdd(av, b1, c01);
                av = Vector256.Create(a[1]);
                c10 = Fma.MultiplyAdd(av, b0, c10);
                c11 = Fma.MultiplyAdd(av, b1, c11);
                av = Vector256.Create(a[2]);
                c20 = Fma.MultiplyAdd(av, b0, c20);
                c21 = Fma.MultiplyAdd(av, b1, c21);
                av = Vector256.Create(a[3]);
                c30 = Fma.MultiplyAdd(av, b0, c30);
                c31 = Fma.MultiplyAdd(av, b1, c31);
                av = Vector256.Create(a[4]);
                c40 = Fma.MultiplyAdd(av, b0, c40);
                c41 = Fma.MultiplyAdd(av, b1, c41);
                av = Vector256.Create(a[5]);
                c50 = Fma.MultiplyAdd(av, b0, c50);
                c51 = Fma.MultiplyAdd(av, b1, c51);
                b0 = Avx.LoadAlignedVector256(b + 8);
                b1 = Avx.LoadAlignedVector256(b + 12);
                av = Vector256.Create(a[6]);
                c00 = Fma.MultiplyAdd(av, b0, c00);
                c01 = Fma.MultiplyAdd(av, b1, c01);
                av = Vector256.Create(a[7]);
                c10 = Fma.MultiplyAdd(av, b0, c10);
                c11 = Fma.MultiplyAdd(av, b1, c11);
                av = Vector256.Create(a[8]);
                c20 = Fma.MultiplyAdd(av, b0, c20);
                c21 = Fma.MultiplyAdd(av, b1, c21);
                av = Vector256.Create(a[9]);
                c30 = Fma.MultiplyAdd(av, b0, c30);
                c31 = Fma.MultiplyAdd(av, b1, c31);
                av = Vector256.Create(a[10]);
                c40 = Fma.MultiplyAdd(av, b0, c40);
                c41 = Fma.MultiplyAdd(av, b1, c41);
                av = Vector256.Create(a[11]);
                c50 = Fma.MultiplyAdd(av, b0, c50);
                c51 = Fma.MultiplyAdd(av, b1, c51);
                b0 = Avx.LoadAlignedVector256(b + 16);
                b1 = Avx.LoadAlignedVector256(b + 20);
                av = Vector256.Create(a[12]);
                c00 = Fma.MultiplyAdd(av, b0, c00);
                c01 = Fma.MultiplyAdd(av, b1, c01);
                av = Vector256.Create(a[13]);
                c10 = Fma.MultiplyAdd(av, b0, c10);
                c11 = Fma.MultiplyAdd(av, b1, c11);
                av = Vector256.Create(a[14]);
                c20 = Fma.MultiplyAdd(av, b0, c20);
                c21 = Fma.MultiplyAdd(av, b1, c21);
                av = Vector256.Create(a[15]);
                c30 = Fma.MultiplyAdd(av, b0, c30);
                c31 = Fma.MultiplyAdd(av, b1, c31);
                av = Vector256.Create(a[16]);
                c40 = Fma.MultiplyAdd(av, b0, c40);
                c41 = Fma.MultiplyAdd(av, b1, c41);
                av = Vector256.Create(a[17]);
                c50 = Fma.MultiplyAdd(av, b0, c50);
                c51 = Fma.MultiplyAdd(av, b1, c51);
                b0 = Avx.LoadAlignedVector256(b + 24);
                b1 = Avx.LoadAlignedVector256(b + 28);
                av = Vector256.Create(a[18]);
                c00 = Fma.MultiplyAdd(av, b0, c00);
                c01 = Fma.MultiplyAdd(av, b1, c01);
                av = Vector256.Create(a[19]);
                c10 = Fma.MultiplyAdd(av, b0, c10);
                c11 = Fma.MultiplyAdd(av, b1, c11);
                av = Vector256.Create(a[20]);
                c20 = Fma.MultiplyAdd(av, b0, c20);
                c21 = Fma.MultiplyAdd(av, b1, c21);
                av = Vector256.Create(a[21]);
                c30 = Fma.MultiplyAdd(av, b0, c30);
                c31 = Fma.MultiplyAdd(av, b1, c31);
                av = Vector256.Create(a[22]);
                c40 = Fma.MultiplyAdd(av, b0, c40);
                c41 = Fma.MultiplyAdd(av, b1, c41);
                av = Vector256.Create(a[23]);
                c50 = Fma.MultiplyAdd(av, b0, c50);
                c51 = Fma.MultiplyAdd(av, b1, c51);
                a += 24;
                b += 32;
            }
            for (; p > 0; p--)
            {
                b0 = Avx.LoadAlignedVector256(b + 0);
                b1 = Avx.LoadAlignedVector256(b + 4);
                av = Vector256.Create(a[0]);
                c00 = Fma.MultiplyAdd(av, b0, c00);
                c01 = Fma.MultiplyAdd(av, b1, c01);
                av = Vector256.Create(a[1]);
                c10 = Fma.MultiplyAdd(av, b0, c10);
                c11 = Fma.MultiplyAdd(av, b1, c11);
                av = Vector256.Create(a[2]);
                c20 = Fma.MultiplyAdd(av, b0, c20);
                c21 = Fma.MultiplyAdd(av, b1, c21);
                av = Vector256.Create(a[3]);
                c30 = Fma.MultiplyAdd(av, b0, c30);
                c31 = Fma.MultiplyAdd(av, b1, c31);
                av = Vector256.Create(a[4]);
                c40 = Fma.MultiplyAdd(av, b0, c40);
                c41 = Fma.MultiplyAdd(av, b1, c41);
                av = Vector256.Create(a[5]);
                c50 = Fma.MultiplyAdd(av, b0, c50);
                c51 = Fma.MultiplyAdd(av, b1, c51);
                a += 6;
                b += 8;
            }
            Row(c, c00, c01, add); c += ldc;
            Row(c, c10, c11, add); c += ldc;
            Row(c, c20, c21, add); c += ldc;
            Row(c, c30, c31, add); c += ldc;
            Row(c, c40, c41, add); c += ldc;
            Row(c, c50, c51, add);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Row(double* c, Vector256<double> v0, Vector256<double> v1, bool add)
        {
            if (add)
            {
                v0 += Vector256.Load(c);
                v1 += Vector256.Load(c + 4);
            }
            Vector256.Store(v0, c);
            Vector256.Store(v1, c + 4);
        }
    }

    /// <summary>AVX-512 float kernel: 6×32 tile in 12 zmm accumulators.</summary>
    private struct F32Avx512 : IKernel<float>
    {
        public static int MR => 6;
        public static int NR => 32;
        public static int KC => 256;
        public static int MC => 144;
        public static int NC => 3072;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(int kc, float* a, float* b, float* c, nint ldc, bool add)
        {
            Vector512<float> c0_0 = default, c0_1 = default, c1_0 = default, c1_1 = default, c2_0 = default, c2_1 = default, c3_0 = default, c3_1 = default, c4_0 = default, c4_1 = default, c5_0 = default, c5_1 = default;
            for (int p = 0; p < kc; p++)
            {
                var b0 = Vector512.LoadAligned(b + 0);
                var b1 = Vector512.LoadAligned(b + 16);
                var av = Vector512.Create(a[0]);
                c0_0 = Avx512F.FusedMultiplyAdd(av, b0, c0_0);
                c0_1 = Avx512F.FusedMultiplyAdd(av, b1, c0_1);
                av = Vector512.Create(a[1]);
                c1_0 = Avx512F.FusedMultiplyAdd(av, b0, c1_0);
                c1_1 = Avx512F.FusedMultiplyAdd(av, b1, c1_1);
                av = Vector512.Create(a[2]);
                c2_0 = Avx512F.FusedMultiplyAdd(av, b0, c2_0);
                c2_1 = Avx512F.FusedMultiplyAdd(av, b1, c2_1);
                av = Vector512.Create(a[3]);
                c3_0 = Avx512F.FusedMultiplyAdd(av, b0, c3_0);
                c3_1 = Avx512F.FusedMultiplyAdd(av, b1, c3_1);
                av = Vector512.Create(a[4]);
                c4_0 = Avx512F.FusedMultiplyAdd(av, b0, c4_0);
                c4_1 = Avx512F.FusedMultiplyAdd(av, b1, c4_1);
                av = Vector512.Create(a[5]);
                c5_0 = Avx512F.FusedMultiplyAdd(av, b0, c5_0);
                c5_1 = Avx512F.FusedMultiplyAdd(av, b1, c5_1);
                a += 6;
                b += 32;
            }
            Row(c, c0_0, c0_1, add); c += ldc;
            Row(c, c1_0, c1_1, add); c += ldc;
            Row(c, c2_0, c2_1, add); c += ldc;
            Row(c, c3_0, c3_1, add); c += ldc;
            Row(c, c4_0, c4_1, add); c += ldc;
            Row(c, c5_0, c5_1, add);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Row(float* c, Vector512<float> v0, Vector512<float> v1, bool add)
        {
            if (add)
            {
                v0 += Vector512.Load(c + 0);
                v1 += Vector512.Load(c + 16);
            }
            Vector512.Store(v0, c + 0);
            Vector512.Store(v1, c + 16);
        }
    }

    /// <summary>AVX-512 double kernel: 6×16 tile in 12 zmm accumulators.</summary>
    private struct F64Avx512 : IKernel<double>
    {
        public static int MR => 6;
        public static int NR => 16;
        public static int KC => 256;
        public static int MC => 96;
        public static int NC => 2048;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(int kc, double* a, double* b, double* c, nint ldc, bool add)
        {
            Vector512<double> c0_0 = default, c0_1 = default, c1_0 = default, c1_1 = default, c2_0 = default, c2_1 = default, c3_0 = default, c3_1 = default, c4_0 = default, c4_1 = default, c5_0 = default, c5_1 = default;
            for (int p = 0; p < kc; p++)
            {
                var b0 = Vector512.LoadAligned(b + 0);
                var b1 = Vector512.LoadAligned(b + 8);
                var av = Vector512.Create(a[0]);
                c0_0 = Avx512F.FusedMultiplyAdd(av, b0, c0_0);
                c0_1 = Avx512F.FusedMultiplyAdd(av, b1, c0_1);
                av = Vector512.Create(a[1]);
                c1_0 = Avx512F.FusedMultiplyAdd(av, b0, c1_0);
                c1_1 = Avx512F.FusedMultiplyAdd(av, b1, c1_1);
                av = Vector512.Create(a[2]);
                c2_0 = Avx512F.FusedMultiplyAdd(av, b0, c2_0);
                c2_1 = Avx512F.FusedMultiplyAdd(av, b1, c2_1);
                av = Vector512.Create(a[3]);
                c3_0 = Avx512F.FusedMultiplyAdd(av, b0, c3_0);
                c3_1 = Avx512F.FusedMultiplyAdd(av, b1, c3_1);
                av = Vector512.Create(a[4]);
                c4_0 = Avx512F.FusedMultiplyAdd(av, b0, c4_0);
                c4_1 = Avx512F.FusedMultiplyAdd(av, b1, c4_1);
                av = Vector512.Create(a[5]);
                c5_0 = Avx512F.FusedMultiplyAdd(av, b0, c5_0);
                c5_1 = Avx512F.FusedMultiplyAdd(av, b1, c5_1);
                a += 6;
                b += 16;
            }
            Row(c, c0_0, c0_1, add); c += ldc;
            Row(c, c1_0, c1_1, add); c += ldc;
            Row(c, c2_0, c2_1, add); c += ldc;
            Row(c, c3_0, c3_1, add); c += ldc;
            Row(c, c4_0, c4_1, add); c += ldc;
            Row(c, c5_0, c5_1, add);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Row(double* c, Vector512<double> v0, Vector512<double> v1, bool add)
        {
            if (add)
            {
                v0 += Vector512.Load(c + 0);
                v1 += Vector512.Load(c + 8);
            }
            Vector512.Store(v0, c + 0);
            Vector512.Store(v1, c + 8);
        }
    }

    /// <summary>Portable kernel: 4×(2·Vector&lt;T&gt;.Count) tile with Vector&lt;T&gt; multiply-adds.</summary>
    private struct Portable<T> : IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static int MR => 4;
        public static int NR => 2 * Vector<T>.Count;
        public static int KC => 256;
        public static int MC => 128;
        public static int NC => 2048;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(int kc, T* a, T* b, T* c, nint ldc, bool add)
        {
            int w = Vector<T>.Count;
            Vector<T> c00 = default, c01 = default, c10 = default, c11 = default,
                      c20 = default, c21 = default, c30 = default, c31 = default;
            for (int p = 0; p < kc; p++)
            {
                var b0 = Unsafe.ReadUnaligned<Vector<T>>(b);
                var b1 = Unsafe.ReadUnaligned<Vector<T>>(b + w);
                var av = new Vector<T>(a[0]);
                c00 += av * b0; c01 += av * b1;
                av = new Vector<T>(a[1]);
                c10 += av * b0; c11 += av * b1;
                av = new Vector<T>(a[2]);
                c20 += av * b0; c21 += av * b1;
                av = new Vector<T>(a[3]);
                c30 += av * b0; c31 += av * b1;
                a += 4;
                b += 2 * w;
            }
            Row(c, w, c00, c01, add); c += ldc;
            Row(c, w, c10, c11, add); c += ldc;
            Row(c, w, c20, c21, add); c += ldc;
            Row(c, w, c30, c31, add);
        }

        private static void Row(T* c, int w, Vector<T> v0, Vector<T> v1, bool add)
        {
            if (add)
            {
                v0 += Unsafe.ReadUnaligned<Vector<T>>(c);
                v1 += Unsafe.ReadUnaligned<Vector<T>>(c + w);
            }
            Unsafe.WriteUnaligned(c, v0);
            Unsafe.WriteUnaligned(c + w, v1);
        }
    }
}
