// TRL's own YAML files (`trl dpo --config FILE`) read by Align: its settings decoded, the run keys
// (model, dataset, output) kept, the keys that mean nothing on the CPU path warned about once each.
import AlignJSON
import AlignSettings
import AlignTraining
import Foundation
import Testing
import TestSupport

@Suite struct TRLConfigTests {
    func sources<T: SettingsDeclaration>(_ file: String, _ type: T.Type) throws -> SettingSources {
        var sources = SettingSources()
        try sources.add(file: SettingsFile(path: fixturesDirectory.appendingPathComponent("trl_configs/\(file)").path), knownKeys: T.knownKeys)
        return sources
    }

    @Test("TRL's example config decodes for SFT with its run keys kept")
    func exampleConfig() throws {
        let s = try sources("example_config.yaml", SFTConfiguration.self)
        let config = try s.decode(SFTConfiguration.self)
        #expect(config.training.learningRate == 1e-4)
        #expect(config.training.lrScheduler == .cosine)
        #expect(try s.runString("model_name_or_path")?.value == "Qwen/Qwen2.5-0.5B")
        #expect(try s.runString("dataset_name")?.value == "stanfordnlp/imdb")
        #expect(try s.runString("report_to")?.value == "none")
        #expect(s.warnings.isEmpty)
    }

    @Test("a TRL DPO config: every setting Align has is applied, the others are warned about once each")
    func dpoConfig() throws {
        let s = try sources("dpo_config.yaml", DPOConfiguration.self)
        let config = try s.decode(DPOConfiguration.self)
        #expect(config.loss.beta == 0.1 && config.maxLength == 1024 && config.maxPromptLength == 512)
        #expect(config.training.learningRate == 5e-7 && config.training.batchSize == 2 && config.training.gradientAccumulationSteps == 8)
        #expect(config.training.optimizer == .adamw && config.training.warmupRatio == 0.1 && config.training.seed == 42)
        #expect(config.training.evalSteps == 50 && config.training.saveSteps == 100 && config.training.loggingSteps == 25)
        #expect(try s.runString("output_dir")?.value == "SmolLM2-135M-DPO")
        let warned = Set(s.warnings.map { String($0.split(separator: " ")[1]) })
        #expect(warned == ["torch_dtype", "attn_implementation", "bf16", "gradient_checkpointing", "gradient_checkpointing_kwargs",
                           "eval_strategy", "push_to_hub"], "\(s.warnings)")
        #expect(s.warnings.allSatisfy { $0.hasPrefix(fixturesDirectory.appendingPathComponent("trl_configs/dpo_config.yaml").path + ":") })
    }

    @Test("unknown keys are still errors")
    func refusals() throws {
        let dir = testScratchDirectory.appendingPathComponent("align-trl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func error(_ yaml: String) -> String? {
            let path = dir.appendingPathComponent("c.yaml").path
            FileManager.default.createFile(atPath: path, contents: Data(yaml.utf8))
            var sources = SettingSources()
            do { try sources.add(file: SettingsFile(path: path), knownKeys: DPOConfiguration.knownKeys) } catch { return "\(error)" }
            return nil
        }
        #expect(error("bettta: 0.1\n")?.contains(#"unknown key "bettta""#) == true)
        #expect(error("use_peft: true\nlora_r: 16\n") == nil)
    }

    @Test("TRL's PEFT keys and Align's flags reach every trainer's adapter settings from one declaration")
    func adapterSettings() throws {
        let dir = testScratchDirectory.appendingPathComponent("align-trl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("c.yaml").path
        FileManager.default.createFile(atPath: path, contents: Data("use_peft: true\nlora_alpha: 16\nlora_target_modules: all-linear\nuse_dora: true\n".utf8))
        var sources = SettingSources()
        try sources.add(file: SettingsFile(path: path), knownKeys: DPOConfiguration.knownKeys)
        let dpo = try sources.decode(DPOConfiguration.self).adapter
        #expect(dpo.enabled && dpo.lora.rank == 16 && dpo.lora.alpha == 16 && dpo.lora.useDoRA && dpo.lora.targetModules == ["all-linear"])
        #expect(!DPOConfiguration().adapter.enabled)
        for keys in [SFTConfiguration.knownKeys, KTOConfiguration.knownKeys, RewardConfiguration.knownKeys, PPOConfiguration.knownKeys,
                     GRPOConfiguration.knownKeys, RLOOConfiguration.knownKeys] {
            #expect(keys.isSuperset(of: ["use_peft", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "use_rslora", "use_dora"]))
        }
        let flags = try SFTConfiguration.parseFlags(["--lora-r", "8", "--lora-target-modules", "q_proj,v_proj", "--use-rslora"])
        var s2 = SettingSources()
        for (key, flag, value) in flags { s2.set(key, value, source: flag) }
        let sft = try s2.decode(SFTConfiguration.self).adapter
        #expect(sft.enabled && sft.lora.rank == 8 && sft.lora.targetModules == ["q_proj", "v_proj"] && sft.lora.useRSLoRA)
        #expect(sft.lora.scaling == 32 / Float(8).squareRoot())
    }
}
