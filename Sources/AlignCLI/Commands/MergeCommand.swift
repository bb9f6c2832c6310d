import AlignHub
import AlignModelIO
import AlignModels
import AlignNN
import ArgumentParser
import Foundation

/// `align merge`: fuses a PEFT adapter into its base model (W + s·B·A, or DoRA's rescaled
/// direction) and writes the full model, as PEFT's `merge_and_unload()` then `save_pretrained`.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge", abstract: "Fuse a LoRA/DoRA adapter into its base model and write the full model.",
        discussion: """
            --format hf (default): a Hugging Face folder with the base's config and tokenizer files, which \
            transformers loads; --format gguf: a GGUF file (--dtype f32 or f16) with the tokenizer.
            """)
    @Option(help: "Base model: folder, .gguf file or cached Hub id (org/name[@revision]).") var model: String
    @Option(help: "PEFT adapter folder (adapter_config.json + adapter_model.safetensors), e.g. an `align dpo --lora-r 16` output.")
    var adapter: String
    @Option(help: "Output folder (hf) or .gguf file (gguf).") var output: String
    @Option(help: "hf or gguf.") var format = "hf"
    @Option(help: "gguf: f32 (default) or f16.") var dtype: String?

    func run() throws {
        let type: GGMLType
        switch (format, dtype ?? "f32") {
        case ("hf", "f32"): type = .f32
        case ("gguf", "f32"): type = .f32
        case ("gguf", "f16"): type = .f16
        case ("hf", _): throw ValidationErrorMessage("--dtype: the merged Hugging Face folder is written in f32")
        case ("gguf", let d): throw ValidationErrorMessage("--dtype \(d): GGUF output is f32 or f16")
        default: throw ValidationErrorMessage("--format must be hf or gguf")
        }
        let bundle = try loadModelBundle(model, adapter: adapter)
        let layers = bundle.model.adaptedLinears().count
        bundle.model.mergeAdapters()
        if format == "hf" {
            try bundle.save(to: URL(fileURLWithPath: (output as NSString).expandingTildeInPath))
        } else {
            try bundle.saveGGUF(to: URL(fileURLWithPath: (output as NSString).expandingTildeInPath), type: type)
        }
        print("merged \(layers) adapted layers; wrote \(output)")
    }
}
