import AlignTensor
import AlignTraining
import Foundation
import Testing
import TestSupport

/// Every TRL 1.16 loss type against the first-step metrics TRL logged on the same per-example
/// log-probs (Tests/Fixtures/dpo, `distinct_ref` group: a reference that differs from the policy,
/// so every log-ratio is non-zero).
@Suite struct PreferenceLossTests {
    struct Fixture {
        let logps: PreferenceLogProbs
        let metrics: [String: [String: Double]]
        let configs: [String: [String: Any]]
    }

    static func fixture() throws -> Fixture {
        let file = try GoldenFile("dpo/logps.safetensors")
        let completion = try file.tensor("completion_mask").toArray()
        let lengths = (0..<16).map { r in completion[(r * 64)..<((r + 1) * 64)].reduce(0, +) }
        let group = "distinct_ref."
        let lp = PreferenceLogProbs(
            policyChosen: try file.tensor(group + "policy_chosen_logps"),
            policyRejected: try file.tensor(group + "policy_rejected_logps"),
            referenceChosen: try file.tensor(group + "ref_chosen_logps").toArray(),
            referenceRejected: try file.tensor(group + "ref_rejected_logps").toArray(),
            chosenLengths: Array(lengths[0..<8]), rejectedLengths: Array(lengths[8..<16]))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: fixturesDirectory.appendingPathComponent("dpo/metrics.json"))) as! [String: Any]
        let metrics = (json["first_step_metrics"] as! [String: Any])["distinct_ref"] as! [String: [String: Double]]
        return Fixture(logps: lp, metrics: metrics, configs: json["configs"] as! [String: [String: Any]])
    }

    /// Runs named TRL configurations whose settings Align shares.
    static let comparable = ["sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
                             "aot_ls0.1", "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm",
                             "sigmoid_beta0.5", "sigmoid+sft(1,0.5)", "sigmoid_forward_kl", "sigmoid_js_divergence",
                             "sigmoid_alpha_divergence0.5"]

    @Test(arguments: comparable)
    func firstStepMetricsMatchTRL(_ name: String) throws {
        let f = try Self.fixture()
        let c = f.configs[name]!
        let types = (c["loss_type"] as! [String]).map { PreferenceLossType(trlName: $0)! }
        let weights = (c["loss_weights"] as? [Double])?.map(Float.init) ?? types.map { _ in 1 }
        var config = PreferenceLossConfiguration(terms: zip(types, weights).map { .init($0, weight: $1) },
                                                 beta: Float(c["beta"] as? Double ?? 0.1),
                                                 labelSmoothing: Float(c["label_smoothing"] as? Double ?? 0))
        if let f = c["f_divergence_type"] as? String { config.fDivergence = FDivergence(trlName: f, alpha: 0.5)! }
        let result = try config.loss(f.logps)
        let trl = f.metrics[name]!
        expectClose([result.loss.item()], [Float(trl["loss"]!)], atol: 1e-6, rtol: 1e-5, "\(name) loss")
        let cr = result.chosenRewards, rr = result.rejectedRewards
        let mean = { (x: [Float]) in x.reduce(0, +) / Float(x.count) }
        expectClose([mean(cr)], [Float(trl["rewards/chosen"]!)], atol: 1e-6, rtol: 1e-5, "\(name) rewards/chosen")
        expectClose([mean(rr)], [Float(trl["rewards/rejected"]!)], atol: 1e-6, rtol: 1e-5, "\(name) rewards/rejected")
        expectClose([mean(zip(cr, rr).map { $0 - $1 })], [Float(trl["rewards/margins"]!)], atol: 1e-6, rtol: 1e-5, "\(name) margins")
        let accuracy = Float(zip(cr, rr).filter { $0 > $1 }.count) / Float(cr.count)
        #expect(accuracy == Float(trl["rewards/accuracies"]!))
    }

    @Test func labelSmoothingOnSigmoidIsConservativeDPO() throws {
        let f = try Self.fixture()
        let plain = try PreferenceLossConfiguration(terms: [.init(.sigmoid)]).loss(f.logps).loss.item()
        let smoothed = try PreferenceLossConfiguration(terms: [.init(.sigmoid)], labelSmoothing: 0.1).loss(f.logps).loss.item()
        // By hand: mean of −0.9 log σ(βΔ) − 0.1 log σ(−βΔ).
        let pc = f.logps.policyChosen.toArray(), pr = f.logps.policyRejected.toArray()
        let expected = (0..<8).map { i -> Double in
            let d = 0.1 * Double((pc[i] - f.logps.referenceChosen![i]) - (pr[i] - f.logps.referenceRejected![i]))
            let ls = { (z: Double) in -log1p(exp(-z)) }
            return -0.9 * ls(d) - 0.1 * ls(-d)
        }.reduce(0, +) / 8
        #expect(abs(Double(smoothed) - expected) < 1e-6)
        #expect(smoothed != plain)
    }

    @Test func lossGradientsMatchFiniteDifferences() throws {
        let f = try Self.fixture()
        for type in PreferenceLossType.allCases {
            var config = PreferenceLossConfiguration(terms: [.init(type)], beta: 0.1, labelSmoothing: type == .exoPair || type == .robust ? 0.1 : 0)
            config.simpoGamma = 0.3
            // Mean token log-probs must be negative for ORPO's log(1 − p): scale the sums down.
            let scale: Float = type == .orpo ? 0.01 : 1
            gradcheck([f.logps.policyChosen * scale, f.logps.policyRejected * scale], step: 1e-2, atol: 2e-4, rtol: 2e-2, "\(type)") { x in
                var lp = f.logps
                lp.policyChosen = x[0]; lp.policyRejected = x[1]
                return try! config.loss(lp).loss
            }
        }
    }

    @Test func invalidSettingsAreRefused() {
        #expect(throws: PreferenceLossError.self) { try PreferenceLossConfiguration(terms: [.init(.robust)], labelSmoothing: 0.6).validate() }
        #expect(throws: PreferenceLossError.self) { try PreferenceLossConfiguration(terms: [.init(.exoPair)], labelSmoothing: 0).validate() }
        #expect(throws: PreferenceLossError.self) { try PreferenceLossConfiguration(terms: [.init(.sigmoid)], beta: 0).validate() }
    }
}
