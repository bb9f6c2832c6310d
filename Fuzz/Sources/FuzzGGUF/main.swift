// Fuzzes the GGUF reader and what reads a GGUF's metadata (the Llama configuration, the embedded
// tokenizer): any bytes are either a valid file whose tensors dequantise, or a ModelIOError.
import AlignHub
import AlignModelIO
import AlignModels
import AlignTokenizers
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let url = Scratch.write(start, count, name: "model.gguf")
    guard let file = try? GGUFFile(url: url) else { return 0 }
    for tensor in file.tensors {
        if let (shape, storage) = try? file.loadFloat32(tensor.name) {
            precondition(shape == tensor.shape && storage.count == tensor.elementCount, "\(tensor.name): shape disagrees")
        }
    }
    // A whole model from the file when its context is small (the rotary table is allocated up front).
    if let config = try? LlamaConfiguration(gguf: file), config.maxPositionEmbeddings <= 4096 {
        _ = try? LlamaForCausalLM(gguf: file)
    }
    if let vocabulary = try? BPEVocabulary(gguf: file), let tokenizer = try? Tokenizer(vocabulary: vocabulary) {
        let ids = tokenizer.encode("Hello, world! 12 34 <s> héllo")
        _ = tokenizer.decode(ids)
    }
    return 0
}
