import AlignData
import AlignModels
import AlignTensor
import AlignTraining
import Foundation
import Testing
import TestSupport

/// Shared helpers for the SFT, reward and KTO tests.
enum Objectives {
    static func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: fixturesDirectory.appendingPathComponent(path))) as! [String: Any]
    }

    static func ints(_ value: Any?) -> [Int32] { (value as! [NSNumber]).map { Int32($0.intValue) } }

    static func temporaryDirectory() -> URL {
        testScratchDirectory.appendingPathComponent("align-objectives-\(UUID().uuidString)")
    }

    /// The TRL golden `value` against ours, within 1e-5 relative (and a small absolute floor for values near 0).
    static func expectMetric(_ ours: Double?, _ trl: Any?, _ what: String, rtol: Double = 1e-5, atol: Double = 1e-6) {
        guard let ours, let trl = (trl as? NSNumber)?.doubleValue else {
            Issue.record("\(what): missing (ours \(String(describing: ours)), TRL \(String(describing: trl)))")
            return
        }
        #expect(abs(ours - trl) <= atol + rtol * abs(trl), "\(what): ours \(ours), TRL \(trl)")
    }

    /// The global L2 norm of the gradients of `parameters`.
    static func gradientNorm(_ parameters: [(name: String, parameter: Parameter)]) -> Double {
        var seen = Set<ObjectIdentifier>()
        var total = 0.0
        for (_, p) in parameters where seen.insert(ObjectIdentifier(p)).inserted {
            guard let g = p.grad else { continue }
            for v in g.toArray() { total += Double(v) * Double(v) }
        }
        return total.squareRoot()
    }

    /// `loss` of every training row of `metrics.jsonl`, in order.
    static func losses(_ directory: URL) throws -> [Double] {
        try String(contentsOf: directory.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").compactMap {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["loss"] as? Double
        }
    }

    /// SGD with lr 0.01 and no clipping, one step, file order: the goldens' optimiser settings.
    static func goldenTraining(batchSize: Int) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.optimizer = .sgd; c.learningRate = 0.01; c.maxGradNorm = 0; c.maxSteps = 1
        c.shuffle = false; c.lrScheduler = .constant; c.batchSize = batchSize; c.loggingSteps = 1
        return c
    }
}
