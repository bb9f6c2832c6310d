// GPT-2's weight mapping: how `GPT2LMHeadModel`'s parameters are found in a Hugging Face folder and
// written back to one. Checkpoints store the attention and MLP projections as `Conv1D` weights laid
// out (in, out), which the model keeps as `Linear` (out, in); the original `gpt2` upload names its
// tensors without the `transformer.` prefix. GPT-2 has no GGUF mapping here: `.gguf` files load as
// the Llama family only (see LlamaWeightMapping.swift).
import AlignKernels
import AlignModelIO
import AlignNN
import AlignTensor
import Foundation

/// Where GPT-2's tensors live in a Hugging Face checkpoint.
public enum GPT2WeightMapping {
    /// Hugging Face names of the Conv1D weights of block `layer`, stored (in, out) on disk.
    public static func conv1DWeightNames(layer: Int) -> [String] {
        let p = "transformer.h.\(layer)."
        return [p + "attn.c_attn.weight", p + "attn.c_proj.weight", p + "mlp.c_fc.weight", p + "mlp.c_proj.weight"]
    }

    /// Other names a tensor may be stored under: the original `gpt2` upload drops `transformer.`.
    public static func aliases(_ name: String) -> [String] {
        name.hasPrefix("transformer.") ? [String(name.dropFirst("transformer.".count))] : []
    }

    /// Opens a folder's checkpoint (headers only) with GPT-2's aliases.
    static func openCheckpoint(_ directory: URL) throws -> CheckpointWeights {
        var weights = try CheckpointWeights(directory: directory)
        weights.aliases = aliases
        return weights
    }
}

extension GPT2LMHeadModel {
    /// Loads a Hugging Face GPT-2 folder (`config.json` + `model.safetensors` or shards).
    /// Every tensor is checked for presence, dtype and shape. Checkpoints written by older
    /// transformers may also hold the `attn.bias` / `attn.masked_bias` causal-mask buffers; they
    /// are ignored.
    public convenience init(directory: URL) throws {
        let configuration = try GPT2Configuration(contentsOf: directory.appendingPathComponent("config.json"))
        try self.init(configuration, checkpoint: try GPT2WeightMapping.openCheckpoint(directory), languageModelHead: true)
    }

    /// Builds the model from an opened checkpoint after checking that it holds exactly the
    /// configured blocks. With `languageModelHead` false only the transformer is built (the body of
    /// a sequence-classification model): the configuration is tied, so no LM head is read.
    convenience init(_ configuration: GPT2Configuration, checkpoint weights: CheckpointWeights, languageModelHead: Bool) throws {
        var configuration = configuration
        try weights.checkLayerCount(prefix: "transformer.h.", key: "n_layer", layers: configuration.nLayer)
        if languageModelHead {
            try weights.checkTiedHead(tied: configuration.tieWordEmbeddings, headName: "lm_head.weight")
        } else {
            configuration.tieWordEmbeddings = true
        }
        try self.init(configuration, weights: weights.load)
    }

    /// Loads a folder whose `config.json` names a GPT-2 model, returning the opened checkpoint too.
    static func load(folder: URL, languageModelHead: Bool) throws -> (model: GPT2LMHeadModel, checkpoint: CheckpointWeights) {
        let configuration = try GPT2Configuration(contentsOf: folder.appendingPathComponent("config.json"))
        let checkpoint = try GPT2WeightMapping.openCheckpoint(folder)
        return (try GPT2LMHeadModel(configuration, checkpoint: checkpoint, languageModelHead: languageModelHead), checkpoint)
    }
}

extension GPT2LMHeadModel: HuggingFaceCausalLanguageModel {
    /// `config.json` for this model, with `dtype` float32.
    public func huggingFaceConfiguration() throws -> JSONDocument {
        var document = try JSONDocument(encoding: configuration)
        document.set("dtype", string: "float32")
        return document
    }

    /// Every parameter under its Hugging Face name with the Conv1D weights transposed back to
    /// their (in, out) layout; the tied LM head is not written (transformers keeps `wte`).
    public func huggingFaceTensors() -> [SafetensorsWriter.Tensor] {
        let conv1D = transposedParameterNames
        return namedParameters().map { name, parameter in
            guard conv1D.contains(name) else { return writerTensor(name, parameter.value) }
            let stored = withNoGrad { parameter.value.transposed() }
            return SafetensorsWriter.Tensor(name: name, shape: stored.shape, storage: stored.storage)
        }
    }

    /// The configuration's `bos_token_id`, `eos_token_id` and `pad_token_id`.
    public var generationTokenIDs: (bos: Int?, eos: LlamaConfiguration.TokenIDs?, pad: Int?) {
        (configuration.bosTokenId, configuration.eosTokenId, configuration.padTokenId)
    }

    /// `GPT2ForSequenceClassification`.
    public var sequenceClassificationClassName: String { "GPT2ForSequenceClassification" }

    /// The folder's checkpoint (with GPT-2's aliases), checked to hold this model's blocks and no
    /// LM head that the configuration ties away.
    public func checkpointWeights(in directory: URL) throws -> CheckpointWeights {
        let weights = try GPT2WeightMapping.openCheckpoint(directory)
        try weights.checkLayerCount(prefix: "transformer.h.", key: "n_layer", layers: configuration.nLayer)
        try weights.checkTiedHead(tied: configuration.tieWordEmbeddings, headName: "lm_head.weight")
        return weights
    }

    /// The Conv1D weights of every block.
    public var transposedParameterNames: Set<String> {
        Set((0..<configuration.nLayer).flatMap { GPT2WeightMapping.conv1DWeightNames(layer: $0) })
    }
}
