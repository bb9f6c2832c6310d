import AlignTraining
import ArgumentParser
import Foundation

/// Flags every training command shares, spelled as TRL spells them (kebab-case). Each is
/// optional: only flags given on the command line override the YAML config and the defaults.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Model to train: a Hugging Face folder or a .gguf file.")
    var model: String

    @Option(help: "Training data (JSON Lines or a JSON array).")
    var data: String

    @Option(help: "Output folder: metrics.jsonl, checkpoint-N/, the final model.")
    var output: String

    @Option(help: "Evaluation data, scored every --eval-steps and at the end.")
    var evalData: String?

    @Option(help: "YAML config with snake_case keys (TRL names); command-line flags override it.")
    var config: String?

    @Flag(help: "Continue from the newest checkpoint-N in --output.")
    var resume = false

    @Option(help: "Peak learning rate.") var learningRate: Float?
    @Option(help: "Examples per forward pass (TRL: per_device_train_batch_size).") var batchSize: Int?
    @Option(help: "Micro-batches per optimiser step.") var gradientAccumulationSteps: Int?
    @Option(help: "Passes over the data.") var numTrainEpochs: Double?
    @Option(help: "Optimiser steps (overrides epochs).") var maxSteps: Int?
    @Option(help: "constant, linear or cosine.") var lrScheduler: String?
    @Option(help: "Linear warm-up steps.") var warmupSteps: Int?
    @Option(help: "Warm-up as a fraction of all steps.") var warmupRatio: Double?
    @Option(help: "Decoupled (AdamW) or L2 (SGD, RMSprop) weight decay.") var weightDecay: Float?
    @Option(help: "adamw, sgd or rmsprop.") var optimizer: String?
    @Option(help: "Momentum for SGD.") var momentum: Float?
    @Option(help: "Global gradient-norm clip (0 disables).") var maxGradNorm: Float?
    @Option(help: "Seed of the data order.") var seed: UInt64?
    @Flag(help: "Keep the data file's order.") var noShuffle = false
    @Option(help: "Log every N steps.") var loggingSteps: Int?
    @Option(help: "Evaluate every N steps.") var evalSteps: Int?
    @Option(help: "Checkpoint every N steps (0: final model only).") var saveSteps: Int?
    @Option(help: "Threads for kernels and BLAS (default: all cores).") var threads: Int?

    /// The flags given, under their YAML keys.
    func overrides() -> [String: Any] {
        var o: [String: Any] = [:]
        func put(_ key: String, _ value: Any?) { if let value { o[key] = value } }
        put("learning_rate", learningRate.map { Double($0) })
        put("per_device_train_batch_size", batchSize)
        put("gradient_accumulation_steps", gradientAccumulationSteps)
        put("num_train_epochs", numTrainEpochs)
        put("max_steps", maxSteps)
        put("lr_scheduler_type", lrScheduler)
        put("warmup_steps", warmupSteps)
        put("warmup_ratio", warmupRatio)
        put("weight_decay", weightDecay.map { Double($0) })
        put("optim", optimizer)
        put("momentum", momentum.map { Double($0) })
        put("max_grad_norm", maxGradNorm.map { Double($0) })
        put("seed", seed.map { Int($0) })
        if noShuffle { o["shuffle"] = false }
        put("logging_steps", loggingSteps)
        put("eval_steps", evalSteps)
        put("save_steps", saveSteps)
        return o
    }

    /// Decodes a command's configuration: defaults, then the YAML file, then these flags (and the
    /// command's own `extra` flags).
    func configuration<T: Decodable>(_ type: T.Type, knownKeys: Set<String>, extra: [String: Any]) throws -> T {
        let flags = overrides().merging(extra) { $1 }
        if let config {
            return try ConfigFile(url: URL(fileURLWithPath: config), knownKeys: knownKeys).decode(type, overrides: flags)
        }
        return try ConfigFile.decode(type, from: flags, source: "command line")
    }

    var outputURL: URL { URL(fileURLWithPath: (output as NSString).expandingTildeInPath) }
    var dataURL: URL { URL(fileURLWithPath: (data as NSString).expandingTildeInPath) }
    var evalDataURL: URL? { evalData.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath) } }
}

/// Prints a line on standard error.
func note(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Runs a training command's body with the CLI's conventions for training errors: after Ctrl-C
/// (the trainer has saved a checkpoint) it says so and exits with 130, as a shell expects of an
/// interrupted program; any other training error becomes a one-line message.
func runTraining(_ body: () throws -> Void) throws {
    do { try body() } catch let error as TrainingError {
        if case .interrupted = error { note(error.description); throw ExitCode(130) }
        throw ValidationErrorMessage(error.description)
    }
}
