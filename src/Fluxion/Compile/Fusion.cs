using K = Fluxion.Kernels.Elementwise;

namespace Fluxion;

public sealed partial class CompiledGraph
{
    /// <summary>Elements per block of a fused group: 2048 float32 (8 KB) or float64 (16 KB) per operand, so a group's
    /// operands and temporaries of one block stay in the L1 cache while every op of the chain runs over it.</summary>
    internal static int BlockElements = 2048;

    /// <summary>A group of elementwise calls on values of one size and dtype, run together block by block.</summary>
    internal sealed class Group
    {
        public readonly List<int> Members = [];
        public int Last;
        public bool Closed;
        public int Numel;
        public DType DType;
        public int[] Inputs = [];
        public int[] Outputs = [];

        /// <summary>Whether the group runs as generated code (set when its replay step is made).</summary>
        public bool Generated;

        /// <summary>The generated loops (stages) the group runs, block by block (set when its replay step is made).</summary>
        public int Stages;

        /// <summary>The replay step: every member's kernel over one block at a time, inputs read from their tensors,
        /// outputs written to planned buffers (or fresh tensors when they escape), temporaries in block-sized scratch.</summary>
        public Action<Tensor?[]> Step(CompiledGraph g)
        {
            Generated = GeneratedCode && Members.Count > 1 && FusedCode.Available && Members.All(m => FusedCode.Supports(g.Nodes[m].Def, DType));
            if (Generated)
            {
                if (DType == DType.Float32)
                {
                    var r32 = new CodeRunner<float>(g, this);
                    Stages = r32.Stages;
                    return r32.Run;
                }
                var r64 = new CodeRunner<double>(g, this);
                Stages = r64.Stages;
                return r64.Run;
            }
            return DType == DType.Float32 ? new Runner<float>(g, this).Run : new Runner<double>(g, this).Run;
        }
    }

    /// <summary>Fused groups whose ops all have register formulas run as generated code (<see cref="FusedCode"/>);
    /// false runs every group through the block interpreter (for A/B measurements).</summary>
    internal static bool GeneratedCode = true;

    private readonly List<Group> _groups = [];

    /// <summary>How many fused groups run as generated code.</summary>
    internal int GeneratedGroups => _groups.Count(g => g.Generated);

    /// <summary>How many generated loops (stages) the generated groups run in all.</summary>
    internal int GeneratedStages => _groups.Where(g => g.Generated).Sum(g => g.Stages);
    private Tensor?[] _planned = [];

    /// <summary>For each replay position, the values no later step reads (their references are dropped there).</summary>
    private List<int>?[] _dropAt = [];

    /// <summary>Whether a call can join a fused group: a float elementwise op given by span kernels, on operands of
    /// its output's shape (or single elements).</summary>
    private bool Fusable(GNode n)
    {
        if (n.Out.Length != 1 || n.Out[0] < 0 || n.AttrIn >= 0) return false;
        var y = Vals[n.Out[0]];
        if (y.DType is not (DType.Float32 or DType.Float64) || ShapeUtil.Numel(y.Shape) == 0) return false;
        foreach (var i in n.In)
        {
            var x = Vals[i];
            if (x.DType != y.DType) return false;
            if (!ShapeUtil.SameShape(x.Shape, y.Shape) && ShapeUtil.Numel(x.Shape) != 1) return false;
        }
        // the entry's kernel table for the value's dtype on the CPU: a span map (unary) or a broadcast kernel (binary)
        return n.Def.Forward.Kernel(Device.Cpu, y.DType) switch
        {
            SpanMap<float> or SpanMap<double> => n.Attr is null && n.In.Length == 1 && ShapeUtil.SameShape(Vals[n.In[0]].Shape, y.Shape),
            K.BinaryKernel<float> or K.BinaryKernel<double> => n.In.Length == 2,
            _ => false,
        };
    }

    /// <summary>Elementwise fusion: consecutive elementwise calls on values of one size form a group run as one pass over
    /// memory. A group closes once a call outside it reads one of its values (it must run before that call).
    /// Returns the number of groups of two or more calls and the calls in them.</summary>
    private (int Groups, int Ops) FuseElementwise()
    {
        var groupOf = new int[Vals.Count];
        Array.Fill(groupOf, -1);
        for (int k = 0; k < Nodes.Count; k++)
        {
            var n = Nodes[k];
            if (n.Dead) continue;
            if (!Fusable(n))
            {
                foreach (var v in n.In) if (groupOf[v] >= 0) _groups[groupOf[v]].Closed = true;
                if (n.AttrIn >= 0 && groupOf[n.AttrIn] >= 0) _groups[groupOf[n.AttrIn]].Closed = true;
                continue;
            }
            var y = Vals[n.Out[0]];
            int numel = ShapeUtil.Numel(y.Shape);
            int gi = -1;
            foreach (var v in n.In)
                if (groupOf[v] is var g && g >= 0 && !_groups[g].Closed && _groups[g].Numel == numel && _groups[g].DType == y.DType) { gi = g; break; }
            // no input made by an open group: join the latest open group over the same elements (it runs after this call's inputs exist)
            if (gi < 0 && !n.In.Any(v => groupOf[v] >= 0))
                for (int g = _groups.Count - 1; g >= 0 && gi < 0; g--)
                    if (!_groups[g].Closed && _groups[g].Numel == numel && _groups[g].DType == y.DType) gi = g;
            foreach (var v in n.In)
                if (groupOf[v] >= 0 && groupOf[v] != gi) _groups[groupOf[v]].Closed = true;
            if (gi < 0)
            {
                gi = _groups.Count;
                _groups.Add(new Group { Numel = numel, DType = y.DType });
            }
            _groups[gi].Members.Add(k);
            _groups[gi].Last = k;
            n.Group = gi;
            groupOf[n.Out[0]] = gi;
        }
        // each group's inputs (read, not made inside) and outputs (read outside, or returned)
        var usedOutside = new bool[Vals.Count];
        foreach (var n in Nodes)
        {
            if (n.Dead) continue;
            foreach (var v in n.In) if (n.Group < 0 || groupOf[v] != n.Group) usedOutside[v] = true;
            if (n.AttrIn >= 0) usedOutside[n.AttrIn] = true;
        }
        foreach (var v in _outVals) usedOutside[v] = true;
        foreach (var gr in _gradOuts) usedOutside[gr.Val] = true;
        int groups = 0, ops = 0;
        foreach (var g in _groups)
        {
            var made = new HashSet<int>(g.Members.Select(m => Nodes[m].Out[0]));
            g.Inputs = [.. g.Members.SelectMany(m => Nodes[m].In).Where(v => !made.Contains(v)).Distinct()];
            g.Outputs = [.. g.Members.Select(m => Nodes[m].Out[0]).Where(v => usedOutside[v])];
            if (g.Members.Count > 1)
            {
                groups++;
                ops += g.Members.Count;
            }
        }
        return (groups, ops);
    }

    /// <summary>
    /// Memory planning: the outputs of the elementwise groups (single calls included) get buffers of a preallocated
    /// arena, assigned in execution order by liveness (a buffer is reused once the last reader of its value, or of any
    /// view of it, has run; a single call may write over its input's buffer in place). Values that are returned or
    /// written as gradients get fresh memory every replay. Returns the buffer count, the arena's bytes, the planned
    /// values' bytes and the predicted peak of a replay.
    /// </summary>
    private (int Buffers, long ArenaBytes, long PlannedBytes, long PeakBytes) PlanMemory(bool plan)
    {
        _planned = new Tensor?[Vals.Count];
        int[] pos = new int[Nodes.Count];
        for (int k = 0; k < Nodes.Count; k++) pos[k] = Nodes[k].Group >= 0 ? _groups[Nodes[k].Group].Last : k;
        // views share their input's memory: liveness is tracked per root
        foreach (var n in Nodes)
        {
            if (n.Dead || n.Aliases is null) continue;
            for (int o = 0; o < n.Out.Length; o++)
                if (n.Out[o] >= 0 && n.Aliases[o] >= 0) Vals[n.Out[o]].Root = Vals[n.In[n.Aliases[o]]].Root;
        }
        int end = Nodes.Count;
        var last = new int[Vals.Count];
        Array.Fill(last, -1);
        for (int k = 0; k < Nodes.Count; k++)
        {
            var n = Nodes[k];
            if (n.Dead) continue;
            foreach (var v in n.In) last[Vals[v].Root] = Math.Max(last[Vals[v].Root], pos[k]);
            if (n.AttrIn >= 0) last[Vals[n.AttrIn].Root] = Math.Max(last[Vals[n.AttrIn].Root], pos[k]);
        }
        foreach (var v in _outVals) { Vals[Vals[v].Root].Escapes = true; last[Vals[v].Root] = end; }
        foreach (var gr in _gradOuts) { Vals[Vals[gr.Val].Root].Escapes = true; last[Vals[gr.Val].Root] = end; }
        // the replay drops its reference to a value (and its views) once the last reader of its memory has run
        _dropAt = new List<int>?[end + 1];
        for (int v = 0; v < Vals.Count; v++)
        {
            var val = Vals[v];
            if (val.Producer < 0 || Nodes[val.Producer].Dead || last[val.Root] < 0 || last[val.Root] >= end) continue;
            (_dropAt[last[val.Root]] ??= []).Add(v);
        }

        // the group outputs in execution order, each given the smallest free buffer that fits
        var buffers = new List<(DType DType, int Capacity, int FreeAfter, int LastVal)>();
        long plannedBytes = 0;
        if (plan)
            foreach (var g in _groups.OrderBy(g => g.Last))
                foreach (var v in g.Outputs)
                {
                    var val = Vals[v];
                    if (val.Escapes || last[v] < 0) continue;
                    int numel = ShapeUtil.Numel(val.Shape), best = -1;
                    for (int b = 0; b < buffers.Count; b++)
                    {
                        var (dt, cap, freeAfter, lastVal) = buffers[b];
                        if (dt != val.DType || cap < numel) continue;
                        // in place: a single binary call (TensorPrimitives allows an output that is exactly an input) may
                        // overwrite the operand it reads last; unary kernels may read their input after writing (Tanh's fix-up)
                        bool inPlace = freeAfter == g.Last && g.Members.Count == 1 && Nodes[g.Members[0]].Def.Forward.Kernel(Device.Cpu, dt) is K.BinaryKernel<float> or K.BinaryKernel<double> && Nodes[g.Members[0]].In.Contains(lastVal);
                        if (freeAfter >= g.Last && !inPlace) continue;
                        if (best < 0 || cap < buffers[best].Capacity) best = b;
                    }
                    if (best < 0)
                    {
                        best = buffers.Count;
                        buffers.Add((val.DType, numel, 0, -1));
                    }
                    buffers[best] = (val.DType, buffers[best].Capacity, last[v], v);
                    val.Buffer = best;
                    plannedBytes += val.Bytes;
                }
        var storages = buffers.Select(b => Storage.Allocate(b.DType, b.Capacity)).ToArray();
        long arena = buffers.Sum(b => (long)b.Capacity * b.DType.ElementSize());
        for (int v = 0; v < Vals.Count; v++)
            if (Vals[v].Buffer >= 0) _planned[v] = new Tensor(storages[Vals[v].Buffer], Vals[v].Shape);

        // the predicted peak: the arena plus the other intermediates alive at once (by liveness, at the call that makes them)
        var delta = new long[end + 2];
        var groupOutputs = new HashSet<int>(_groups.SelectMany(g => g.Outputs));
        for (int k = 0; k < Nodes.Count; k++)
        {
            var n = Nodes[k];
            if (n.Dead) continue;
            foreach (var v in n.Out)
            {
                // values inside a fused group live only as block-sized temporaries
                if (v < 0 || Vals[v].Root != v || Vals[v].Buffer >= 0 || (n.Group >= 0 && !groupOutputs.Contains(v))) continue;
                delta[pos[k]] += Vals[v].Bytes;
                delta[Math.Max(pos[k], last[v]) + 1] -= Vals[v].Bytes;
            }
        }
        long live = 0, peak = 0;
        foreach (var d in delta) { live += d; peak = Math.Max(peak, live); }
        return (buffers.Count, arena, plannedBytes, arena + peak);
    }

    /// <summary>What both ways of running a fused group share: its inputs (broadcast scalars marked), its outputs
    /// (arena buffers where planned) and the binding of both to arrays for one run.</summary>
    private abstract class GroupRunner<T> where T : struct
    {
        protected readonly int[] _inVals, _outVals;
        protected readonly bool[] _inScalar;
        private readonly Tensor?[] _outPlanned;
        private readonly int[][] _outShapes;
        protected readonly int _numel;
        private readonly DType _dtype;

        protected GroupRunner(CompiledGraph g, Group group)
        {
            _numel = group.Numel;
            _dtype = group.DType;
            _inVals = group.Inputs;
            _outVals = group.Outputs;
            _inScalar = [.. _inVals.Select(v => ShapeUtil.Numel(g.Vals[v].Shape) != _numel)];
            _outPlanned = [.. _outVals.Select(v => g._planned[v])];
            _outShapes = [.. _outVals.Select(v => g.Vals[v].Shape)];
        }

        /// <summary>Slots of one run: the inputs' arrays and offsets (a scalar input's value instead), then the
        /// outputs' arrays (each output stored in <paramref name="vals"/>), then <paramref name="extra"/> empty slots.</summary>
        protected (T[][] Arrays, int[] Offsets, T[] Scalars) Bind(Tensor?[] vals, int extra)
        {
            int nIn = _inVals.Length, nOut = _outVals.Length;
            var arrays = new T[nIn + nOut + extra][];
            var offsets = new int[arrays.Length];
            var scalars = new T[nIn];
            for (int i = 0; i < nIn; i++)
            {
                var x = vals[_inVals[i]]!;
                if (_inScalar[i]) { scalars[i] = x.Storage.As<T>()[x.Offset]; continue; }
                if (!x.IsContiguous) x = x.Contiguous();
                arrays[i] = x.Storage.As<T>();
                offsets[i] = x.Offset;
            }
            for (int o = 0; o < nOut; o++)
            {
                var y = _outPlanned[o] ?? Tensor.Empty(_outShapes[o], _dtype);
                arrays[nIn + o] = y.Storage.As<T>();
                vals[_outVals[o]] = y;
            }
            return (arrays, offsets, scalars);
        }
    }

    /// <summary>Runs a group's calls block by block with the entries' own span kernels (the values equal eager's:
    /// the same kernels on the same elements).</summary>
    private sealed class Runner<T> : GroupRunner<T> where T : struct
    {
        private enum Kind : byte { Unary, VV, VS, SV, SS }

        private readonly record struct Instr(Kind Kind, SpanMap<T>? U, K.BinaryKernel<T>? B, int A, int Bop, int Dst);

        private readonly Instr[] _code;
        private readonly int _temps, _block = BlockElements;

        public Runner(CompiledGraph g, Group group) : base(g, group)
        {
            // slots: inputs, then outputs, then temporaries
            var slot = new Dictionary<int, int>();
            for (int i = 0; i < _inVals.Length; i++) slot[_inVals[i]] = i;
            for (int o = 0; o < _outVals.Length; o++) slot[_outVals[o]] = _inVals.Length + o;
            int temps = 0;
            var code = new List<Instr>();
            foreach (var m in group.Members)
            {
                var n = g.Nodes[m];
                int y = n.Out[0];
                if (!slot.ContainsKey(y)) slot[y] = _inVals.Length + _outVals.Length + temps++;
                var kernel = n.Def.Forward.Kernel(Device.Cpu, typeof(T) == typeof(float) ? DType.Float32 : DType.Float64);
                if (kernel is SpanMap<T> f)
                {
                    code.Add(new Instr(Kind.Unary, f, null, slot[n.In[0]], -1, slot[y]));
                    continue;
                }
                var k = (K.BinaryKernel<T>)kernel!;
                int a = slot[n.In[0]], b = slot[n.In[1]];
                bool sa = IsScalar(a), sb = IsScalar(b);
                var kind = sa && sb ? Kind.SS : sa ? Kind.SV : sb ? Kind.VS : Kind.VV;
                code.Add(new Instr(kind, null, k, a, b, slot[y]));
            }
            _code = [.. code];
            _temps = temps;

            bool IsScalar(int s) => s < _inVals.Length && _inScalar[s];
        }

        public void Run(Tensor?[] vals)
        {
            int nIn = _inVals.Length, nOut = _outVals.Length;
            var (arrays, offsets, scalars) = Bind(vals, _temps);
            // whole blocks split over the threads (each with its own temporaries); the last block takes a short tail
            int blocks = Math.Max(1, _numel / _block);
            Kernels.Parallelism.For(blocks, (long)_numel * _code.Length, 1 << 18, (b0, b1) =>
            {
                var local = (T[][])arrays.Clone();
                int start = b0 * _block, stop = b1 == blocks ? _numel : b1 * _block;
                int cap = 0;
                while (start < stop)
                {
                    int len = Math.Min(_block, stop - start);
                    // no short last block: the kernels' vector tails then match an unblocked pass
                    if (stop - start - len < 64) len = stop - start;
                    if (len > cap)
                    {
                        cap = len;
                        for (int t = 0; t < _temps; t++) local[nIn + nOut + t] = new T[len];
                    }
                    Block(local, offsets, scalars, nIn + nOut, start, len);
                    start += len;
                }
            });
        }

        private void Block(T[][] arrays, int[] offsets, T[] scalars, int firstTemp, int start, int len)
        {
            foreach (var c in _code)
            {
                var d = Span(arrays, offsets, firstTemp, c.Dst, start, len);
                switch (c.Kind)
                {
                    case Kind.Unary: c.U!(Span(arrays, offsets, firstTemp, c.A, start, len), d); break;
                    case Kind.VV: c.B!.VV(Span(arrays, offsets, firstTemp, c.A, start, len), Span(arrays, offsets, firstTemp, c.Bop, start, len), d); break;
                    case Kind.VS: c.B!.VS(Span(arrays, offsets, firstTemp, c.A, start, len), scalars[c.Bop], d); break;
                    case Kind.SV: c.B!.SV(scalars[c.A], Span(arrays, offsets, firstTemp, c.Bop, start, len), d); break;
                    default: d.Fill(c.B!.Scalar(scalars[c.A], scalars[c.Bop])); break;
                }
            }
        }

        /// <summary>The block [start, start + len) of a slot (temporaries hold one block from index 0).</summary>
        private static Span<T> Span(T[][] arrays, int[] offsets, int firstTemp, int s, int start, int len) =>
            s >= firstTemp ? arrays[s].AsSpan(0, len) : arrays[s].AsSpan(offsets[s] + start, len);
    }

    /// <summary>Runs a group as generated code (<see cref="FusedCode"/>): the full vectors split into one contiguous
    /// range per thread, the last partial vector through a padded copy. A group of several stages (loops of at most
    /// <see cref="FusedCode.FormulasPerStage"/> heavy formulas) runs them block by block, the values passed from one
    /// stage to a later one through block-sized scratch arrays (one set per thread, kept for the next run).</summary>
    private sealed class CodeRunner<T> : GroupRunner<T> where T : struct
    {
        private readonly FusedCode.Loop<T>[] _stages;
        private readonly int[] _scratchSlots;
        private readonly int _ops, _slots, _block;
        private T[][]?[] _scratch = [];

        public CodeRunner(CompiledGraph g, Group group) : base(g, group)
        {
            _ops = group.Members.Count;
            int nIn = _inVals.Length, nOut = _outVals.Length;
            var slot = new Dictionary<int, int>();
            for (int i = 0; i < nIn; i++) slot[_inVals[i]] = i;
            for (int o = 0; o < nOut; o++) slot[_outVals[o]] = nIn + o;
            int next = nIn + nOut;
            var code = new List<FusedCode.Instr>();
            foreach (var m in group.Members)
            {
                var n = g.Nodes[m];
                if (!slot.ContainsKey(n.Out[0])) slot[n.Out[0]] = next++;
                code.Add(new FusedCode.Instr(n.Def, slot[n.In[0]], n.In.Length > 1 ? slot[n.In[1]] : -1, slot[n.Out[0]]));
            }
            var stages = FusedCode.Stages([.. code], group.DType);
            var kinds = new FusedCode.SlotKind[next];
            for (int s = 0; s < nIn + nOut; s++) kinds[s] = s < nIn && _inScalar[s] ? FusedCode.SlotKind.Scalar : FusedCode.SlotKind.Memory;
            // a value made in one stage and read in a later one goes through memory (a scratch array)
            var madeIn = new int[next];
            var scratch = new List<int>();
            for (int k = 0; k < stages.Count; k++)
                foreach (var c in stages[k])
                {
                    foreach (int s in new[] { c.A, c.B })
                        if (s >= nIn + nOut && madeIn[s] != k && kinds[s] != FusedCode.SlotKind.Memory)
                        {
                            kinds[s] = FusedCode.SlotKind.Memory;
                            scratch.Add(s);
                        }
                    madeIn[c.Dst] = k;
                }
            _slots = next;
            _scratchSlots = [.. scratch];
            _block = Math.Max(BlockElements / System.Runtime.Intrinsics.Vector256<T>.Count, 1) * System.Runtime.Intrinsics.Vector256<T>.Count;
            _stages = [.. stages.Select(st => FusedCode.Build<T>(st, kinds))];
        }

        /// <summary>The number of generated loops.</summary>
        public int Stages => _stages.Length;

        /// <summary>The stages over the elements [start, stop) (multiples of the vector width), with the scratch set
        /// <paramref name="set"/>: at once for one stage, else block by block.</summary>
        private void Range(T[][] arrays, int[] offsets, T[] scalars, int start, int stop, int set)
        {
            if (_stages.Length == 1)
            {
                _stages[0](arrays, offsets, scalars, start, stop);
                return;
            }
            var local = (T[][])arrays.Clone();
            var offs = (int[])offsets.Clone();
            for (int k = 0; k < _scratchSlots.Length; k++) local[_scratchSlots[k]] = _scratch[set]![k];
            for (int b0 = start; b0 < stop; b0 += _block)
            {
                int b1 = Math.Min(stop, b0 + _block);
                // scratch arrays hold one block from index 0: offset -b0
                foreach (int s in _scratchSlots) offs[s] = -b0;
                foreach (var stage in _stages) stage(local, offs, scalars, b0, b1);
            }
        }

        public void Run(Tensor?[] vals)
        {
            int nIn = _inVals.Length, nOut = _outVals.Length;
            var (bound, boundOffsets, scalars) = Bind(vals, 0);
            // the generated loops skip bounds checks: every slot's range is checked here, once
            for (int s = 0; s < nIn + nOut; s++)
                if (bound[s] is { } a && (boundOffsets[s] < 0 || (long)boundOffsets[s] + _numel > a.Length))
                    throw new InvalidOperationException($"fused group: slot {s} holds {a.Length} elements from offset {boundOffsets[s]}, fewer than the group's {_numel}");
            var arrays = new T[_slots][];
            var offsets = new int[_slots];
            Array.Copy(bound, arrays, nIn + nOut);
            Array.Copy(boundOffsets, offsets, nIn + nOut);
            int w = System.Runtime.Intrinsics.Vector256<T>.Count, vectors = _numel / w;
            // the full vectors in one contiguous range per thread
            int threads = Kernels.Parallelism.Threads((long)_numel * _ops, 1 << 18);
            if (vectors < 2) threads = 1;
            EnsureScratch(threads);
            if (threads <= 1) Range(arrays, offsets, scalars, 0, vectors * w, 0);
            else Kernels.Parallelism.For(vectors, threads, threads, (ch, v0, v1) => Range(arrays, offsets, scalars, v0 * w, v1 * w, ch));
            int tail = _numel - vectors * w;
            if (tail == 0) return;
            // the last elements through one padded vector
            var padded = new T[_slots][];
            var zero = new int[_slots];
            for (int s = 0; s < nIn + nOut; s++)
            {
                if (arrays[s] is null) continue;
                padded[s] = new T[w];
                if (s < nIn) Array.Copy(arrays[s], offsets[s] + vectors * w, padded[s], 0, tail);
            }
            Range(padded, zero, scalars, 0, w, 0);
            for (int o = 0; o < nOut; o++) Array.Copy(padded[nIn + o], 0, arrays[nIn + o], vectors * w, tail);
        }

        /// <summary>Makes one scratch set per thread (block-sized arrays, one per value passed between stages).</summary>
        private void EnsureScratch(int threads)
        {
            if (_scratchSlots.Length == 0 || _scratch.Length >= threads && _scratch[threads - 1] is not null) return;
            var sets = new T[][]?[Math.Max(threads, _scratch.Length)];
            Array.Copy(_scratch, sets, _scratch.Length);
            for (int t = 0; t < sets.Length; t++)
                sets[t] ??= [.. _scratchSlots.Select(_ => new T[_block])];
            _scratch = sets;
        }
    }
}
