namespace Fluxion;

/// <summary>
/// Registry entries of the ops that still pass their VJP/JVP as closures at their call site (<see cref="OpDef.CallSiteVjp"/>).
/// This list is the work left to move every derivative into its entry: an op moves out of here when its rules
/// move into its entry (next to its forward), as the elementwise ops did.
/// </summary>
[OpTable]
internal static class CallSiteOps
{
    internal static readonly OpDef MixedModeOutput = new("MixedModeOutput", OpFamily.Fused) { CallSiteVjp = true, CallSiteJvp = false, BatchedJvp = false };
    internal static readonly OpDef CustomFunctionGuard = new("OnceDifferentiable", OpFamily.Fused) { CallSiteVjp = true, CallSiteJvp = true };
}
