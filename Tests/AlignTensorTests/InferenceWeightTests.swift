import AlignKernels
import AlignTensor
import Testing
import TestSupport

/// Narrow weight storage for inference (f16, bf16, Q8_0): conversions round as PyTorch and
/// llama.cpp do, products through the widening kernels equal fp32 products on the rounded weights,
/// and gradients still reach every input that needs one.
@Suite struct InferenceWeightTests {
    /// Values that exercise rounding, subnormals, overflow and the special cases.
    static let specials: [Float] = [0, -0.0, 1, -1, 0.1, 1 / 3, 65504, 65520, 70000, -70000, 1e-5, 6e-8, 3e-8, 1e-9,
                                    .infinity, -.infinity, 3.4e38, 1.17549435e-38, 2.5e-39, 1.0009765625, 1.00048828125]

    @Test(arguments: [ElementFormat.f16, .bf16])
    func conversionsRoundToNearestEven(_ format: ElementFormat) {
        var values = Self.specials
        var g = RandomGenerator(seed: 7)
        for _ in 0..<1005 { values.append(g.nextNormal() * 0.05) }   // 1026 values: a scalar tail too
        let half = Tensor(shape: [values.count], values: values).converted(to: format)
        #expect(half.format == format)
        let bits = Array(UnsafeBufferPointer(start: half.halfPointer, count: values.count))
        for (v, b) in zip(values, bits) {
            let want = format == .f16 ? Kernels.floatToHalfBits(v) : BF16Lanes.round1(v)
            #expect(b == want, "\(format) of \(v): \(b) vs \(want)")
        }
        let back = half.converted(to: .f32).toArray()
        for (b, w) in zip(back, bits) {
            let want = format == .f16 ? Kernels.halfBitsToFloat(w) : Float(bitPattern: UInt32(w) << 16)
            #expect(b == want || (b.isNaN && want.isNaN))
        }
        #expect(half.toArray() == back)
        // NaN stays NaN.
        #expect(Tensor(shape: [1], values: [.nan]).converted(to: format).toArray()[0].isNaN)
    }

    /// The fp32 decoding kernel (two weight rows by four x rows, with tails for odd features,
    /// fewer than four rows and k not a multiple of 8) equals the sgemm product, for every row
    /// count a decoding step can have, alone and as one of several weights sharing the input.
    @Test func decodingProductsEqualSgemm() {
        for (k, n) in [(3, 1), (17, 5), (64, 9), (40, 2)] {
            let w = randomTensor([n, k], seed: UInt64(k + n)), bias = randomTensor([n], seed: UInt64(k * n))
            for rows in 1...16 {
                let x = randomTensor([rows, k], seed: UInt64(rows))
                let want = x.linear(weight: w, bias: bias).toArray()
                let got = withNoGrad { x.decodingLinear(weight: w, bias: bias) }.toArray()
                let both = withNoGrad { x.decodingLinears([(w, bias), (w, nil)]) }
                for (i, (g, e)) in zip(got, want).enumerated() {
                    #expect(abs(g - e) <= 1e-5 * Swift.max(1, abs(e)), "k \(k) n \(n) rows \(rows) [\(i)]: \(g) vs \(e)")
                }
                #expect(both[0].toArray() == got)
                let noBias = x.linear(weight: w).toArray()
                #expect(zip(both[1].toArray(), noBias).allSatisfy { abs($0 - $1) <= 1e-5 * Swift.max(1, abs($1)) })
            }
        }
    }

    /// The narrow products behind LoRA's rank-r terms equal the plain sums: row counts that are
    /// not whole 6-row tiles, column tails below 8, and enough rows for the transposed product to
    /// split its rows over threads (partials added up).
    @Test func narrowProductsEqualTheirSums() {
        for (m, k, r, n) in [(7, 12, 8, 10), (130, 260, 16, 100), (70, 40, 16, 2050), (13, 5, 24, 3)] {
            let x = randomTensor([m, k], seed: UInt64(m)).toArray(), p = randomTensor([k, r], seed: UInt64(k)).toArray()
            let h = randomTensor([m, r], seed: UInt64(r)).toArray(), y = randomTensor([m, n], seed: UInt64(n)).toArray()
            var c = [Float](repeating: 0, count: m * r), ct = [Float](repeating: 0, count: r * n)
            Kernels.narrowProduct(m: m, k: k, r: r, alpha: 0.5, x: x, p: p, c: &c)
            Kernels.transposedNarrowProduct(m: m, r: r, n: n, alpha: 2, h: h, x: y, ldx: n, c: &ct)
            for i in 0..<m { for j in 0..<r {
                var want: Float = 0
                for d in 0..<k { want += x[i * k + d] * p[d * r + j] }
                want *= 0.5
                #expect(abs(c[i * r + j] - want) <= 1e-4 * Swift.max(1, abs(want)), "narrow \(m)×\(k)×\(r) [\(i), \(j)]")
            } }
            for i in 0..<r { for j in 0..<n {
                var want: Float = 0
                for q in 0..<m { want += h[q * r + i] * y[q * n + j] }
                want *= 2
                #expect(abs(ct[i * n + j] - want) <= 1e-4 * Swift.max(1, abs(want)), "transposed \(m)×\(r)×\(n) [\(i), \(j)]")
            } }
        }
    }

    /// Q8_0 as llama.cpp's quantize_row_q8_0_ref: d = max|x|/127 as f16, q = roundf(x / d); and
    /// quantising the widened values again gives the same bytes (a Q8_0 GGUF survives the round
    /// trip through fp32 exactly).
    @Test func q8QuantisesAsLlamaCpp() {
        var values = randomTensor([4, 64], seed: 11, low: -0.2, high: 0.2).toArray()
        for i in 64..<96 { values[i] = 0 }                       // an all-zero block: d 0, q 0
        values[100] = 3; values[130] = -1e-3
        let q = Tensor(shape: [4, 64], values: values).converted(to: .q8_0)
        #expect(q.format == .q8_0 && q.storage.format == .q8_0)
        let bytes = q.rawPointer
        for b in 0..<8 {
            let block = Array(values[(b * 32)..<(b * 32 + 32)])
            let amax = block.map(abs).max()!
            let d = amax / 127, inverse: Float = d != 0 ? 1 / d : 0
            #expect(bytes.load(fromByteOffset: b * 34, as: UInt16.self) == Kernels.floatToHalfBits(d), "block \(b) scale")
            for i in 0..<32 {
                let want = Int8((block[i] * inverse).rounded(.toNearestOrAwayFromZero))
                #expect(bytes.load(fromByteOffset: b * 34 + 2 + i, as: Int8.self) == want, "block \(b) quant \(i)")
            }
        }
        let widened = q.converted(to: .f32)
        let again = widened.converted(to: .q8_0)
        for i in 0..<(8 * 34) { #expect(again.rawPointer.load(fromByteOffset: i, as: UInt8.self) == bytes.load(fromByteOffset: i, as: UInt8.self)) }
        // Widened values are d·q, within half a quantisation step of the input.
        for (w, v) in zip(widened.toArray(), values) { #expect(abs(w - v) <= 3.0 / 127 / 2 * 1.01) }
    }

    @Test(arguments: [ElementFormat.f16, .bf16, .q8_0])
    func linearOnNarrowWeightsEqualsFloatProductOfRoundedWeights(_ format: ElementFormat) {
        // (n, k) = (70, 45): 32-wide, 8-wide and scalar tails (16-bit only: Q8_0 rows are whole
        // blocks, so it takes (70, 96)); rows 1...9 take the decoding kernel, 40 rows the tiled
        // sgemm; (300, 4096) makes the tiled path cut 3 tiles.
        for (n, k) in [(70, format == .q8_0 ? 96 : 45), (300, 4096)] {
            let w = randomTensor([n, k], seed: 4, low: -0.1, high: 0.1), bias = randomTensor([n], seed: 5)
            let half = w.converted(to: format)
            let rounded = half.converted(to: .f32)
            for rows in [1, 2, 3, 4, 5, 8, 9, 16, 17, 40] {
                let x = randomTensor([rows, k], seed: UInt64(10 + rows))
                let expected = x.linear(weight: rounded, bias: bias)
                expectClose(x.linear(weight: half, bias: bias), expected, atol: 1e-5, rtol: 1e-4, "\(format) \(n)×\(k), \(rows) rows")
                expectClose(x.linear(weight: half), x.linear(weight: rounded), atol: 1e-5, rtol: 1e-4, "no bias")
                expectClose(withNoGrad { x.decodingLinear(weight: half, bias: bias) }, expected, atol: 1e-5, rtol: 1e-4, "decoding")
            }
        }
    }

    @Test(arguments: [ElementFormat.f16, .bf16, .q8_0])
    func embeddingOfNarrowTableWidensRows(_ format: ElementFormat) {
        let table = randomTensor([50, 32], seed: 8)
        let half = table.converted(to: format)
        let ids: [Int32] = [3, 0, 49, 3]
        #expect(half.embedding(ids: ids, shape: [2, 2]).toArray() == half.converted(to: .f32).embedding(ids: ids, shape: [2, 2]).toArray())
    }

    /// A frozen 16-bit layer between trainable fp32 parts: the input's and the trainable weight's
    /// gradients equal those of the same network with the rounded weight in fp32, so holding a
    /// frozen part in 16 bits changes the trainable parts' gradients only through the rounding of
    /// the frozen weights' values.
    @Test func gradientsFlowThroughANarrowLayer() {
        let first = Parameter(randomTensor([24, 16], seed: 1, low: -0.3, high: 0.3))
        let frozen = randomTensor([10, 24], seed: 2, low: -0.3, high: 0.3)
        let x = Parameter(randomTensor([5, 16], seed: 3))
        func grads(_ w2: Tensor) -> ([Float], [Float]) {
            first.zeroGrad(); x.zeroGrad()
            x.value.linear(weight: first.value).tanh().linear(weight: w2).square().sum().backward()
            return (first.grad!.toArray(), x.grad!.toArray())
        }
        let half = frozen.converted(to: .f16)
        let (gw, gx) = grads(half)
        let (ww, wx) = grads(half.converted(to: .f32))
        expectClose(gw, ww, atol: 1e-6, rtol: 1e-5, "trainable weight's gradient")
        expectClose(gx, wx, atol: 1e-6, rtol: 1e-5, "input's gradient")
        // And close to the all-fp32 network (the rounding of the frozen weight only).
        let (fw, _) = grads(frozen)
        expectClose(gw, fw, atol: 2e-3, rtol: 2e-3, "against fp32 frozen weights")
    }

    @Test func parameterHeldInHalfReleasesFloatStorage() {
        let p = Parameter(randomTensor([64, 32], seed: 9), requiresGrad: false)
        let before = p.value.toArray()
        p.store(in: .bf16)
        #expect(p.value.format == .bf16 && p.value.storage.format == .bf16 && p.shape == [64, 32])
        p.store(in: .f32)
        #expect(p.value.format == .f32)
        expectClose(p.value.toArray(), before, atol: 0, rtol: 1.0 / 128, "bf16 round trip")
    }
}
