/// Namespace of the CPU kernels: plain functions over raw `Float` buffers with explicit sizes.
/// Each file holds one family (elementwise, reductions, softmax, normalisation, attention, ...);
/// the differentiable ops in AlignTensor call these for both their forward and backward passes.
public enum Kernels {
    /// Elements per parallel chunk for cheap elementwise work: below this, threads cost more than
    /// they save.
    public static let elementwiseGrain = 1 << 14
}
