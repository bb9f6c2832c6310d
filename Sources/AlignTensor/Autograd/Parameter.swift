import AlignKernels

/// A trainable tensor: a leaf of the autograd graph whose gradient accumulates in ``grad``.
/// Optimisers update ``value`` in place, so the leaf keeps its identity across steps.
public final class Parameter: @unchecked Sendable {
    /// The current value. Using it in ops records gradients into ``grad`` (unless frozen).
    public private(set) var value: Tensor
    /// The accumulated gradient, same shape as ``value``; nil until a backward pass reaches it.
    public var grad: Tensor?
    /// Called right after a backward pass has added this parameter's gradient into ``grad`` (each
    /// backward adds it exactly once, however many ops used the parameter): data-parallel training
    /// starts reducing a bucket of gradients while the backward pass goes on with earlier layers.
    public var onGradientAccumulated: ((Parameter) -> Void)?
    /// Frozen parameters take part in computations but receive no gradient.
    public var requiresGrad: Bool { didSet { rebuildLeaf() } }

    /// Makes `value` (copied into private storage) trainable.
    public init(_ value: Tensor, requiresGrad: Bool = true) {
        self.value = value.detached()
        self.requiresGrad = requiresGrad
        rebuildLeaf()
    }

    private func rebuildLeaf() {
        let plain = value.detached()
        value = requiresGrad
            ? Tensor(storage: plain.storage, shape: plain.shape, offset: plain.offset, node: GradNode(leaf: self, shape: plain.shape))
            : plain
    }

    /// The shape of the value.
    public var shape: [Int] { value.shape }

    /// Replaces the value's contents with `newValue` (same shape), keeping the parameter's identity.
    public func assign(_ newValue: Tensor) {
        precondition(newValue.shape == value.shape, "cannot assign shape \(newValue.shape) to parameter of shape \(value.shape)")
        value.pointer.update(from: newValue.pointer, count: value.count)
    }

    /// Adds `g` into ``grad``, allocating it on first use (never aliasing `g`).
    func accumulate(_ g: Tensor) {
        if let grad {
            Kernels.accumulate(g.pointer, into: grad.pointer, count: grad.count)
        } else {
            grad = g.copy().reshaped(value.shape)
        }
        onGradientAccumulated?(self)
    }

    /// Holds the value in `format` from now on (a frozen weight of a model used only for
    /// inference, see ``ElementFormat``): the fp32 storage is released, so a 16-bit model takes
    /// half the memory (Q8_0: 34/128). The parameter must be frozen (`requiresGrad` false); ``assign(_:)`` and
    /// optimisers then refuse it, while ``Tensor/linear(weight:bias:)``, decoding and embedding
    /// lookups read it. Converting back to `.f32` widens exactly.
    public func store(in format: ElementFormat) {
        precondition(!requiresGrad || format == .f32, "only a frozen parameter can be held in \(format)")
        value = value.converted(to: format)
        grad = nil
        rebuildLeaf()
    }

    /// Drops the gradient (as `optimizer.zero_grad(set_to_none=True)` does).
    public func zeroGrad() { grad = nil }
}
