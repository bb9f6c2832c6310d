import AlignData
import AlignHub
import AlignModels
import AlignTensor
@testable import AlignTraining
import Foundation
import Testing
import TestSupport

/// The real SmolLM2-135M-Instruct GGUF (fetched by scripts/fetch-assets.sh; never committed).
private let smolLM2GGUF: URL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["ALIGN_CACHE"]
    ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/align").path)
    .appendingPathComponent("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
private let hasSmolLM2 = FileManager.default.fileExists(atPath: smolLM2GGUF.path)

/// `align dpo`'s first step on a real checkpoint and real text against TRL 1.16
/// (Tests/Fixtures/dpo_smollm2, written by scripts/fixtures/make_dpo_smollm2_goldens.py).
///
/// - Policy: the GGUF as loaded (Q4_1 dequantised to fp32, as transformers does).
/// - Reference: the same weights with the final RMSNorm gain halved, i.e. the same network at
///   softmax temperature 2, so that every log-ratio is non-zero at step 1 (a frozen copy would
///   make them all 0 and most losses uninformative).
/// - Data: 4 standard and 2 conversational pairs of Rotten Tomatoes snippets (a positive and a
///   negative review with the same opening).
///
/// The path is the CLI's: ``ModelBundle`` → ``ExampleEncoder`` → ``PreferenceDataset`` →
/// `tokenizedForDPO` → ``DPOObjective`` on the shared ``Trainer`` loop. Tolerances are the issue's:
/// every logged metric within 1e-4 relative (``expectMetric(_:_:_:)``), the SGD step within 1e-3
/// of its own scale (``expectStep(_:_:_:_:_:)``).
@Suite("DPO first step on SmolLM2 against TRL", .serialized,
       .enabled(if: hasSmolLM2, "SmolLM2 GGUF absent: run scripts/fetch-assets.sh"))
struct DPOSmolLM2ParityTests {
    static let goldens: [String: Any] = {
        let url = fixturesDirectory.appendingPathComponent("dpo_smollm2/goldens.json")
        return (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: Any] ?? [:]
    }()

    static func golden(_ dataset: String) -> [String: Any] {
        (goldens["datasets"] as! [String: Any])[dataset] as! [String: Any]
    }

    /// The metrics TRL logged that do not depend on the optimiser.
    static let forwardKeys = ["loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
                              "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected", "entropy",
                              "mean_token_accuracy"]

    /// The goldens' settings as a ``DPOConfiguration``: one SGD step over all rows (lr 1e-2, constant,
    /// no clipping, file order), max_length 64, β 0.1, and TRL's loss_type / label_smoothing for `loss`.
    static func configuration(batchSize: Int, loss: String) throws -> DPOConfiguration {
        var c = DPOConfiguration()
        c.training = Objectives.goldenTraining(batchSize: batchSize)
        c.maxLength = 64
        let trl = (goldens["configs"] as! [String: [String: Any]])[loss]!
        try c.setLoss(types: trl["loss_type"] as! [String], weights: nil)
        c.loss.beta = 0.1
        c.loss.labelSmoothing = Float(trl["label_smoothing"] as? Double ?? 0)
        return c
    }

    /// The reference: the policy's weights, copied, with `model.norm.weight` replaced by the gain TRL
    /// used (stored in the golden, and checked to be exactly the policy's × 0.5), frozen.
    static func reference(of policy: LlamaForCausalLM) throws -> LlamaForCausalLM {
        let gain = try GoldenFile("dpo_smollm2/goldens.safetensors").tensor("ref_norm_weight")
        let parameters = Dictionary(policy.namedParameters().map { ($0.name, $0.parameter.value) }, uniquingKeysWith: { a, _ in a })
        let original = try #require(parameters["model.norm.weight"]).toArray()
        #expect(zip(original, gain.toArray()).allSatisfy { $0 * 0.5 == $1 }, "ref_norm_weight is the GGUF's gain × 0.5")
        let model = try LlamaForCausalLM(policy.configuration) { name, _ in
            name == "model.norm.weight" ? gain : parameters[name]!.copy()
        }
        model.freeze()
        return model
    }

    /// A logged metric: |ours − TRL| ≤ 1e-4·|TRL| (+1e-7, so that exact zeros compare).
    static func expectMetric(_ ours: Double?, _ trl: Double?, _ what: String) {
        guard let ours, let trl else {
            Issue.record("\(what): missing (ours \(String(describing: ours)), TRL \(String(describing: trl)))")
            return
        }
        #expect(abs(ours - trl) <= 1e-4 * abs(trl) + 1e-7, "\(what): ours \(ours), TRL \(trl)")
    }

    /// Prepares `dataset` as `align dpo` does and checks every id against TRL's; returns the trainer
    /// (one optimiser step over all rows, `sigmoid`) and its collated batch.
    static func prepare(_ dataset: String, policy: ModelBundle, reference: LlamaForCausalLM) throws -> (DPOObjective, TokenRows) {
        let golden = golden(dataset)
        let file = fixturesDirectory.appendingPathComponent("dpo_smollm2/" + (dataset == "standard" ? "pairs.jsonl" : "conversational.jsonl"))
        let data = try PreferenceDataset(contentsOf: file)
        #expect(data.isConversational == (dataset == "conversational"))
        let config = try configuration(batchSize: golden["batch_size"] as! Int, loss: "sigmoid")
        let encoder = try ExampleEncoder(tokenizer: policy.tokenizer, chatTemplate: policy.chatTemplate)
        let (pairs, summary) = try data.tokenizedForDPO(encoder: encoder, options: PreparationOptions(maxLength: config.maxLength))
        #expect(summary.keptExamples == data.examples.count && summary.boundaryMismatches == 0)
        // TRL's prepared ids per row: EOS text appended (standard) or the chat template's end of turn
        // (conversational), prompt / completion split by the common-prefix rule; before truncation.
        let trlRows = golden["tokenized"] as! [[String: Any]]
        #expect(pairs.count == trlRows.count)
        for (i, (pair, trl)) in zip(pairs, trlRows).enumerated() {
            #expect(pair.promptIDs == Objectives.ints(trl["prompt_input_ids"]), "\(dataset) row \(i) prompt ids")
            #expect(pair.chosenIDs == Objectives.ints(trl["chosen_input_ids"]), "\(dataset) row \(i) chosen ids")
            #expect(pair.rejectedIDs == Objectives.ints(trl["rejected_input_ids"]), "\(dataset) row \(i) rejected ids")
        }
        let trainer = try DPOObjective(policy: policy.model, reference: reference, configuration: config, trainPairs: pairs,
                                     padID: policy.padID, saveModel: { _ in })
        // The batch TRL fed its models, (2B, L): [chosen; rejected] rows, right-padded, cut at 64
        // (conversational row 1's rejected sequence is longer and loses its end).
        let rows = trainer.rows(trainer.collator.collate(pairs))
        let batch = golden["batch"] as! [String: Any]
        let flat = { (key: String) in (batch[key] as! [[NSNumber]]).flatMap { $0.map(\.floatValue) } }
        let trlIDs = flat("input_ids"), trlMask = flat("attention_mask")
        #expect(rows.rows == (batch["input_ids"] as! [[NSNumber]]).count && rows.ids.count == trlIDs.count, "\(dataset) batch shape")
        #expect(rows.attentionMask == trlMask, "\(dataset) attention mask")
        #expect(rows.completionMask == flat("completion_mask"), "\(dataset) completion mask")
        // Ids agree wherever the mask is 1; padding ids are never read.
        #expect(zip(zip(rows.ids, trlIDs), trlMask).allSatisfy { $1 == 0 || Float($0.0) == $0.1 }, "\(dataset) input ids")
        return (trainer, rows)
    }

    /// For each dataset: the ids, then the first-step metrics of every TRL 1.16 loss type from one
    /// forward pass of the policy and one of the reference (scored by
    /// ``DPOLoss/evaluate(policyLogps:statistics:batch:reference:sftTokenCount:scale:)``, the
    /// code ``DPOObjective`` runs after its forward pass). For the standard pairs, then one `sigmoid`
    /// step through ``DPOObjective`` and ``Trainer``: the logged row including `grad_norm` and
    /// `num_tokens`, and the update of the recorded tensors. (TRL's `grad_norm` of the other loss
    /// types is in the golden but not compared: each would need its own backward pass through the
    /// 135M-parameter model; they differ from `sigmoid`'s only through ∂loss/∂log-prob, which
    /// PreferenceLossTests checks against finite differences.)
    @Test(arguments: ["standard", "conversational"])
    func firstStepMatchesTRL(_ dataset: String) throws {
        let policy = try ModelBundle(path: smolLM2GGUF.path)
        let llama = try #require(policy.model as? LlamaForCausalLM)
        let reference = try Self.reference(of: llama)
        let (trainer, rows) = try Self.prepare(dataset, policy: policy, reference: reference)
        let golden = Self.golden(dataset)

        // The trainer's forward passes: with each pair's shared prompt computed once (the default).
        let share = trainer.objective.sharePrompt
        let (logps, stats) = withNoGrad {
            SequenceLogProbs.compute(model: llama, rows: rows, statistics: true, sharingPairPrefixes: share)
        }
        let ref = DPOLoss.referenceLogProbs(model: reference, batch: rows, sharePrompt: share)
        // Per-row summed log-probs, against TRL's fp32 values and a float64 recomputation.
        let batch = golden["batch"] as! [String: Any]
        let values = { (key: String) in (batch[key] as! [NSNumber]).map(\.doubleValue) }
        let ours = logps.toArray().map(Double.init), oursRef = (ref.chosen + ref.rejected).map(Double.init)
        for (what, a, key) in [("policy", ours, "policy_logps"), ("policy", ours, "policy_logps_f64"),
                               ("reference", oursRef, "ref_logps"), ("reference", oursRef, "ref_logps_f64")] {
            for (i, (x, y)) in zip(a, values(key)).enumerated() { Self.expectMetric(x, y, "\(dataset) \(what) row \(i) vs \(key)") }
        }
        let trlMetrics = golden["first_step_metrics"] as! [String: [String: Double]]
        for name in (Self.goldens["configs"] as! [String: Any]).keys.sorted() {
            let config = try Self.configuration(batchSize: rows.rows / 2, loss: name)
            let (_, metrics, _) = try DPOLoss(loss: config.loss, sharePrompt: share)
                .evaluate(policyLogps: logps, statistics: stats, batch: rows, reference: ref)
            for key in Self.forwardKeys {
                Self.expectMetric(metrics.averages[key], trlMetrics[name]![key], "\(dataset) \(name) \(key)")
            }
        }
        guard let manifest = golden["update"] as? [[String: Any]] else { return }

        // One optimiser step, exactly as `align dpo` runs it.
        let parameters = Dictionary(llama.namedParameters().map { ($0.name, $0.parameter) }, uniquingKeysWith: { a, _ in a })
        func slice(_ tensor: Tensor?, _ entry: [String: Any]) throws -> [Float] {
            let t = try #require(tensor)
            let range = entry["rows"] as! [Int], width = t.count / t.shape[0]
            return Array(t.toArray()[(range[0] * width)..<(range[1] * width)])
        }
        let before = try manifest.map { try slice(parameters[$0["parameter"] as! String]?.value, $0) }
        let directory = Objectives.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var logged: [String: Double] = [:]
        try trainer.train(outputDirectory: directory, progress: { _ in }, onLog: { logged = $0 })
        for key in Self.forwardKeys + ["grad_norm", "num_tokens", "learning_rate", "epoch", "step"] {
            Self.expectMetric(logged[key], trlMetrics["sigmoid"]![key], "\(dataset) trainer step \(key)")
        }
        // TRL's grad_norm carries the rounding of torch's fp32 norm reduction (5e-5 relative here);
        // the float64 norm of TRL's own gradients is the sharper target, and ours sums in float64.
        let f64Norm = try #require(golden["grad_norm_f64"] as? Double)
        #expect(abs(logged["grad_norm"]! - f64Norm) <= 1e-5 * f64Norm, "grad_norm \(logged["grad_norm"]!), float64 norm of TRL's gradients \(f64Norm)")
        let file = try GoldenFile("dpo_smollm2/goldens.safetensors")
        for (entry, w0) in zip(manifest, before) {
            let p = try #require(parameters[entry["parameter"] as! String])
            Self.expectStep(before: w0, after: try slice(p.value, entry), gradient: try slice(p.grad, entry),
                            trl: (update: try file.tensor(entry["update"] as! String).toArray(),
                                  gradient: try file.tensor(entry["grad"] as! String).toArray()),
                            entry["update"] as! String)
        }
    }

    /// One SGD step on one recorded tensor (slice), w1 = fl(w0 − lr·g), compared in two ways, both
    /// relative to the largest entry so that entries that barely move are not judged on noise:
    /// - the gradient the step used: max |g_ours − g_TRL| ≤ 1e-3 · max |g_TRL|;
    /// - the weights after − before: |Δ_ours − Δ_TRL| ≤ 1e-3 · max |Δ_TRL| + ulp(w0) elementwise.
    ///   The ulp term is the fp32 rounding of w1 (half an ulp on each side), which neither side
    ///   controls: for most matrices lr·g is ~1e-5 against weights ~0.1, so that rounding alone is
    ///   up to ~1e-3 of the update.
    static func expectStep(before w0: [Float], after w1: [Float], gradient g: [Float],
                           trl: (update: [Float], gradient: [Float]), _ what: String) {
        guard w0.count == trl.update.count, g.count == trl.gradient.count else {
            Issue.record("\(what): \(w0.count) values, TRL \(trl.update.count)")
            return
        }
        let gScale = trl.gradient.map { abs(Double($0)) }.max() ?? 0
        let gWorst = zip(g, trl.gradient).map { abs(Double($0) - Double($1)) }.max() ?? 0
        #expect(gScale > 0 && gWorst <= 1e-3 * gScale, "\(what): gradient max |ours − TRL| \(gWorst), max |TRL| \(gScale)")
        let dScale = trl.update.map { abs(Double($0)) }.max() ?? 0
        var worst = 0.0
        for i in w0.indices {
            let ours = Double(w1[i]) - Double(w0[i])   // exact in Double
            worst = max(worst, abs(ours - Double(trl.update[i])) - Double(w0[i].ulp))
        }
        #expect(dScale > 0 && worst <= 1e-3 * dScale, "\(what): max |Δ ours − Δ TRL| − ulp(w0) = \(worst), max |Δ TRL| \(dScale)")
    }
}
