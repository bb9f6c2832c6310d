import AlignKernels
import AlignTensor

/// y = x·Wᵀ + b with W (out, in), as `torch.nn.Linear`. Parameters `weight` and `bias`.
public final class Linear: Module {
    public let weight: Parameter
    public let bias: Parameter?
    /// A low-rank adapter added to this layer's output (``LoRAAdapter``); its parameters are not
    /// among the layer's own (a saved model stays the base model), see ``Module/adapterParameters()``.
    public var adapter: LoRAAdapter?
    /// The adapter reference forwards use (``AdapterMode/reference``): a frozen copy of the adapter
    /// training started from, or nil for the bare layer.
    public var referenceAdapter: LoRAAdapter?

    /// Kaiming-uniform weights and bias, as PyTorch initialises them.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: inout RandomGenerator) {
        weight = Parameter(Tensor.kaimingUniform([outFeatures, inFeatures], generator: &generator))
        let bound = 1 / Float(inFeatures).squareRoot()
        self.bias = bias ? Parameter(Tensor.randomUniform([outFeatures], low: -bound, high: bound, generator: &generator)) : nil
    }

    /// Wraps existing weights (for instance loaded from a checkpoint).
    public init(weight: Tensor, bias: Tensor? = nil) {
        self.weight = Parameter(weight)
        self.bias = bias.map { Parameter($0) }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let adapter = activeAdapter
        if let adapter, let y = adapter.mergedOutput(x, weight: weight.value, bias: bias?.value) { return y }
        let y = x.linear(weight: weight.value, bias: bias?.value)
        guard let adapter else { return y }
        return adapter.output(x, base: y, weight: weight.value, bias: bias?.value)
    }

    /// `self(x)`, or with `decoding` (x holds the few new rows of an incremental decoding step,
    /// inference only) the same product through ``Tensor/decodingLinear(weight:bias:)``.
    public func callAsFunction(_ x: Tensor, decoding: Bool) -> Tensor {
        guard decoding else { return self(x) }
        let y = x.decodingLinear(weight: weight.value, bias: bias?.value)
        guard let adapter = activeAdapter else { return y }
        return adapter.output(x, base: y, weight: weight.value, bias: bias?.value)
    }

    /// The decoding products (``callAsFunction(_:decoding:)``) of several layers that read the
    /// same x (q/k/v, gate/up): one parallel pass (``Tensor/decodingLinears(_:)``) when none has
    /// an active adapter, else each layer on its own.
    public static func decoding(_ x: Tensor, _ layers: [Linear]) -> [Tensor] {
        if layers.contains(where: { $0.activeAdapter != nil }) { return layers.map { $0(x, decoding: true) } }
        return x.decodingLinears(layers.map { (weight: $0.weight.value, bias: $0.bias?.value) })
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        if let collector = LinearCollector.current { collector.found.append((String(prefix.dropLast()), self)) }
        visit(prefix + "weight", weight)
        if let bias { visit(prefix + "bias", bias) }
    }
}

/// A lookup table (vocabulary, dim), as `torch.nn.Embedding`. Parameter `weight`.
public final class Embedding: Module {
    public let weight: Parameter

    /// N(0, 1) initialisation, as PyTorch.
    public init(_ count: Int, _ dim: Int, std: Float = 1, generator: inout RandomGenerator) {
        weight = Parameter(Tensor.randomNormal([count, dim], std: std, generator: &generator))
    }

    public init(weight: Tensor) { self.weight = Parameter(weight) }

    /// Rows for `ids` laid out as `shape`; the result is `shape + [dim]`.
    public func callAsFunction(_ ids: [Int32], shape: [Int]) -> Tensor {
        weight.value.embedding(ids: ids, shape: shape)
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        visit(prefix + "weight", weight)
    }
}

/// Root-mean-square normalisation with a learned scale (Llama's `LlamaRMSNorm`).
public final class RMSNorm: Module {
    public let weight: Parameter
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-6) {
        weight = Parameter(Tensor.ones([dim]))
        self.eps = eps
    }

    /// Wraps an existing scale (for instance loaded from a checkpoint).
    public init(weight: Tensor, eps: Float) {
        self.weight = Parameter(weight)
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.rmsNorm(weight: weight.value, eps: eps) }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        visit(prefix + "weight", weight)
    }
}

/// Layer normalisation with learned scale and shift (GPT-2's `ln_1`, `ln_2`, `ln_f`).
public final class LayerNorm: Module {
    public let weight: Parameter
    public let bias: Parameter?
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5, bias: Bool = true) {
        weight = Parameter(Tensor.ones([dim]))
        self.bias = bias ? Parameter(Tensor.zeros([dim])) : nil
        self.eps = eps
    }

    /// Wraps existing parameters (for instance loaded from a checkpoint).
    public init(weight: Tensor, bias: Tensor?, eps: Float) {
        self.weight = Parameter(weight)
        self.bias = bias.map { Parameter($0) }
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight.value, bias: bias?.value, eps: eps) }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        visit(prefix + "weight", weight)
        if let bias { visit(prefix + "bias", bias) }
    }
}
