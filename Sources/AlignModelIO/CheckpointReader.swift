// Reading a Hugging Face checkpoint folder: one safetensors file or shards plus an index.
import AlignJSON
import AlignKernels
import Foundation

/// The tensors of a checkpoint, whether stored in one safetensors file or sharded across several
/// with a `*.safetensors.index.json` weight map (as `save_pretrained` writes large models).
public struct CheckpointReader: Sendable {
    /// The folder (or single file) the checkpoint was opened from.
    public let url: URL
    /// The opened files, in index order (one for an unsharded checkpoint).
    public let files: [SafetensorsFile]
    private let location: [String: Int]
    /// Every tensor name, sorted.
    public let tensorNames: [String]

    /// Opens `url`: a `.safetensors` file, a `.safetensors.index.json`, or a folder containing
    /// `model.safetensors.index.json` (preferred) or `model.safetensors`. Each shard is validated,
    /// and the index must name exactly the tensors its shards hold.
    public init(url: URL) throws {
        self.url = url
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ModelIOError.io(path: url.path, reason: "no such file or folder")
        }
        var indexURL: URL?
        var singleURL: URL?
        if isDirectory.boolValue {
            let index = url.appendingPathComponent("model.safetensors.index.json")
            let single = url.appendingPathComponent("model.safetensors")
            if FileManager.default.fileExists(atPath: index.path) {
                indexURL = index
            } else if FileManager.default.fileExists(atPath: single.path) {
                singleURL = single
            } else {
                throw ModelIOError.io(path: url.path, reason: "folder has neither model.safetensors.index.json nor model.safetensors")
            }
        } else if url.lastPathComponent.hasSuffix(".index.json") {
            indexURL = url
        } else {
            singleURL = url
        }

        if let singleURL {
            let file = try SafetensorsFile(url: singleURL)
            files = [file]
            location = Dictionary(uniqueKeysWithValues: file.tensorNames.map { ($0, 0) })
            tensorNames = file.tensorNames.sorted()
            return
        }
        let index = indexURL!
        let weightMap = try CheckpointReader.parseWeightMap(index)
        let folder = index.deletingLastPathComponent()
        var fileNames: [String] = []
        var fileIndex: [String: Int] = [:]
        var location: [String: Int] = [:]
        for (tensor, fileName) in weightMap {
            if fileIndex[fileName] == nil {
                fileIndex[fileName] = fileNames.count
                fileNames.append(fileName)
            }
            location[tensor] = fileIndex[fileName]!
        }
        let files = try fileNames.map { try SafetensorsFile(url: folder.appendingPathComponent($0)) }
        for (tensor, fileName) in weightMap where files[fileIndex[fileName]!].info(tensor) == nil {
            throw ModelIOError.malformed(path: index.path, reason: "weight_map puts \"\(tensor)\" in \(fileName), which has no such tensor")
        }
        for (i, file) in files.enumerated() {
            for name in file.tensorNames where location[name] != i {
                throw ModelIOError.malformed(path: index.path, reason: "shard \(fileNames[i]) holds \"\(name)\", which weight_map \(location[name] == nil ? "does not list" : "assigns to \(fileNames[location[name]!])")")
            }
        }
        self.files = files
        self.location = location
        self.tensorNames = location.keys.sorted()
    }

    /// Reads and checks the `weight_map` of an index file: tensor name -> shard file name, in file order.
    private static func parseWeightMap(_ index: URL) throws -> [(String, String)] {
        let path = index.path
        let data: Data
        do { data = try Data(contentsOf: index) } catch {
            throw ModelIOError.io(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        let json: JSONValue
        do { json = try JSONParser.parse(data) } catch let error as JSONSyntaxError {
            throw ModelIOError.malformed(path: path, reason: "not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .object(let top) = json else { throw ModelIOError.malformed(path: path, reason: "index is not a JSON object") }
        guard let map = top.first(where: { $0.key == "weight_map" })?.value else {
            throw ModelIOError.malformed(path: path, reason: "index has no weight_map")
        }
        guard case .object(let entries) = map else {
            throw ModelIOError.malformed(path: path, reason: "weight_map is \(map.kindName), not an object")
        }
        return try entries.map { tensor, value in
            guard case .string(let fileName) = value else {
                throw ModelIOError.malformed(path: path, reason: "weight_map entry \"\(tensor)\" is \(value.kindName), not a file name")
            }
            // Shards live beside the index; refuse paths that would escape the folder.
            guard !fileName.isEmpty, !fileName.hasPrefix("/"), !fileName.split(separator: "/").contains("..") else {
                throw ModelIOError.malformed(path: path, reason: "weight_map entry \"\(tensor)\" names \"\(fileName)\", outside the checkpoint folder")
            }
            return (tensor, fileName)
        }
    }

    /// The header entry of tensor `name`, or nil.
    public func info(_ name: String) -> TensorInfo? {
        guard let i = location[name] else { return nil }
        return files[i].info(name)
    }

    /// The file holding tensor `name`, or nil.
    public func file(containing name: String) -> SafetensorsFile? {
        location[name].map { files[$0] }
    }

    /// Loads tensor `name` converted to fp32 (see ``SafetensorsFile/loadFloat32(_:)``).
    public func loadFloat32(_ name: String) throws -> (shape: [Int], storage: TensorStorage) {
        guard let i = location[name] else { throw ModelIOError.tensorNotFound(path: url.path, name: name) }
        return try files[i].loadFloat32(name)
    }

    /// The `__metadata__` of the first file (shards written by `save_pretrained` share it).
    public var metadata: [String: String] { files.first?.metadata ?? [:] }
}
