import AlignKernels
import AlignModels
import AlignNN
import AlignHub
import ArgumentParser
import Foundation

/// Resolves a `--model`-style argument: an existing path as given, else a Hugging Face Hub id
/// (`org/name[@revision]`) found in the local cache (``HubCache``). Returns a path for
/// ``ModelBundle/init(path:)`` and the other loaders; the error lists the paths looked at.
func resolveModelPath(_ pathOrID: String, flag: String) throws -> String {
    do { return try HubCache().resolveModel(pathOrID).path } catch let error as HubCacheError {
        throw ValidationErrorMessage("\(flag) \(error.description)")
    }
}

/// The dataset file a `--data`-style argument names: an existing file as given; a folder (a local
/// one, or the cached snapshot of a Hub dataset id) is searched for the split's JSON Lines / JSON
/// file (``datasetSplitFiles(snapshot:split:extensions:)``).
func resolveDataFile(_ pathOrID: String, split: String, flag: String) throws -> URL {
    let resolved: URL
    do { resolved = try HubCache().resolveDataset(pathOrID) } catch let error as HubCacheError {
        throw ValidationErrorMessage("\(flag) \(error.description)")
    }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: resolved.path, isDirectory: &isDirectory), isDirectory.boolValue else { return resolved }
    let files = datasetSplitFiles(snapshot: resolved, split: split, extensions: ["jsonl", "json"])
    if files.count == 1 { return files[0] }
    if files.count > 1 {
        // Reading several shards as one dataset comes with the Parquet reader; until then one file.
        throw ValidationErrorMessage("\(flag) \(pathOrID): split \"\(split)\" has \(files.count) files (\(files.map(\.lastPathComponent).joined(separator: ", "))); Align reads one file per split today: pass one of them by path")
    }
    let parquet = datasetSplitFiles(snapshot: resolved, split: split, extensions: ["parquet"])
    if parquet.count == 1 { return parquet[0] }
    if !parquet.isEmpty {
        // Shards of one split: the dataset reader takes their folder, or a name pattern in it.
        let folders = Set(parquet.map { $0.deletingLastPathComponent().standardizedFileURL.path })
        if folders.count == 1, let folder = parquet.first?.deletingLastPathComponent() {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".parquet") }) ?? []
            if names.count == parquet.count { return folder }
            if parquet.allSatisfy({ $0.lastPathComponent.hasPrefix(split + "-") }) {
                return folder.appendingPathComponent("\(split)-*.parquet")
            }
        }
        throw ValidationErrorMessage("\(flag) \(pathOrID): split \"\(split)\" is spread over \(parquet.count) Parquet files in several folders (\(parquet.map(\.lastPathComponent).joined(separator: ", "))); pass one folder or pattern by path")
    }
    throw ValidationErrorMessage("\(flag) \(pathOrID): no JSON Lines or JSON file for split \"\(split)\" in \(resolved.path) (looked for \(split).jsonl, \(split)-*.jsonl, \(split)/*.jsonl and the same under data/, or .json)")
}

/// Loads `--model` and, when `--adapter` names a PEFT adapter folder, attaches it (r, alpha and
/// targets from its `adapter_config.json`), as `PeftModel.from_pretrained(base, DIR)` does.
func loadModelBundle(_ model: String, adapter: String?) throws -> ModelBundle {
    let bundle = try ModelBundle(path: resolveModelPath(model, flag: "--model"))
    if let adapter {
        let url = URL(fileURLWithPath: (adapter as NSString).expandingTildeInPath)
        guard PEFTAdapter.isAdapterFolder(url) else {
            throw ValidationErrorMessage("--adapter \(adapter): no \(PEFTAdapter.configFile) there (not a PEFT adapter folder)")
        }
        try bundle.loadAdapter(from: adapter)
    }
    return bundle
}

/// The storage format a `--dtype`/`--ref-dtype` value names (f32, f16, bf16 or q8_0).
func elementFormat(_ value: String, flag: String) throws -> ElementFormat {
    guard let format = ElementFormat(rawValue: value) else {
        throw ValidationErrorMessage("\(flag) \(value): must be f32, f16, bf16 or q8_0")
    }
    return format
}

/// Holds a model used only for inference in `dtype` (its matrices in f16, bf16 or Q8_0, fp32
/// accumulation; see ``Module/holdMatrices(in:)``). A model with an adapter stays fp32 (merge it first with
/// `align merge`).
func holdForInference(_ bundle: ModelBundle, dtype: String, flag: String) throws {
    let format = try elementFormat(dtype, flag: flag)
    if format == .f32 { return }
    guard !bundle.model.hasAdapters else {
        throw ValidationErrorMessage("\(flag) \(dtype) with an adapter: merge it first (align merge), then load the merged model")
    }
    bundle.model.holdMatrices(in: format)
}

/// The `--adapter` option's help.
let adapterHelp = ArgumentHelp("PEFT adapter folder (adapter_config.json + adapter_model.safetensors) applied on top of --model.")
