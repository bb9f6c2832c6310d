import AlignKernels
import AlignTensor
import Testing
import TestSupport

/// Every differentiable op's backward pass against finite differences.
@Suite struct GradientTests {
    let a = randomTensor([3, 4], seed: 1)
    let b = randomTensor([3, 4], seed: 2)
    let positive = randomTensor([3, 4], seed: 3, low: 0.5, high: 2)

    @Test func broadcastingArithmetic() {
        let row = randomTensor([4], seed: 4), col = randomTensor([3, 1], seed: 5, low: 0.5, high: 1.5)
        gradcheck([a, b], "add") { $0[0] + $0[1] }
        gradcheck([a, row], "add row") { $0[0] + $0[1] }
        gradcheck([a, col], "sub col") { $0[0] - $0[1] }
        gradcheck([col, row], "outer product by broadcast") { $0[0] * $0[1] }
        gradcheck([a, col], "div col") { $0[0] / $0[1] }
        gradcheck([randomTensor([2, 1, 4], seed: 6), randomTensor([3, 1], seed: 7, low: 1, high: 2)], "div 3-d") { $0[0] / $0[1] }
        gradcheck([a, Tensor(0.7)], "scalar tensor") { $0[0] * $0[1] }
        gradcheck([a], "scalar ops") { ((2.5 * $0[0] + 1) - 0.5) / 3 }
        gradcheck([a], "negation") { -$0[0] }
    }

    @Test func unaryMaps() {
        gradcheck([a], "exp") { $0[0].exp() }
        gradcheck([positive], "log") { $0[0].log() }
        gradcheck([positive], "sqrt") { $0[0].sqrt() }
        gradcheck([positive], "rsqrt") { $0[0].rsqrt() }
        gradcheck([a], "tanh") { $0[0].tanh() }
        gradcheck([a], "sigmoid") { $0[0].sigmoid() }
        gradcheck([a * 6], "log-sigmoid") { $0[0].logSigmoid() }
        gradcheck([a * 3], "silu") { $0[0].silu() }
        gradcheck([a * 3, b], "swiGLU") { Tensor.swiGLU(gate: $0[0], up: $0[1]) }
        gradcheck([a * 3], "gelu erf") { $0[0].gelu() }
        gradcheck([a * 3], "gelu tanh") { $0[0].gelu(tanhApproximation: true) }
        gradcheck([positive - 1.25], "relu") { $0[0].relu() }
        gradcheck([a], "square") { $0[0].square() }
    }

    @Test func reductions() {
        let x = randomTensor([2, 3, 4], seed: 8)
        gradcheck([x], "sum axis 1") { $0[0].sum(axis: 1) }
        gradcheck([x], "sum axes keepdims") { $0[0].sum(axes: [0, 2], keepingDimensions: true) }
        gradcheck([x], "sum all") { $0[0].sum() }
        gradcheck([x], "mean axis -1") { $0[0].mean(axis: -1) }
        gradcheck([x], "mean all") { $0[0].mean() }
        gradcheck([x], "max axis 1") { $0[0].max(axis: 1) }
    }

    @Test func layoutOps() {
        let x = randomTensor([2, 3, 4], seed: 9)
        gradcheck([x], "reshape") { $0[0].reshaped([6, -1]) * $0[0].reshaped([6, 4]) }
        gradcheck([x], "permute") { $0[0].permuted([2, 0, 1]) }
        gradcheck([x], "transpose") { $0[0].transposed(0, 1) }
        gradcheck([x], "slice axis 0 (view)") { $0[0].slice(axis: 0, start: 1, length: 1) }
        gradcheck([x], "slice axis 2") { $0[0].slice(axis: 2, start: 1, length: 2) }
        gradcheck([x, randomTensor([2, 2, 4], seed: 10)], "concat") { Tensor.concat([$0[0], $0[1]], axis: 1) }
        gradcheck([a, b], "stack") { Tensor.stack([$0[0], $0[1]], axis: 1) }
        let mask = Tensor(shape: [3, 4], values: [1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0])
        gradcheck([a], "masked fill") { $0[0].maskedFill(mask, with: -5) }
        gradcheck([a, b], "select") { Tensor.select(mask, $0[0], $0[1]) }
    }

    @Test func softmaxFamily() {
        let logits = randomTensor([4, 7], seed: 11, low: -3, high: 3)
        gradcheck([logits], "softmax") { $0[0].softmax() }
        gradcheck([logits], "log-softmax") { $0[0].logSoftmax() }
        let targets: [Int32] = [2, -100, 6, 0]
        gradcheck([logits], "log-softmax gather") { $0[0].logSoftmaxGather(targets: targets) }
        gradcheck([logits.reshaped([2, 2, 7])], "cross-entropy") { $0[0].crossEntropy(targets: targets) }
    }

    @Test func normalisation() {
        let x = randomTensor([5, 8], seed: 12, low: -2, high: 2)
        let w = randomTensor([8], seed: 13, low: 0.5, high: 1.5), bias = randomTensor([8], seed: 14)
        gradcheck([x, w], "RMSNorm") { $0[0].rmsNorm(weight: $0[1], eps: 1e-6) }
        gradcheck([x, w, bias], "LayerNorm") { $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-5) }
        let img = randomTensor([2, 4, 3, 3], seed: 15)
        let gw = randomTensor([4], seed: 16, low: 0.5, high: 1.5), gb = randomTensor([4], seed: 17)
        gradcheck([img, gw, gb], "GroupNorm") { $0[0].groupNorm(groups: 2, weight: $0[1], bias: $0[2]) }
    }

    @Test func rotaryBothConventions() {
        let table = RotaryTable(headDim: 8, maxPositions: 16, theta: 10_000)
        let x = randomTensor([2, 3, 2 * 8], seed: 18)
        let positions: [Int32] = [0, 1, 2, 5, 6, 7]
        gradcheck([x], "rotate-half") { $0[0].rotary(table, positions: positions, heads: 2) }
        gradcheck([x], "adjacent pairs") { $0[0].rotary(table, positions: positions, heads: 2, convention: .adjacentPairs) }
    }

    @Test func attentionWithGroupedHeadsAndPadding() {
        let (batch, seq, heads, kvHeads, dim) = (2, 5, 4, 2, 4)
        let q = randomTensor([batch, seq, heads * dim], seed: 19)
        let k = randomTensor([batch, seq, kvHeads * dim], seed: 20)
        let v = randomTensor([batch, seq, kvHeads * dim], seed: 21)
        // Second row left-padded by two tokens.
        let mask = Tensor(shape: [batch, seq], values: [1, 1, 1, 1, 1, 0, 0, 1, 1, 1])
        gradcheck([q, k, v], "attention") {
            let out = Tensor.causalAttention(q: $0[0], k: $0[1], v: $0[2], heads: heads, kvHeads: kvHeads, keyMask: mask)
            return out.slice(axis: 0, start: 0, length: 1) + out.slice(axis: 0, start: 1, length: 1).slice(axis: 1, start: 2, length: 3).sum(axis: 1, keepingDimension: true)
        }
    }

    @Test func matrixProducts() {
        let x = randomTensor([2, 3, 4], seed: 22), w = randomTensor([5, 4], seed: 23), bias = randomTensor([5], seed: 24)
        gradcheck([x, w, bias], "linear") { $0[0].linear(weight: $0[1], bias: $0[2]) }
        gradcheck([x, w], "linear without bias") { $0[0].linear(weight: $0[1]) }
        gradcheck([x, randomTensor([4, 2], seed: 25)], "matmul shared") { $0[0].matmul($0[1]) }
        gradcheck([x, randomTensor([2, 4, 3], seed: 26)], "matmul batched") { $0[0].matmul($0[1]) }
        let ids: [Int32] = [3, 1, 3, 0, 3, 2]
        gradcheck([randomTensor([5, 4], seed: 27)], "embedding with repeats") { $0[0].embedding(ids: ids, shape: [2, 3]) }
    }

    /// One input feeding several linear layers (q/k/v, gate/up) and other ops: backward adds later
    /// input gradients into the first one's buffer in place (GEMM with beta = 1, or an in-place sum);
    /// every order of arrival must give the plain sum, and a gradient shared with another node (the
    /// residual add passes its gradient through) must never be written into.
    @Test func sharedInputAccumulatesInPlace() {
        let x = randomTensor([2, 3, 4], seed: 40)
        let (w1, w2, w3) = (randomTensor([5, 4], seed: 41), randomTensor([2, 4], seed: 42), randomTensor([4, 4], seed: 43))
        let (a, b) = (randomTensor([2, 4], seed: 44), randomTensor([4, 2], seed: 45))
        gradcheck([x, w1, w2, w3, a, b], "three linears, a low-rank one and a residual on one input") { t in
            let h = t[0].linear(weight: t[3]) + t[0]                                       // residual: x's gradient passes through
            let q = h.linear(weight: t[1]), k = h.linear(weight: t[2])
            let v = h.lowRankLinear(weight: t[3], bias: nil, a: t[4], b: t[5], scaling: 0.5)
            return q.sum(axis: 2, keepingDimension: true) * k.sum(axis: 2, keepingDimension: true)
                + (v * h).sum(axis: 2, keepingDimension: true) + h.linear(weight: t[2]).sum(axis: 2, keepingDimension: true)
        }
        // One node as both inputs of an op that passes its gradient through: the two equal
        // contributions are summed, never mistaken for an in-place accumulation.
        gradcheck([x, w1], "x + x into a linear") { t in
            let d = t[0] + t[0]
            return (d + d).linear(weight: t[1]) + t[0].linear(weight: t[1])
        }
    }

    @Test func regularisationAndLosses() {
        gradcheck([a], "dropout") { x in
            var g = RandomGenerator(seed: 5)
            return x[0].dropout(0.5, generator: &g)
        }
        gradcheck([a, b], "MSE") { Tensor.meanSquaredError($0[0], $0[1]) }
    }

    @Test func imageOps() {
        let x = randomTensor([2, 3, 5, 5], seed: 28), w = randomTensor([4, 3, 3, 3], seed: 29), bias = randomTensor([4], seed: 30)
        gradcheck([x, w, bias], "conv2d stride 1 pad 1") { $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 1, padding: 1) }
        gradcheck([x, w], "conv2d stride 2 pad 1") { $0[0].conv2d(weight: $0[1], stride: 2, padding: 1) }
        gradcheck([randomTensor([2, 3, 2, 3], seed: 31)], "upsample ×2") { $0[0].upsampleNearest(factor: 2) }
    }

    /// The fused SwiGLU gate equals its composition from existing ops, forward and backward
    /// (silu and multiply are each checked against PyTorch).
    @Test func swiGLUEqualsSiluTimesUp() {
        let gate = randomTensor([37, 11], seed: 61, low: -4, high: 4), up = randomTensor([37, 11], seed: 62)
        let seed = randomTensor([37, 11], seed: 63)
        let (g1, u1) = (Parameter(gate.copy()), Parameter(up.copy()))
        let fused = Tensor.swiGLU(gate: g1.value, up: u1.value)
        fused.backward(seed: seed)
        let (g2, u2) = (Parameter(gate.copy()), Parameter(up.copy()))
        let composed = g2.value.silu() * u2.value
        composed.backward(seed: seed)
        expectClose(fused, composed, atol: 1e-6, rtol: 1e-6, "forward")
        expectClose(g1.grad!, g2.grad!, atol: 1e-6, rtol: 1e-5, "d gate")
        expectClose(u1.grad!, u2.grad!, atol: 1e-6, rtol: 1e-6, "d up")
    }
}
