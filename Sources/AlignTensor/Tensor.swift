import AlignKernels

/// An n-dimensional array of `Float` that can take part in reverse-mode differentiation.
///
/// A tensor is a cheap value: shared ``TensorStorage`` plus an offset and a shape, always
/// contiguous in row-major order. Reshapes and slices along the first axis are views; every other
/// op writes a new storage. When gradients are enabled (see ``withNoGrad(_:)``) and an input
/// requires a gradient, the result remembers how it was made so that ``backward(seed:)`` can run.
///
/// ```swift
/// let w = Parameter(Tensor.randomNormal([4, 3], std: 0.1, generator: &rng))
/// let y = x.linear(w.value).silu().sum()
/// y.backward()
/// w.grad  // (4, 3)
/// ```
public struct Tensor: @unchecked Sendable {
    /// The shared memory this tensor reads.
    public let storage: TensorStorage
    /// Index of the first element inside ``storage``.
    public let offset: Int
    /// Dimensions, outermost first; `[]` is a scalar.
    public let shape: [Int]
    /// The autograd record of how this value was computed (nil for constants).
    let node: GradNode?

    /// Wraps existing storage; `shape` must fit inside it from `offset`.
    public init(storage: TensorStorage, shape: [Int], offset: Int = 0) {
        self.init(storage: storage, shape: shape, offset: offset, node: nil)
    }

    init(storage: TensorStorage, shape: [Int], offset: Int, node: GradNode?) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(offset + shape.reduce(1, *) <= storage.count, "shape \(shape) at offset \(offset) overruns storage of \(storage.count)")
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.node = node
    }

    /// A tensor holding `values` in row-major order.
    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(values.count) values cannot fill shape \(shape)")
        self.init(storage: TensorStorage(copying: values), shape: shape)
    }

    /// A scalar (rank-0) tensor.
    public init(_ value: Float) { self.init(shape: [], values: [value]) }

    /// An uninitialised tensor: callers must write every element.
    public static func empty(_ shape: [Int]) -> Tensor {
        Tensor(storage: TensorStorage(count: shape.reduce(1, *)), shape: shape)
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor {
        Tensor(storage: TensorStorage(zeros: shape.reduce(1, *)), shape: shape)
    }

    /// A tensor with every element equal to `value`.
    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        let t = empty(shape)
        t.pointer.update(repeating: value, count: t.count)
        return t
    }

    /// A tensor of ones.
    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }

    /// Samples from N(mean, std²), reproducibly from `generator`.
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1, generator: inout RandomGenerator) -> Tensor {
        let t = empty(shape)
        generator.fillNormal(t.pointer, count: t.count, mean: mean, std: std)
        return t
    }

    /// Samples uniformly from [low, high), reproducibly from `generator`.
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1, generator: inout RandomGenerator) -> Tensor {
        let t = empty(shape)
        generator.fillUniform(t.pointer, count: t.count, low: low, high: high)
        return t
    }

    /// Kaiming-uniform initialisation for a (out, in) weight, as `torch.nn.Linear` does by default:
    /// U(−1/√in, 1/√in).
    public static func kaimingUniform(_ shape: [Int], generator: inout RandomGenerator) -> Tensor {
        let fanIn = shape.dropFirst().reduce(1, *)
        let bound = 1 / Float(Swift.max(fanIn, 1)).squareRoot()
        return randomUniform(shape, low: -bound, high: bound, generator: &generator)
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// The first element, for kernels. Package-internal: layers, models, optimisers and objectives
    /// use tensor operations (a second backend implements those, not raw memory access).
    ///
    /// A tensor held narrow (``format`` `.f16`/`.bf16`/`.q8_0`, see ``converted(to:)``) has no float
    /// memory to hand out: only the ops that widen it (``linear(weight:bias:)``,
    /// ``decodingLinear(weight:bias:)``, ``embedding(ids:shape:)``, ``toArray()``) read it, and any
    /// other use stops here with a message rather than reading half-sized memory as floats.
    package var pointer: UnsafeMutablePointer<Float> {
        if storage.format != .f32 { Tensor.refuseFloatAccess(storage.format, shape) }
        return storage.pointer + offset
    }
    /// The first element of a 16-bit tensor (``format`` `.f16` or `.bf16`).
    package var halfPointer: UnsafeMutablePointer<UInt16> { storage.halfPointer + offset }
    /// The first byte of a tensor in any format (a Q8_0 view starts on a block).
    package var rawPointer: UnsafeMutableRawPointer { storage.rawPointer + format.byteCount(elements: offset) }
    /// How the elements are stored (fp32 unless ``converted(to:)`` made a 16-bit copy).
    public var format: ElementFormat { storage.format }

    static func refuseFloatAccess(_ format: ElementFormat, _ shape: [Int]) -> Never {
        fatalError("a \(format) tensor \(shape) is frozen inference storage: only linear, decodingLinear and embedding read it (convert it back with converted(to: .f32))")
    }
    /// Whether gradients flow back through this tensor.
    public var requiresGrad: Bool { node != nil }

    /// This value cut off from the graph: no gradient flows through the result.
    public func detached() -> Tensor { Tensor(storage: storage, shape: shape, offset: offset, node: nil) }

    /// The elements in row-major order.
    public func toArray() -> [Float] {
        if format != .f32 { return converted(to: .f32).toArray() }
        return Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// The single element of a one-element tensor.
    public func item() -> Float {
        precondition(count == 1, "item() on a tensor of shape \(shape)")
        return pointer[0]
    }

    /// A fresh contiguous copy (no graph).
    public func copy() -> Tensor {
        let t = Tensor.empty(shape)
        t.pointer.update(from: pointer, count: count)
        return t
    }

    /// Normalises a possibly negative axis index.
    @inlinable
    public func axis(_ a: Int) -> Int {
        let r = a < 0 ? a + shape.count : a
        precondition(r >= 0 && r < shape.count, "axis \(a) out of range for shape \(shape)")
        return r
    }

    /// Sizes before, along and after `axis`, for kernels that work on (outer, n, inner) views.
    func split(at axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = toArray()
        let shown = values.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(values.count > 8 ? ", …" : "")])"
    }
}
