import AlignKernels
import AlignTensor
import Testing
import TestSupport

@Suite struct AutogradTests {
    @Test func reusedTensorAccumulatesGradient() {
        let x = Parameter(Tensor(shape: [3], values: [1, -2, 3]))
        // f = Σ x·x + 3x → df/dx = 2x + 3
        let y = (x.value * x.value + x.value * 3).sum()
        y.backward()
        #expect(x.grad!.toArray() == [5, -1, 9])
    }

    @Test func gradientsAccumulateAcrossBackwardCalls() {
        let x = Parameter(Tensor(shape: [2], values: [1, 2]))
        (x.value * 2).sum().backward()
        (x.value * 3).sum().backward()
        #expect(x.grad!.toArray() == [5, 5])
        x.zeroGrad()
        #expect(x.grad == nil)
    }

    @Test func noGradRecordsNothing() {
        let x = Parameter(Tensor(shape: [2], values: [1, 2]))
        let y = withNoGrad { (x.value * 2).exp().sum() }
        #expect(!y.requiresGrad)
        y.backward()
        #expect(x.grad == nil)
    }

    @Test func detachStopsGradient() {
        let x = Parameter(Tensor(shape: [2], values: [1, 2]))
        let y = (x.value * x.value.detached()).sum()
        y.backward()
        #expect(x.grad!.toArray() == [1, 2])
    }

    @Test func frozenParameterGetsNoGradient() {
        let w = Parameter(Tensor(shape: [2], values: [1, 2]), requiresGrad: false)
        let x = Parameter(Tensor(shape: [2], values: [3, 4]))
        (w.value * x.value).sum().backward()
        #expect(w.grad == nil)
        #expect(x.grad!.toArray() == [1, 2])
    }

    @Test func broadcastingShapes() {
        let a = Tensor(shape: [3, 1], values: [1, 2, 3]), b = Tensor(shape: [1, 4], values: [10, 20, 30, 40])
        #expect((a + b).shape == [3, 4])
        #expect((a + b).toArray()[5] == 22)
        #expect((Tensor(2) * b).toArray() == [20, 40, 60, 80])
        let c = randomTensor([2, 3, 4], seed: 1), d = Tensor(shape: [4], values: [1, 2, 3, 4])
        let e = c - d
        #expect(e.shape == [2, 3, 4])
        #expect(e.toArray()[7] == c.toArray()[7] - 4)
        // Empty dimensions pass through.
        #expect((Tensor.zeros([0, 4]) + d).shape == [0, 4])
    }

    @Test func viewsShareStorage() {
        let x = Tensor(shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        let row = x.slice(axis: 0, start: 1, length: 2)
        #expect(row.storage === x.storage)
        #expect(row.toArray() == [3, 4, 5, 6])
        #expect(x.reshaped([2, 3]).storage === x.storage)
        #expect(x.transposed().toArray() == [1, 3, 5, 2, 4, 6])
    }

    @Test func deepGraphDoesNotOverflowTheStack() {
        let x = Parameter(Tensor(shape: [1], values: [1]))
        var y = x.value
        for _ in 0..<20_000 { y = y + 0 }
        y.sum().backward()
        #expect(x.grad!.toArray() == [1])
    }

    /// softmax(QKᵀ/√d + causal mask)·V built from primitive ops, (B, T, H·D) in and out.
    static func composedAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, batch: Int, seq: Int, heads: Int, kvHeads: Int, dim: Int) -> Tensor {
        let qh = q.reshaped([batch, seq, heads, dim]).permuted([0, 2, 1, 3])                     // (B, H, T, D)
        func expand(_ t: Tensor) -> Tensor {                                                    // kv head h/g for query head h
            let th = t.reshaped([batch, seq, kvHeads, dim]).permuted([0, 2, 1, 3])
            return Tensor.concat((0..<heads).map { th.slice(axis: 1, start: $0 / (heads / kvHeads), length: 1) }, axis: 1)
        }
        let scores = qh.matmul(expand(k).transposed()) * (1 / Float(dim).squareRoot())     // (B, H, T, T)
        var causal = [Float](repeating: 0, count: seq * seq)
        for i in 0..<seq { for j in 0..<seq where j > i { causal[i * seq + j] = 1 } }
        let masked = scores.maskedFill(Tensor(shape: [seq, seq], values: causal), with: -.infinity)
        return masked.softmax().matmul(expand(v)).permuted([0, 2, 1, 3]).reshaped([batch, seq, heads * dim])
    }

    /// The fused kernel against the composed primitives, forward and all three gradients, at
    /// lengths that exercise one, two and four causal query blocks.
    @Test(arguments: [6, 130, 260])
    func attentionMatchesComposedPrimitives(seq: Int) {
        let (batch, heads, kvHeads, dim) = (2, 4, 2, 8)
        let inputs = [randomTensor([batch, seq, heads * dim], seed: 2), randomTensor([batch, seq, kvHeads * dim], seed: 3),
                      randomTensor([batch, seq, kvHeads * dim], seed: 4)]
        let fusedParams = inputs.map { Parameter($0.copy()) }, refParams = inputs.map { Parameter($0.copy()) }
        let seed = randomTensor([batch, seq, heads * dim], seed: 5)
        let fused = Tensor.causalAttention(q: fusedParams[0].value, k: fusedParams[1].value, v: fusedParams[2].value,
                                           heads: heads, kvHeads: kvHeads)
        let reference = Self.composedAttention(refParams[0].value, refParams[1].value, refParams[2].value,
                                               batch: batch, seq: seq, heads: heads, kvHeads: kvHeads, dim: dim)
        expectClose(fused, reference, atol: 1e-5, rtol: 1e-4, "attention T=\(seq)")
        fused.backward(seed: seed)
        reference.backward(seed: seed)
        for (name, (a, b)) in zip(["dq", "dk", "dv"], zip(fusedParams, refParams)) {
            expectClose(a.grad!, b.grad!, atol: 1e-5, rtol: 1e-3, "attention T=\(seq) \(name)")
        }
    }

    @Test func logSoftmaxGatherMatchesLogSoftmax() {
        let logits = randomTensor([5, 9], seed: 5, low: -4, high: 4)
        let targets: [Int32] = [0, 8, -100, 3, 3]
        let fused = logits.logSoftmaxGather(targets: targets).toArray()
        let full = logits.logSoftmax().toArray()
        for (r, t) in targets.enumerated() {
            #expect(abs(fused[r] - (t < 0 ? 0 : full[r * 9 + Int(t)])) < 1e-6)
        }
    }

    @Test func vectorExpMatchesLibm() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let v = VectorMath.exp(SIMD8<Float>(repeating: x))[0]
            worst = max(worst, abs(v - Foundation.exp(x)) / Foundation.exp(x))
            x += 0.173
        }
        #expect(worst < 4e-7)
        #expect(VectorMath.exp(SIMD8<Float>(repeating: -200))[0] == 0)
        #expect(VectorMath.exp(SIMD8<Float>(repeating: 200))[0] == .infinity)
    }

    @Test func randomGeneratorReproduces() {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        var c = RandomGenerator(seed: 43)
        #expect(a.next() != c.next())
        var n = RandomGenerator(seed: 7)
        let samples = (0..<20_000).map { _ in Double(n.nextNormal()) }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let variance = samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(samples.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
    }
}
import Foundation
