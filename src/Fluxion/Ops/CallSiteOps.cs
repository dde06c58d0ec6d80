namespace Fluxion;

/// <summary>
/// Registry entries of the ops that still pass their VJP/JVP as closures at their call site (<see cref="OpDef.CallSiteVjp"/>).
/// This list is the work left to move every derivative into its entry: an op moves out of here when its rules
/// move into its entry (next to its forward), as the elementwise ops did.
/// </summary>
[OpTable]
internal static class CallSiteOps
{
    internal static readonly OpDef Conv2d = new("Conv2d", OpFamily.NN, "nn.functional.conv2d") { CallSiteVjp = true, CallSiteJvp = true, BatchedJvp = true };
    internal static readonly OpDef Conv2dBiasGrad = new("Conv2dBiasGrad", OpFamily.NN) { CallSiteVjp = true, CallSiteJvp = true, BatchedJvp = true };
    internal static readonly OpDef Conv2dInputGrad = new("Conv2dInputGrad", OpFamily.NN) { CallSiteVjp = true, CallSiteJvp = true, BatchedJvp = true };
    internal static readonly OpDef Conv2dRelu = new("Conv2dRelu", OpFamily.Fused) { CallSiteVjp = true, CallSiteJvp = true, BatchedJvp = true };
    internal static readonly OpDef Conv2dWeightGrad = new("Conv2dWeightGrad", OpFamily.NN) { CallSiteVjp = true, CallSiteJvp = true, BatchedJvp = true };
    internal static readonly OpDef Fold = new("Fold", OpFamily.NN) { CallSiteVjp = true, CallSiteJvp = true, BatchedJvp = false };
    internal static readonly OpDef MaxPool2d = new("MaxPool2d", OpFamily.NN, "nn.functional.max_pool2d") { CallSiteVjp = true, CallSiteJvp = true, BatchedJvp = false };
    internal static readonly OpDef MaxPool2dBackward = new("MaxPool2dBackward", OpFamily.NN) { CallSiteVjp = true, CallSiteJvp = true, BatchedJvp = false };
    internal static readonly OpDef MaxPool2dGather = new("MaxPool2dGather", OpFamily.NN) { CallSiteVjp = true, CallSiteJvp = true, BatchedJvp = false };
    internal static readonly OpDef MixedModeOutput = new("MixedModeOutput", OpFamily.Fused) { CallSiteVjp = true, CallSiteJvp = false, BatchedJvp = false };
    internal static readonly OpDef Unfold = new("Unfold", OpFamily.NN, "nn.functional.unfold") { CallSiteVjp = true, CallSiteJvp = true, BatchedJvp = false };
    internal static readonly OpDef AvgPool2d = new("AvgPool2d", OpFamily.NN, "nn.functional.avg_pool2d") { CallSiteVjp = true, CallSiteJvp = true };
    internal static readonly OpDef AvgPool2dBackward = new("AvgPool2dBackward", OpFamily.NN) { CallSiteVjp = true, CallSiteJvp = true };
    internal static readonly OpDef AdaptiveAvgPool2d = new("AdaptiveAvgPool2d", OpFamily.NN, "nn.functional.adaptive_avg_pool2d") { CallSiteVjp = true, CallSiteJvp = true };
    internal static readonly OpDef AdaptiveAvgPool2dBackward = new("AdaptiveAvgPool2dBackward", OpFamily.NN) { CallSiteVjp = true, CallSiteJvp = true };
    internal static readonly OpDef CustomFunctionGuard = new("OnceDifferentiable", OpFamily.Fused) { CallSiteVjp = true, CallSiteJvp = true };
    internal static readonly OpDef CustomFunction = new("CustomFunction", OpFamily.Fused) { CallSiteVjp = true, CallSiteJvp = true };

    /// <summary>The entry of a window-average pooling op (or its adjoint) by name.</summary>
    public static OpDef Pool(string name) => name switch
    {
        "AvgPool2d" => AvgPool2d, "AvgPool2dBackward" => AvgPool2dBackward,
        "AdaptiveAvgPool2d" => AdaptiveAvgPool2d, "AdaptiveAvgPool2dBackward" => AdaptiveAvgPool2dBackward,
        _ => throw new ArgumentException(name),
    };
}
