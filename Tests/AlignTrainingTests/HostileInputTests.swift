// Bad settings and bad data in training: every error names its source (YAML line, flag, data row),
// non-finite values name the real step and row, and damaged or half-written checkpoints are handled.
import AlignData
import AlignHub
import AlignJSON
import AlignModels
import AlignSettings
import AlignTensor
import AlignTraining
import Foundation
import Testing
import TestSupport

@Suite(.serialized) struct HostileInputTests {
    func temporaryDirectory() -> URL {
        testScratchDirectory.appendingPathComponent("align-hostile-\(UUID().uuidString)")
    }

    /// Decodes a DPO configuration from YAML text (and flags), returning the error message if any.
    func yamlError(_ yaml: String, flags: [String] = []) throws -> String? {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("dpo.yaml").path
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        do {
            var sources = SettingSources()
            try sources.add(file: SettingsFile(path: path), knownKeys: DPOConfiguration.knownKeys)
            for (key, flag, value) in try DPOConfiguration.parseFlags(flags) { sources.set(key, value, source: flag) }
            _ = try sources.decode(DPOConfiguration.self)
            return nil
        } catch {
            return "\(error)".replacingOccurrences(of: dir.path + "/", with: "")
        }
    }

    @Test("YAML type and range errors name the file, the line and the key")
    func yamlErrors() throws {
        #expect(try yamlError("beta: 0.1\nper_device_train_batch_size: 2.5\n") == "dpo.yaml:2: per_device_train_batch_size: expected an integer, found 2.5")
        #expect(try yamlError("seed: -1\n")?.hasPrefix("dpo.yaml:1: seed: expected a non-negative integer") == true)
        #expect(try yamlError("learning_rate: 1e300\n")?.hasPrefix("dpo.yaml:1: learning_rate: expected a number within the 32-bit float range") == true)
        #expect(try yamlError("beta: .nan\n") == "dpo.yaml:1: beta: expected a finite number, found NaN")
        #expect(try yamlError("learning_rate: .inf\n") == "dpo.yaml:1: learning_rate: expected a finite number, found Infinity")
        #expect(try yamlError("max_length: 8\n\nmax_prompt_length: 100\n") == "dpo.yaml:3: max_prompt_length (100) must be less than max_length (8)")
        #expect(try yamlError("lr_scheduler_type: cosinee\n") == #"dpo.yaml:1: lr_scheduler_type: expected one of constant, linear, cosine, found "cosinee""#)
        #expect(try yamlError("lr_schedulr_type: cosine\n") == #"dpo.yaml:1: unknown key "lr_schedulr_type" (did you mean lr_scheduler_type?)"#)
        #expect(try yamlError("beta: -1\n") == "dpo.yaml:1: beta must be positive, got -1.0")
        #expect(try yamlError("loss_type: [sigmoid, nope]\n")?.hasPrefix(#"dpo.yaml:1: unknown loss_type "nope""#) == true)
        let twice = try yamlError("beta: 0.1\nbeta: 0.2\n") ?? ""
        #expect(twice.hasPrefix("dpo.yaml: not valid YAML") && twice.contains("'beta'"), "\(twice)")
        #expect(try yamlError("- a\n- b\n") == "dpo.yaml:1: the config must be a mapping of keys to values")
        #expect(try yamlError("beta: 0.1\nloss_type: sigmoid\nlearning_rate: 1e-6\n") == nil)
    }

    @Test("nested YAML aliases are refused after a bounded number of values, not expanded")
    func billionLaughs() throws {
        var yaml = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        for (name, previous) in zip(["b", "c", "d", "e", "f", "g", "h", "i"], ["a", "b", "c", "d", "e", "f", "g", "h"]) {
            yaml += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]\n"
        }
        let message = try yamlError(yaml) ?? ""
        #expect(message.contains("expands to too many values"), "\(message)")
        var deep = "a: "
        for _ in 0..<100 { deep += "[" }
        for _ in 0..<100 { deep += "]" }
        #expect(try yamlError(deep + "\n")?.contains("nest deeper than 64 levels") == true)
    }

    @Test("flag errors name the flag; sizes that would only reserve memory are refused")
    func flagErrors() throws {
        #expect(try yamlError("beta: 0.1\n", flags: ["--batch-size", "99999999999"]) == "--batch-size: per_device_train_batch_size must be in 1...1048576, got 99999999999")
        #expect(try yamlError("beta: 0.1\n", flags: ["--learning-rate", "nan"])?.hasPrefix("--learning-rate: learning_rate: expected a finite number") == true)
        #expect(try yamlError("beta: 0.1\n", flags: ["--loss-weights", "1,abc", "--loss-type", "sigmoid,sft"]) == #"--loss-weights: loss_weights[1]: expected a number, found "abc""#)
        // Flags are read from the configuration's declaration: spelling, values and inversions.
        #expect(try yamlError("", flags: ["--bta", "0.1"]) == "--bta: unknown option (did you mean --beta?)")
        #expect(try yamlError("", flags: ["--max-steps", "2.5"]) == "--max-steps: max_steps: expected an integer, found 2.5")
        #expect(try yamlError("", flags: ["--truncation-mode", "keep_middle"]) == #"--truncation-mode: truncation_mode: expected one of keep_start, keep_end, found "keep_middle""#)
        #expect(try yamlError("", flags: ["--beta"]) == "--beta: needs a value (float)")
        #expect(try yamlError("", flags: ["--max-steps=-1", "--no-share-prompt", "--precompute-ref", "--max-length", "none"]) == nil)
        let parsed = try DPOConfiguration.parseFlags(["--beta=0.25", "--no-share-prompt", "--no-shuffle", "--loss-type", "sigmoid,sft", "--loss-weights", "1,0.5"])
        let config = try DPOConfiguration(values: parsed.map { ($0.key, $0.value) })
        #expect(config.loss.beta == 0.25 && !config.sharePrompt && !config.training.shuffle)
        #expect(config.loss.terms == [.init(.sigmoid, weight: 1), .init(.sft, weight: 0.5)])
    }

    /// The fixture's pairs, tokenised with the fixture tokenizer.
    func fixturePairs() throws -> (bundle: ModelBundle, pairs: [TokenizedPair]) {
        let bundle = try ModelBundle(path: fixturesDirectory.appendingPathComponent("models/llama").path)
        let encoder = try ExampleEncoder(tokenizer: bundle.tokenizer, chatTemplate: bundle.chatTemplate)
        let dataset = try PreferenceDataset(contentsOf: fixturesDirectory.appendingPathComponent("dpo/pairs.jsonl"))
        return (bundle, try dataset.tokenizedForDPO(encoder: encoder).pairs)
    }

    func dpoConfiguration(batchSize: Int) -> DPOConfiguration {
        var config = DPOConfiguration()
        config.training.batchSize = batchSize
        config.training.maxSteps = 2
        config.training.shuffle = false
        config.training.saveSteps = 1
        return config
    }

    @Test("a NaN produced by one row is reported at its step and its line, whatever the batch size")
    func nonFiniteNamesRowAndStep() throws {
        let (bundle, pairs) = try fixturePairs()
        // A token that only the fourth row (pairs.jsonl:4) uses: its embedding becomes NaN.
        func ids(_ p: TokenizedPair) -> Set<Int32> { Set(p.promptIDs + p.chosenIDs + p.rejectedIDs) }
        let others = pairs.enumerated().filter { $0.offset != 3 }.reduce(into: Set<Int32>()) { $0.formUnion(ids($1.element)) }
        let token = try #require(ids(pairs[3]).subtracting(others).first)
        let llama = try #require(bundle.model as? LlamaForCausalLM)
        let weight = llama.embedTokens.weight
        var values = weight.value.toArray()
        for i in 0..<llama.hiddenSize { values[Int(token) * llama.hiddenSize + i] = .nan }
        weight.assign(Tensor(shape: weight.shape, values: values))
        let reference = try LlamaForCausalLM(directory: fixturesDirectory.appendingPathComponent("models/llama"))
        for batchSize in [1, 4] {
            var config = dpoConfiguration(batchSize: batchSize)
            config.training.maxSteps = 8
            let trainer = try DPOObjective(policy: llama, reference: reference, configuration: config,
                                         trainPairs: pairs, padID: bundle.padID) { _ in }
            do {
                try trainer.train(outputDirectory: temporaryDirectory(), progress: { _ in })
                Issue.record("expected a non-finite error")
            } catch let error as TrainingError {
                let step = batchSize == 1 ? 4 : 1
                #expect(error.description == "step \(step): the policy log-prob is not finite (NaN or ±inf) on training example pairs.jsonl:4",
                        "batch \(batchSize): \(error)")
            }
        }
    }

    @Test("a pair longer than the model's position table is refused by its line")
    func positionTable() throws {
        let (bundle, pairs) = try fixturePairs()
        var c = LlamaConfiguration(vocabSize: bundle.model.vocabularySize, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1,
                                   numAttentionHeads: 2, maxPositionEmbeddings: 12)
        c.eosTokenId = nil
        let small = try LlamaForCausalLM(c, seed: 1)
        var config = dpoConfiguration(batchSize: 2)
        config.maxLength = nil
        #expect {
            _ = try DPOObjective(policy: small, reference: small, configuration: config, trainPairs: pairs, padID: 0) { _ in }
        } throws: { error in
            "\(error)".contains("pairs.jsonl:1: the pair is") && "\(error)".contains("at most 12 positions")
        }
    }

    @Test("a damaged checkpoint is refused by file on resume; half-written saves are cleaned up")
    func checkpointIntegrity() throws {
        let (bundle, pairs) = try fixturePairs()
        let output = temporaryDirectory()
        func trainer() throws -> DPOObjective {
            let policy = try LlamaForCausalLM(directory: fixturesDirectory.appendingPathComponent("models/llama"))
            return try DPOObjective(policy: policy, reference: bundle.model, configuration: dpoConfiguration(batchSize: 2),
                                  trainPairs: pairs, padID: bundle.padID) { dir in
                try ModuleWeights.save(policy, to: dir.appendingPathComponent("model.safetensors"))
            }
        }
        // Two steps, a checkpoint after the first.
        try trainer().train(outputDirectory: output, progress: { _ in })
        let checkpoint = output.appendingPathComponent("checkpoint-1")
        let manifest = try JSONReader.parse(Data(contentsOf: checkpoint.appendingPathComponent("checksums.json")))
        #expect(manifest["files"]?["optimizer.safetensors"] != nil && manifest["files"]?["model.safetensors"] != nil)

        // Leftovers of a killed save (a PID that is not running) are removed on the next start.
        let stale = output.appendingPathComponent(".checkpoint-7.partial-2147483646")
        try FileManager.default.createDirectory(at: stale, withIntermediateDirectories: true)
        // One flipped bit in the weights: resume refuses the checkpoint, naming the file.
        let weights = checkpoint.appendingPathComponent("model.safetensors")
        var bytes = [UInt8](try Data(contentsOf: weights))
        bytes[bytes.count - 3] ^= 0x04
        try Data(bytes).write(to: weights)
        var messages: [String] = []
        let resumed = Trainer(objective: try trainer(), configuration: dpoConfiguration(batchSize: 2).training, outputDirectory: output)
        resumed.progress = { messages.append($0) }
        #expect {
            try resumed.train(resume: true)
        } throws: { error in
            "\(error)".contains("checkpoint-1/model.safetensors: checksum mismatch")
        }
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        #expect(messages.contains { $0.contains("removed .checkpoint-7.partial-2147483646") })
    }

    @Test("a non-finite metric is written as null with its key listed, so every line is JSON")
    func nonFiniteMetricIsNull() throws {
        final class Objective: TrainingObjective {
            let p = Parameter(Tensor(shape: [1], values: [1]))
            var trainExampleCount: Int { 2 }
            var evalExampleCount: Int { 0 }
            var trainingConfiguration: TrainingConfiguration { TrainingConfiguration() }
            var trainableParameters: [(name: String, parameter: Parameter)] { [("w", p)] }
            func prepare(log: (String) -> Void) throws {}
            func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics) {
                var m = StepMetrics()
                m.add("logits/chosen", .infinity)
                return ((p.value * p.value).sum() * scale, m)
            }
            func evaluationMetrics(examples: [Int]) throws -> StepMetrics { StepMetrics() }
            func tokenCount(examples: [Int]) -> Int { 1 }
            func saveModel(to directory: URL) throws {}
            func loadModel(from directory: URL) throws {}
        }
        var config = TrainingConfiguration()
        // Step 2 is checkpointed unlogged, so its window (holding +inf) goes into trainer_state.json.
        config.maxSteps = 3; config.saveSteps = 2; config.loggingSteps = 10
        let output = temporaryDirectory()
        let trainer = Trainer(objective: Objective(), configuration: config, outputDirectory: output)
        trainer.progress = { _ in }
        try trainer.train()
        let resumed = Trainer(objective: Objective(), configuration: config, outputDirectory: output)
        resumed.progress = { _ in }
        try resumed.train(resume: true)
        let line = try String(contentsOf: output.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")[0]
        let row = try JSONReader.parse(Array(line.utf8))
        #expect(row["logits/chosen"] == .null)
        #expect(row["non_finite"] == .array([.string("logits/chosen")]))
        #expect(row["loss"] == nil || row["step"] == .integer(1))
    }

    /// A tokenizer that covers none of the text (the tiny GGUF fixture's vocabulary has no byte
    /// fallback) left sequences of no tokens, which crashed DPO's log-prob gather and divided by
    /// zero in the reward model; each preparation now refuses the row by its line.
    @Test("rows that encode to no tokens are refused by their line, for every objective's preparation")
    func rowsOfNoTokensAreRefused() throws {
        let bundle = try ModelBundle(path: fixturesDirectory.appendingPathComponent("gguf/tiny-llama.f32.gguf").path)
        let encoder = try ExampleEncoder(tokenizer: bundle.tokenizer, chatTemplate: bundle.chatTemplate)
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("pairs.jsonl")
        try #"{"prompt": "The film", "chosen": " was great.", "rejected": " was dull."}"#.write(to: file, atomically: true, encoding: .utf8)
        let pairs = try PreferenceDataset(contentsOf: file)
        #expect(bundle.tokenizer.encode("The film was great.").isEmpty, "the fixture's premise: its tokenizer covers none of this")
        for prepare in [{ _ = try pairs.tokenizedForDPO(encoder: encoder) },
                        { _ = try pairs.tokenizedForReward(encoder: encoder) }] {
            #expect { try prepare() } throws: { "\($0)".contains("pairs.jsonl:1: the prompt and a completion encode to no tokens") }
        }
    }
}
