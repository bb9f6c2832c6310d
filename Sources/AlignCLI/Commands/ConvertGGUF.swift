import AlignHub
import AlignKernels
import AlignModelIO
import AlignModels
import AlignTokenizers
import ArgumentParser
import Foundation

/// `align convert-gguf`: turns a llama- or qwen2-architecture GGUF file into a Hugging Face checkpoint
/// folder (safetensors shards + config.json, plus the tokenizer files generated from the GGUF's
/// tokenizer when it has one), dequantising and un-permuting Q/K on the way.
///
/// Checked once by hand (2026-11-22): SmolLM2-135M-Instruct.Q4_1.gguf converted with
/// `--dtype f32` and loaded by transformers' `from_pretrained(folder)` gives the same weights
/// (max |diff| 0.0) and logits as transformers' own `from_pretrained(..., gguf_file=...)`.
/// Kept as a hidden alias of `align convert --format hf --dtype ...` so existing scripts keep working.
struct ConvertGGUF: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert-gguf",
        abstract: "Convert a llama or qwen2 GGUF file to a Hugging Face safetensors checkpoint folder (alias of `align convert --format hf --dtype D`).",
        shouldDisplay: false)

    /// save_pretrained's default max_shard_size, 5 GB.
    static let defaultMaxShardBytes = 5_000_000_000

    @Argument(help: "The .gguf file to read.")
    var input: String

    @Argument(help: "The folder to write model*.safetensors and config.json into (created if needed).")
    var output: String

    @Option(help: "Stored dtype: f32, f16 or bf16.")
    var dtype = "bf16"

    @Option(help: "Largest shard in bytes before splitting (as save_pretrained's max_shard_size).")
    var maxShardBytes = ConvertGGUF.defaultMaxShardBytes

    func run() throws {
        try convertGGUFToSafetensors(input: input, output: output, dtype: dtype, maxShardBytes: maxShardBytes)
    }
}

/// Writes a GGUF file's tensors as safetensors shards + config.json (+ tokenizer files generated from
/// the GGUF's tokenizer), dequantised to `dtype` (f32, f16 or bf16) without building a model.
func convertGGUFToSafetensors(input: String, output: String, dtype: String, maxShardBytes: Int) throws {
    let storedType: SafetensorsDType
    switch dtype.lowercased() {
    case "f32", "float32": storedType = .float32
    case "f16", "float16": storedType = .float16
    case "bf16", "bfloat16": storedType = .bfloat16
    default: throw ValidationError("--dtype must be f32, f16 or bf16, not \(dtype)")
    }
    let start = DispatchTime.now().uptimeNanoseconds
    let file = try GGUFFile(url: URL(fileURLWithPath: input))
    let (configuration, tensors) = try LlamaWeightMapping.loadHuggingFaceTensors(from: file)
    let loaded = DispatchTime.now().uptimeNanoseconds
    let folder = URL(fileURLWithPath: output)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let entries = tensors.map { SafetensorsWriter.Tensor(name: $0.name, shape: $0.shape, storage: $0.storage, dtype: storedType) }
    let files = try SafetensorsWriter.writeSharded(entries, to: folder, maxShardBytes: maxShardBytes)
    // The same config.json a model saved from this GGUF gets, with the dtype stored here.
    let config = try configuration.huggingFaceConfiguration(dtype: storedType == .float32 ? "float32" : storedType == .float16 ? "float16" : "bfloat16")
    try config.data().write(to: folder.appendingPathComponent("config.json"), options: .atomic)
    // The tokenizer and chat template travel too, as `align convert` writes them.
    if file.metadata["tokenizer.ggml.model"] != nil {
        for (name, data) in try BPEVocabulary(gguf: file).huggingFaceTokenizerFiles() {
            try data.write(to: folder.appendingPathComponent(name), options: .atomic)
        }
    }
    let done = DispatchTime.now().uptimeNanoseconds
    print(String(format: "%d tensors: read and dequantised in %.3f s, wrote %d file(s) in %.3f s",
                 tensors.count, Double(loaded - start) / 1e9, files.count, Double(done - loaded) / 1e9))
    for url in files { print("  \(url.path)") }
}
