import AlignKernels

/// Every differentiable op Align records, with exactly the values its backward pass needs.
/// ``Backward/vectorJacobianProducts(_:grad:needs:accumulatingInputGradientInto:)`` holds the gradient rule of each case.
/// Saved tensors are detached copies of references (no data is copied).
enum Operation {
    case leaf
    case released
    // Elementwise with broadcasting.
    case add(aShape: [Int], bShape: [Int])
    case subtract(aShape: [Int], bShape: [Int])
    case multiply(a: Tensor, b: Tensor)
    case divide(a: Tensor, b: Tensor)
    case scale(Float)
    case addScalar
    // Unary maps.
    case exp(output: Tensor)
    case log(input: Tensor)
    case sqrt(output: Tensor)
    case rsqrt(output: Tensor)
    case tanh(output: Tensor)
    case sigmoid(output: Tensor)
    case logSigmoid(input: Tensor)
    case silu(input: Tensor)
    case swiGLU(gate: Tensor, up: Tensor)
    case gelu(input: Tensor, tanhApproximation: Bool)
    case relu(input: Tensor)
    case square(input: Tensor)
    // Reductions over one axis.
    case sum(inputShape: [Int], axis: Int)
    case mean(inputShape: [Int], axis: Int)
    case max(inputShape: [Int], axis: Int, argmax: [Int32])
    // Shape and layout.
    case reshape(inputShape: [Int])
    case permute(inputShape: [Int], permutation: [Int])
    case slice(inputShape: [Int], axis: Int, start: Int, length: Int)
    case concat(axis: Int, shapes: [[Int]])
    case maskedFill(mask: Tensor)
    case select(condition: Tensor)
    // Softmax family.
    case softmax(output: Tensor)
    case logSoftmax(output: Tensor)
    case logSoftmaxGather(logits: Tensor, targets: [Int32], lse: Tensor, ignoreIndex: Int32)
    // Normalisation.
    case rmsNorm(x: Tensor, weight: Tensor, rstd: Tensor)
    case layerNorm(x: Tensor, weight: Tensor, mean: Tensor, rstd: Tensor, hasBias: Bool)
    case groupNorm(x: Tensor, weight: Tensor, mean: Tensor, rstd: Tensor, groups: Int)
    // Transformer pieces.
    case rotary(table: RotaryTable, positions: [Int32], heads: Int, convention: Kernels.RotaryConvention)
    case attention(q: Tensor, k: Tensor, v: Tensor, output: Tensor, lse: Tensor, keyMask: Tensor?, shape: AttentionShape)
    case packedAttention(q: Tensor, k: Tensor, v: Tensor, output: Tensor, lse: Tensor, segments: AttentionSegments)
    case matmul(a: Tensor, b: Tensor)
    case linear(x: Tensor, weight: Tensor, hasBias: Bool)
    /// x·(W + s·B·A)ᵀ + bias (``Tensor/lowRankLinear(weight:bias:a:b:scaling:)``); h = x·Aᵀ (rows, r).
    case lowRankLinear(x: Tensor, weight: Tensor, a: Tensor, b: Tensor, h: Tensor, scaling: Float, hasBias: Bool)
    case embedding(ids: [Int32], vocabulary: Int)
    case dropout(mask: Tensor)
    // Image ops (diffusion denoisers).
    case conv2d(x: Tensor, weight: Tensor, hasBias: Bool, shape: Conv2DShape)
    case upsampleNearest(inputShape: [Int], factor: Int)
}

extension Operation {
    /// `linear` and `lowRankLinear`: ops whose input gradient is a fresh product that can
    /// accumulate into an existing gradient buffer.
    var isLinearFamily: Bool {
        switch self {
        case .linear, .lowRankLinear: return true
        default: return false
        }
    }
}
