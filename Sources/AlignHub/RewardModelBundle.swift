import AlignModelIO
import AlignModels
import AlignTensor
import AlignTemplates
import AlignTokenizers
import Foundation

/// A reward model with its tokenizer and chat template, loaded as ``ModelBundle`` loads a causal
/// LM: from a Hugging Face folder (a sequence-classification checkpoint, or a causal LM whose LM
/// head gives way to a fresh score head) or from a `.gguf` file (a causal LM's decoder, fresh
/// head), opened once for weights and tokenizer.
public struct RewardModelBundle {
    /// The reward model. Its pad id is the tokenizer's pad token, else its EOS token, else the
    /// model configuration's (see ``AlignModels/RewardModel/init(directory:padTokenID:seed:)``).
    public let model: RewardModel
    /// The folder or `.gguf` file it was loaded from.
    public let source: URL
    let text: BundleText

    /// The tokenizer.
    public var tokenizer: Tokenizer { text.tokenizer }
    /// The chat template, when the tokenizer files (or the GGUF metadata) carry one.
    public var chatTemplate: ChatTemplate? { text.chatTemplate }
    /// Whether `source` is a GGUF file (otherwise a Hugging Face folder).
    public var isGGUF: Bool { source.pathExtension.lowercased() == "gguf" }

    /// Loads `path`; `seed` initialises a fresh score head.
    public init(path: String, seed: UInt64 = 0) throws {
        let url = try existingModelURL(path)
        let gguf = try openedGGUF(url)
        let model = try gguf.map { try RewardModel(gguf: $0, seed: seed) } ?? RewardModel(directory: url, seed: seed)
        text = try BundleText(source: url, gguf: gguf, modelVocabularySize: model.body.vocabularySize, modelSource: url)
        // transformers finds each row's last token by the pad id the tokenizer pads with.
        if let id = text.tokenizer.padTokenID ?? text.tokenizer.eosTokenID { model.padTokenID = Int32(id) }
        self.model = model
        source = url
    }

    /// PPO's value model when there is no reward-model folder to start from (TRL's choice for a
    /// non-model reward): the body of the policy at `path` with a zero-initialised score head, so
    /// every first value estimate is 0.
    public static func zeroHeadValueModel(path: String) throws -> RewardModel {
        let value = try RewardModelBundle(path: path).model
        value.score.weight.assign(.zeros(value.score.weight.value.shape))
        return value
    }

    /// Saves the (trained) reward model as a Hugging Face sequence-classification folder
    /// (``AlignModels/RewardModel/save(to:sourceDirectory:extraFiles:)``): the source folder's
    /// config and tokenizer files, or for a GGUF source a generated config and tokenizer files
    /// generated from its vocabulary.
    public func save(to directory: URL) throws {
        try model.save(to: directory, sourceDirectory: isGGUF ? nil : source, extraFiles: try text.generatedTokenizerFiles())
    }
}
