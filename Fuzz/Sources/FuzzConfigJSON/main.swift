// Fuzzes config.json handling: the architecture probe of loadCausalLanguageModel, the Llama and
// GPT-2 configuration decoders with their validation, and building a model from an accepted
// configuration (with tiny stand-in weights), which is where bad sizes used to crash.
import AlignModels
import AlignTensor
import FuzzSupport
import Foundation

struct StandInWeightsExhausted: Error {}

/// Zero tensors of the requested shape while they stay small; a throw once a configuration asks
/// for more than a small model's worth (the loader must have validated sizes before this point).
func standInWeights() -> WeightSource {
    var calls = 0
    return { _, shape in
        calls += 1
        var elements = 1
        for dimension in shape {
            precondition(dimension >= 0, "negative dimension \(dimension) requested in \(shape)")
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= 1 << 16 else { throw StandInWeightsExhausted() }
            elements = product
        }
        guard calls <= 64 else { throw StandInWeightsExhausted() }
        return Tensor.zeros(shape)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigJSON(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = Data(inputBytes(start, count))
    // The folder path: no weights beside the config, so loading stops at the checkpoint.
    _ = Scratch.write(start, count, name: "config.json")
    _ = try? loadCausalLanguageModel(directory: URL(fileURLWithPath: Scratch.folder))
    if let configuration = try? JSONDecoder().decode(LlamaConfiguration.self, from: data),
       configuration.maxPositionEmbeddings <= 4096 {
        _ = try? LlamaForCausalLM(configuration, weights: standInWeights())
    }
    if let configuration = try? JSONDecoder().decode(GPT2Configuration.self, from: data) {
        _ = try? GPT2LMHeadModel(configuration, weights: standInWeights())
    }
    return 0
}
