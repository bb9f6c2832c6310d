import AlignKernels
import AlignNN
import AlignOptim
import AlignTensor
import Testing
import TestSupport

@Suite struct TrainingTests {
    @Test func mlpLearnsXOR() {
        var g = RandomGenerator(seed: 0)
        let l1 = Linear(2, 8, generator: &g), l2 = Linear(8, 1, generator: &g)
        let params = [("l1.weight", l1.weight), ("l1.bias", l1.bias!), ("l2.weight", l2.weight), ("l2.bias", l2.bias!)]
            .map { (name: $0.0, parameter: $0.1) }
        let opt = AdamW(parameters: params, learningRate: 0.05, weightDecay: 0)
        let x = Tensor(shape: [4, 2], values: [0, 0, 0, 1, 1, 0, 1, 1])
        let y = Tensor(shape: [4, 1], values: [0, 1, 1, 0])
        var loss: Float = 1
        for _ in 0..<300 {
            params.forEach { $0.parameter.zeroGrad() }
            let out = l2(l1(x).tanh()).sigmoid()
            let l = Tensor.meanSquaredError(out, y)
            l.backward()
            opt.step()
            loss = l.item()
        }
        let out = withNoGrad { l2(l1(x).tanh()).sigmoid() }.toArray()
        #expect(loss < 0.01)
        #expect(out[0] < 0.2 && out[1] > 0.8 && out[2] > 0.8 && out[3] < 0.2)
    }

    @Test func adamWStepEqualsHandComputed() {
        let p = Parameter(Tensor(shape: [2], values: [1.0, -2.0]))
        let opt = AdamW(parameters: [(name: "p", parameter: p)], learningRate: 0.1, beta1: 0.9, beta2: 0.999,
                        eps: 1e-8, weightDecay: 0.01)
        for (step, grad) in [[0.5, -1.5], [0.25, 0.75]].enumerated() {
            p.grad = Tensor(shape: [2], values: grad.map(Float.init))
            opt.step()
            _ = step
        }
        // By hand, in double precision, PyTorch's formulas.
        var value = [1.0, -2.0], m = [0.0, 0.0], v = [0.0, 0.0]
        for (t, grad) in [[0.5, -1.5], [0.25, 0.75]].enumerated() {
            for i in 0..<2 {
                value[i] *= 1 - 0.1 * 0.01
                m[i] = 0.9 * m[i] + 0.1 * grad[i]
                v[i] = 0.999 * v[i] + 0.001 * grad[i] * grad[i]
                let mHat = m[i] / (1 - pow(0.9, Double(t + 1)))
                let vHat = v[i] / (1 - pow(0.999, Double(t + 1)))
                value[i] -= 0.1 * mHat / (vHat.squareRoot() + 1e-8)
            }
        }
        expectClose(p.value.toArray(), value.map(Float.init), atol: 1e-6, rtol: 1e-6, "AdamW")
    }

    @Test func adamWUpdateIsBitIdenticalToTheScalarFormula() {
        // 8-lane blocks plus a 3-element tail: every element must equal the scalar formula
        // exactly, in Float, in its order of operations (the vector path promises that).
        let n = 19
        var g = RandomGenerator(seed: 11)
        let p0 = (0..<n).map { _ in g.nextNormal() }, grad = (0..<n).map { _ in g.nextNormal() }
        let m0 = (0..<n).map { _ in 0.1 * g.nextNormal() }, v0 = (0..<n).map { _ in abs(0.01 * g.nextNormal()) }
        let p = Tensor(shape: [n], values: p0), m = Tensor(shape: [n], values: m0), v = Tensor(shape: [n], values: v0)
        let (stepSize, b1, b2, eps, root, decay): (Float, Float, Float, Float, Float, Float) = (0.003, 0.9, 0.999, 1e-8, 0.0447, 0.9999)
        p.applyAdamW(gradient: Tensor(shape: [n], values: grad), expAvg: m, expAvgSq: v, stepSize: stepSize, beta1: b1,
                     beta2: b2, eps: eps, biasCorrection2Root: root, decay: decay)
        for i in 0..<n {
            let mi = b1 * m0[i] + (1 - b1) * grad[i]
            let vi = b2 * v0[i] + (1 - b2) * grad[i] * grad[i]
            let pi = p0[i] * decay - stepSize * mi / (vi.squareRoot() / root + eps)
            #expect(m.toArray()[i] == mi && v.toArray()[i] == vi && p.toArray()[i] == pi, "element \(i)")
        }
    }

    @Test func longDotIsTheSameOnAnyThreadCount() {
        // 100 blocks of 512 and a partial one: the parallel path adds block sums in order, so it
        // equals the one-thread sum exactly.
        var g = RandomGenerator(seed: 12)
        let x = Tensor(shape: [51_300], values: (0..<51_300).map { _ in g.nextNormal() })
        var serial = 0.0
        for start in stride(from: 0, to: x.count, by: 512) {
            let end = min(x.count, start + 512)
            var acc = SIMD8<Float>()
            var i = start
            while i + 8 <= end {
                acc += SIMD8<Float>((0..<8).map { x.pointer[i + $0] }) * SIMD8<Float>((0..<8).map { x.pointer[i + $0] })
                i += 8
            }
            var block = Double(acc.sum())
            while i < end { block += Double(x.pointer[i]) * Double(x.pointer[i]); i += 1 }
            serial += block
        }
        #expect(x.sumOfSquares() == serial)
    }

    @Test func sgdMomentumAndRMSpropMatchPyTorchFormulas() {
        let p = Parameter(Tensor(shape: [1], values: [1]))
        let sgd = SGD(parameters: [(name: "p", parameter: p)], learningRate: 0.1, momentum: 0.9)
        p.grad = Tensor(shape: [1], values: [1]); sgd.step()   // b = 1, p = 0.9
        p.grad = Tensor(shape: [1], values: [1]); sgd.step()   // b = 1.9, p = 0.71
        #expect(abs(p.value.item() - 0.71) < 1e-6)
        let q = Parameter(Tensor(shape: [1], values: [1]))
        let rms = RMSprop(parameters: [(name: "q", parameter: q)], learningRate: 0.01, alpha: 0.99, eps: 1e-8)
        q.grad = Tensor(shape: [1], values: [2]); rms.step()
        // v = 0.01·4 = 0.04; q = 1 − 0.01·2/0.2 = 0.9
        #expect(abs(q.value.item() - 0.9) < 1e-6)
    }

    @Test func optimizerStateRoundTripContinuesExactly() throws {
        func run(split: Bool) throws -> [Float] {
            let p = Parameter(Tensor(shape: [3], values: [1, 2, 3]))
            var opt = AdamW(parameters: [(name: "w", parameter: p)], learningRate: 0.01)
            for step in 0..<6 {
                if split && step == 3 {
                    let saved = opt.state()
                    let value = p.value.copy()
                    let fresh = Parameter(value)
                    opt = AdamW(parameters: [(name: "w", parameter: fresh)], learningRate: 0.01)
                    try opt.loadState(saved)
                    p.assign(fresh.value)
                    opt = AdamW(parameters: [(name: "w", parameter: p)], learningRate: 0.01)
                    try opt.loadState(saved)
                }
                p.grad = Tensor(shape: [3], values: [Float(step) - 1, 0.5, -2])
                opt.step()
            }
            return p.value.toArray()
        }
        #expect(try run(split: false) == run(split: true))
        let opt = AdamW(parameters: [(name: "w", parameter: Parameter(Tensor.zeros([2])))])
        #expect(throws: OptimizerStateError.self) {
            try opt.loadState(OptimizerState(tensors: ["w.exp_avg": Tensor.zeros([3])]))
        }
    }

    @Test func gradientClippingScalesToMaxNorm() {
        let a = Parameter(Tensor.zeros([2])), b = Parameter(Tensor.zeros([1]))
        a.grad = Tensor(shape: [2], values: [3, 0]); b.grad = Tensor(shape: [1], values: [4])
        let norm = clipGradientNorm([a, b], maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        #expect(abs(a.grad!.toArray()[0] - 0.6) < 1e-5 && abs(b.grad!.toArray()[0] - 0.8) < 1e-5)
        let unclipped = clipGradientNorm([a, b], maxNorm: 10)
        #expect(abs(unclipped - 1) < 1e-5 && abs(b.grad!.toArray()[0] - 0.8) < 1e-5)
    }

    @Test func schedulesMatchTransformers() {
        let linear = LearningRateSchedule(.linear, warmupSteps: 2, totalSteps: 10)
        #expect(linear.multiplier(step: 0) == 0)
        #expect(linear.multiplier(step: 1) == 0.5)
        #expect(linear.multiplier(step: 2) == 1)
        #expect(linear.multiplier(step: 6) == 0.5)
        #expect(linear.multiplier(step: 10) == 0)
        let cosine = LearningRateSchedule(.cosine, warmupSteps: 0, totalSteps: 4)
        #expect(abs(cosine.multiplier(step: 2) - 0.5) < 1e-6)
        #expect(LearningRateSchedule(.constant, totalSteps: 5).multiplier(step: 3) == 1)
    }

    @Test func moduleNamesFollowHuggingFace() {
        var g = RandomGenerator(seed: 1)
        let layer = DecoderLayer(hidden: 8, intermediate: 16, heads: 2, kvHeads: 1, eps: 1e-6, generator: &g)
        let names = layer.namedParameters().map(\.name)
        #expect(names.contains("self_attn.q_proj.weight"))
        #expect(names.contains("mlp.down_proj.weight"))
        #expect(names.contains("post_attention_layernorm.weight"))
        #expect(layer.parameterCount == 8 * 8 + 2 * 8 * 4 + 8 * 8 + 3 * 8 * 16 + 2 * 8)
        layer.freeze()
        #expect(layer.trainableParameters().isEmpty)
    }
}
import Foundation
