import AlignKernels
import AlignTensor
import Foundation
import Testing
import TestSupport

/// Largest violation of |a − b| ≤ atol + rtol·|b| over two equally long arrays, with its index.
public func worstMismatch(_ a: [Float], _ b: [Float], atol: Float, rtol: Float) -> (index: Int, excess: Float)? {
    precondition(a.count == b.count, "comparing \(a.count) values with \(b.count)")
    var worst: (Int, Float)?
    for i in 0..<a.count {
        let allowed = atol + rtol * abs(b[i])
        let diff = abs(a[i] - b[i])
        if !(diff <= allowed) {   // also catches NaN
            let excess = diff.isNaN ? .infinity : diff - allowed
            if worst == nil || excess > worst!.1 { worst = (i, excess) }
        }
    }
    return worst
}

/// Expects `actual` ≈ `expected` elementwise within atol + rtol·|expected|, reporting the worst
/// element when not.
public func expectClose(_ actual: [Float], _ expected: [Float], atol: Float = 1e-5, rtol: Float = 1e-5,
                        _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    if let (i, _) = worstMismatch(actual, expected, atol: atol, rtol: rtol) {
        Issue.record("\(what): element \(i) is \(actual[i]), expected \(expected[i]) (atol \(atol), rtol \(rtol))",
                     sourceLocation: sourceLocation)
    }
}

/// Expects two tensors of equal shape and close values.
public func expectClose(_ actual: Tensor, _ expected: Tensor, atol: Float = 1e-5, rtol: Float = 1e-5,
                        _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape) vs \(expected.shape)", sourceLocation: sourceLocation)
    expectClose(actual.toArray(), expected.toArray(), atol: atol, rtol: rtol, what, sourceLocation: sourceLocation)
}

/// A reproducible random tensor for tests.
public func randomTensor(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
    var g = RandomGenerator(seed: seed)
    return Tensor.randomUniform(shape, low: low, high: high, generator: &g)
}

/// Finite-difference gradient check.
///
/// Builds the scalar L = Σ f(inputs) ⊙ R for a fixed random R, takes analytic gradients by
/// ``Tensor/backward(seed:)`` and compares them with central differences
/// (L(x + h) − L(x − h)) / 2h, with L accumulated in double precision.
///
/// Tolerances: kernels run in float32, so each evaluation of L carries a rounding error of about
/// 1e-7·Σ|terms|; dividing by 2h with h = 1e-3 turns that into ~1e-4 absolute noise, and the
/// truncation error h²·f‴/6 adds ~1e-6. The defaults atol 2e-3, rtol 1e-2 sit an order of
/// magnitude above that noise, while a wrong gradient rule (a missing factor, a wrong sign, a
/// dropped broadcast sum) misses by far more.
public func gradcheck(
    _ inputs: [Tensor], step h: Float = 1e-3, atol: Float = 2e-3, rtol: Float = 1e-2,
    checking which: Set<Int>? = nil, _ what: String = "",
    sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor
) {
    let parameters = inputs.map { Parameter($0.copy()) }
    let out = f(parameters.map(\.value))
    let weights = randomTensor(out.shape, seed: 99)
    let r = weights.toArray()
    out.backward(seed: weights)

    func loss() -> Double {
        withNoGrad {
            let y = f(parameters.map(\.value)).toArray()
            var s = 0.0
            for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
            return s
        }
    }
    for (index, p) in parameters.enumerated() where which?.contains(index) ?? true {
        let analytic = p.grad?.toArray() ?? [Float](repeating: 0, count: p.value.count)
        var numeric = [Float](repeating: 0, count: p.value.count)
        let x = p.value.pointer
        for i in 0..<p.value.count {
            let saved = x[i]
            x[i] = saved + h
            let up = loss()
            x[i] = saved - h
            let down = loss()
            x[i] = saved
            numeric[i] = Float((up - down) / (2 * Double(h)))
        }
        expectClose(analytic, numeric, atol: atol, rtol: rtol, "\(what) gradient of input \(index)",
                    sourceLocation: sourceLocation)
    }
}

/// The folder holding this package's committed test fixtures (`Tests/Fixtures`).
public let fixturesDirectory: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// One scratch folder per test process (`/tmp/align-tests-<pid>`), removed when the process exits:
/// tests make their temporary files under it, so a run leaves nothing behind in /tmp (a crashed
/// run leaves one folder, named by its process).
public let testScratchDirectory: URL = {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("align-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: FileManager.default.temporaryDirectory.appendingPathComponent("align-tests-\(getpid())").path) }
    return root
}()
