import AlignKernels
import Foundation
import Testing

/// Log-sum-exp over a vocabulary-sized row whose mass is one dominant logit plus a long tail of
/// terms each below half an fp32 ulp of 1. One fp32 accumulator per SIMD lane drops that tail
/// (the sum is then 7/8 of the tail short); the kernels must keep it.
@Suite struct SoftmaxAccuracyTests {
    /// (n) logits: 20 at index 5, the rest 3 + small deterministic jitter (e^−17 ≈ 4.1e-8 relative
    /// to the top), so the tail holds ~0.2 % of the mass; logits of order 20 as a real LM head gives.
    /// Plus the float64 log Σ exp and entropy.
    static func row(n: Int = 49_152) -> (logits: [Float], lse: Double, entropy: Double) {
        var x = [Float](repeating: 20, count: n)
        for i in 0..<n where i != 5 { x[i] = 3 + Float(i % 7) * 0.01 }
        let total = x.reduce(0.0) { $0 + exp(Double($1)) }
        let lse = log(total)
        let entropy = lse - x.reduce(0.0) { $0 + exp(Double($1)) * Double($1) } / total
        return (x, lse, entropy)
    }

    @Test func logSumExpKeepsTheTail() {
        let (x, lse, entropy) = Self.row()
        var out = [Float](repeating: 0, count: 1), ours = [Float](repeating: 0, count: 1)
        Kernels.logSumExpRows(x, rows: 1, n: x.count, &ours)
        #expect(abs(Double(ours[0]) - lse) < 2e-6, "log Σ exp \(ours[0]), float64 \(lse)")
        var lseOut = [Float](repeating: 0, count: 1)
        Kernels.logSoftmaxGather(x, targets: [5], rows: 1, n: x.count, ignoreIndex: -100, &out, &lseOut)
        #expect(abs(Double(out[0]) - (20 - lse)) < 2e-6, "log p(5) \(out[0]), float64 \(20 - lse)")
        var mean = [Float](repeating: 0, count: 1), h = [Float](repeating: 0, count: 1), top = [Float](repeating: 0, count: 1)
        Kernels.rowStatistics(x, targets: [5], rows: 1, n: x.count, meanLogit: &mean, entropy: &h, isTop1: &top)
        // The entropy subtracts E_p[x] (≈ 20 here) from log Σ exp, so an error in the sum is multiplied
        // by ~21. rowStatistics sums blocks of 32 terms in fp32 as rowSumExp does (one fp32 lane per
        // row was 5.5e-3 nats off on this row built to expose it; blocks of 128, 1.1e-5).
        #expect(abs(Double(h[0]) - entropy) < 3e-6, "entropy \(h[0]), float64 \(entropy)")
        #expect(top[0] == 1)
    }
}
