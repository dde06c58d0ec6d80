using System.Buffers;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fluxion.Kernels;

/// <summary>
/// A left operand A [m, k] packed once into the micro-kernel's MR-row panels, for many products A·Bᵢ with different
/// right operands (a convolution's weight against each sample's column matrix): <see cref="Gemm.PackLhs{T}"/> makes
/// it, <see cref="Gemm.MatMulPacked{T}"/> uses it, <see cref="Dispose"/> returns its buffer to the pool.
/// Read-only once packed, so threads may share it.
/// </summary>
internal sealed class PackedLhs<T> : IDisposable where T : unmanaged
{
    /// <summary>The pooled buffer holding the panels from element <see cref="Start"/> (64-byte aligned when packed; the
    /// micro-kernels broadcast A's elements one by one, so nothing depends on the alignment if the array moves).</summary>
    internal T[] Buffer = [];

    /// <summary>The element offset of the panels in <see cref="Buffer"/>.</summary>
    internal int Start;

    /// <summary>Rows (m) and depth (k) of A.</summary>
    internal int M, K;

    /// <summary>Depth of every block but possibly the last (the depth is cut into balanced blocks of about KC).</summary>
    internal int Kc;

    /// <summary>The kernel the panels were packed for.</summary>
    internal Gemm.GemmKernel Kernel;

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        if (Buffer.Length > 0) ArrayPool<T>.Shared.Return(Buffer);
        Buffer = [];
    }
}

internal static unsafe partial class Gemm
{
    /// <summary>The kernel products use now (the override when the hardware has it, else <see cref="Best"/>).</summary>
    private static GemmKernel Resolved => Kernel == GemmKernel.Auto || !IsSupported(Kernel) ? Best : Kernel;

    /// <summary>Depth of the packed blocks for depth <paramref name="k"/>: one block up to 1.5·KC (a B micro-panel of
    /// 384 float rows still fits L1 next to an A panel), else balanced blocks of about KC (no short last block).</summary>
    private static int PackedDepth(int k, int kc)
    {
        int blocks = Math.Max(1, (k + kc / 2) / kc);
        return (k + blocks - 1) / blocks;
    }

    /// <summary>
    /// Packs A [m, k] (element (i, p) at <c>a[aOff + i·ars + p·acs]</c>, any strides) for <see cref="MatMulPacked{T}"/>
    /// (float or double). The caller disposes the result.
    /// </summary>
    internal static PackedLhs<T> PackLhs<T>(T[] a, int aOff, int ars, int acs, int m, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(m);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        CheckRange(a.Length, aOff, m, k, ars, acs, "A");
        var kernel = Resolved;
        if (typeof(T) == typeof(float))
        {
            var fa = Unsafe.As<float[]>(a);
            var r = kernel switch
            {
                GemmKernel.Avx512 => PackLhsCore<float, F32Avx512>(fa, aOff, ars, acs, m, k),
                GemmKernel.Avx2 => PackLhsCore<float, F32Avx2>(fa, aOff, ars, acs, m, k),
                _ => PackLhsCore<float, Portable<float>>(fa, aOff, ars, acs, m, k),
            };
            r.Kernel = kernel;
            return Unsafe.As<PackedLhs<T>>(r);
        }
        if (typeof(T) == typeof(double))
        {
            var da = Unsafe.As<double[]>(a);
            var r = kernel switch
            {
                GemmKernel.Avx512 => PackLhsCore<double, F64Avx512>(da, aOff, ars, acs, m, k),
                GemmKernel.Avx2 => PackLhsCore<double, F64Avx2>(da, aOff, ars, acs, m, k),
                _ => PackLhsCore<double, Portable<double>>(da, aOff, ars, acs, m, k),
            };
            r.Kernel = kernel;
            return Unsafe.As<PackedLhs<T>>(r);
        }
        throw new NotSupportedException($"Gemm.PackLhs: {typeof(T).Name} is not a packed element type (float or double).");
    }

    /// <summary>The element offset of depth block <paramref name="blk"/> in a packed A (relative to the aligned start).</summary>
    private static long PackedBlockOffset(int blk, int kcb, int m, int mr) => (long)blk * kcb * RoundUp(m, mr);

    private static PackedLhs<T> PackLhsCore<T, TK>(T[] a, int aOff, int ars, int acs, int m, int k)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : struct, IKernel<T>
    {
        int kcb = PackedDepth(k, TK.KC), align = 64 / sizeof(T);
        long size = (long)RoundUp(m, TK.MR) * k + align + 8; // + 8: PackRows* store past the panel end
        var r = new PackedLhs<T> { Buffer = ArrayPool<T>.Shared.Rent(checked((int)size)), M = m, K = k, Kc = kcb };
        fixed (T* pa = &MemoryMarshal.GetArrayDataReference(a), pb = &MemoryMarshal.GetArrayDataReference(r.Buffer))
        {
            T* dst = (T*)(((nint)pb + 63) & ~(nint)63);
            r.Start = (int)(dst - pb);
            for (int blk = 0, pcol = 0; pcol < k; blk++, pcol += kcb)
                PackA<T, TK>(pa + aOff + (nint)pcol * acs, ars, acs, m, Math.Min(kcb, k - pcol), dst + PackedBlockOffset(blk, kcb, m, TK.MR));
        }
        return r;
    }

    /// <summary>
    /// C [m, n] (=, or += when <paramref name="accumulate"/>) A·B on the calling thread, for A packed by
    /// <see cref="PackLhs{T}"/> ([m, k]) and B [k, n] with element (p, j) at <c>b[bOff + p·brs + j·bcs]</c>; C row-major
    /// with leading dimension <paramref name="ldc"/> at <paramref name="cOff"/>. Only B is packed here (per depth block).
    /// </summary>
    internal static void MatMulPacked<T>(PackedLhs<T> a, T[] b, int bOff, int brs, int bcs, T[] c, int cOff, int ldc, int n, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (n == 0) return;
        ArgumentOutOfRangeException.ThrowIfLessThan(ldc, n);
        CheckRange(b.Length, bOff, a.K, n, brs, bcs, "B");
        CheckRange(c.Length, cOff, a.M, n, ldc, 1, "C");
        long t0 = Profile.Enabled ? Stopwatch.GetTimestamp() : 0;
        if (typeof(T) == typeof(float))
        {
            var (fa, fb, fc) = (Unsafe.As<PackedLhs<float>>(a), Unsafe.As<float[]>(b), Unsafe.As<float[]>(c));
            switch (a.Kernel)
            {
                case GemmKernel.Avx512: MatMulPackedCore<float, F32Avx512>(fa, fb, bOff, brs, bcs, fc, cOff, ldc, n, accumulate); break;
                case GemmKernel.Avx2: MatMulPackedCore<float, F32Avx2>(fa, fb, bOff, brs, bcs, fc, cOff, ldc, n, accumulate); break;
                default: MatMulPackedCore<float, Portable<float>>(fa, fb, bOff, brs, bcs, fc, cOff, ldc, n, accumulate); break;
            }
        }
        else if (typeof(T) == typeof(double))
        {
            var (da, db, dc) = (Unsafe.As<PackedLhs<double>>(a), Unsafe.As<double[]>(b), Unsafe.As<double[]>(c));
            switch (a.Kernel)
            {
                case GemmKernel.Avx512: MatMulPackedCore<double, F64Avx512>(da, db, bOff, brs, bcs, dc, cOff, ldc, n, accumulate); break;
                case GemmKernel.Avx2: MatMulPackedCore<double, F64Avx2>(da, db, bOff, brs, bcs, dc, cOff, ldc, n, accumulate); break;
                default: MatMulPackedCore<double, Portable<double>>(da, db, bOff, brs, bcs, dc, cOff, ldc, n, accumulate); break;
            }
        }
        else throw new NotSupportedException($"Gemm.MatMulPacked: {typeof(T).Name} is not a packed element type (float or double).");
        if (Profile.Enabled)
        {
            long dt = Stopwatch.GetTimestamp() - t0;
            Interlocked.Increment(ref Profile.Calls);
            Interlocked.Add(ref Profile.WallTicks, dt);
            Interlocked.Add(ref Profile.ThreadTicks, dt);
            Interlocked.Add(ref Profile.MultiplyAdds, (long)a.M * n * a.K);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MatMulPackedCore<T, TK>(PackedLhs<T> a, T[] b, int bOff, int brs, int bcs, T[] c, int cOff, int ldc, int n, bool acc)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : struct, IKernel<T>
    {
        int m = a.M, k = a.K, kcb = a.Kc, align = 64 / sizeof(T);
        int ncMax = Math.Min(RoundUp(n, TK.NR), TK.NC);
        T[] bufB = ArrayPool<T>.Shared.Rent(ncMax * kcb + align);
        try
        {
            fixed (T* pa = &MemoryMarshal.GetArrayDataReference(a.Buffer), pb = &MemoryMarshal.GetArrayDataReference(b),
                   pc = &MemoryMarshal.GetArrayDataReference(c), bb = &MemoryMarshal.GetArrayDataReference(bufB))
            {
                T* ap = pa + a.Start;
                T* bp = (T*)(((nint)bb + 63) & ~(nint)63);
                T* tmp = stackalloc T[TK.MR * TK.NR + align];
                tmp = (T*)(((nint)tmp + 63) & ~(nint)63);
                for (int jc = 0; jc < n; jc += TK.NC)
                {
                    int nc = Math.Min(TK.NC, n - jc);
                    for (int blk = 0, pcol = 0; pcol < k; blk++, pcol += kcb)
                    {
                        int kc = Math.Min(kcb, k - pcol);
                        long t0 = Profile.Start();
                        PackB<T, TK>(pb + bOff + (nint)pcol * brs + (nint)jc * bcs, brs, bcs, kc, nc, bp);
                        Profile.Stop(ref Profile.PackBTicks, t0);
                        t0 = Profile.Start();
                        Macro<T, TK>(ap + PackedBlockOffset(blk, kcb, m, TK.MR), bp, pc + cOff + jc, ldc, m, nc, kc, acc || blk > 0, tmp);
                        Profile.Stop(ref Profile.KernelTicks, t0);
                    }
                }
            }
        }
        finally { ArrayPool<T>.Shared.Return(bufB); }
    }
}
