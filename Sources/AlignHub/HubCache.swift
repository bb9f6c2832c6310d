import Foundation

/// Resolves Hugging Face Hub ids (`org/name`, `name`, each optionally `@revision`) to folders of the
/// local Hugging Face cache, offline: Align never downloads. A model or dataset fetched once with
/// `huggingface-cli download` (or by transformers / datasets) can then be named as on the Hub.
///
/// The cache layout is huggingface_hub's: `<cache>/models--org--name/refs/<revision>` holds the
/// commit hash a branch or tag points to, and `<cache>/models--org--name/snapshots/<hash>/` the files
/// at that commit (`datasets--org--name` for datasets). The cache folder is `HF_HUB_CACHE`, else
/// `HF_HOME/hub`, else `XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
///
/// An existing local path always wins, so a folder that happens to be named like an id is never
/// shadowed by the cache.
public struct HubCache: Sendable {
    /// The environment the cache folder is read from (a parameter so tests need not touch the
    /// process environment).
    public var environment: [String: String]
    /// The folder relative paths are taken from (nil: the process's working directory; tests set
    /// it rather than change the working directory under other tests).
    public var baseDirectory: URL?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, baseDirectory: URL? = nil) {
        self.environment = environment
        self.baseDirectory = baseDirectory
    }

    /// What is being resolved: the cache keeps models and datasets in separately prefixed folders.
    public enum RepoType: String, Sendable {
        case model, dataset
        var folderPrefix: String { self == .model ? "models" : "datasets" }
    }

    /// The cache folder, as huggingface_hub chooses it.
    public var cacheDirectory: URL {
        func nonEmpty(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        func expand(_ path: String) -> URL { URL(fileURLWithPath: (path as NSString).expandingTildeInPath) }
        if let hub = nonEmpty("HF_HUB_CACHE") ?? nonEmpty("HUGGINGFACE_HUB_CACHE") { return expand(hub) }
        if let home = nonEmpty("HF_HOME") { return expand(home).appendingPathComponent("hub") }
        if let xdg = nonEmpty("XDG_CACHE_HOME") { return expand(xdg).appendingPathComponent("huggingface/hub") }
        let home = nonEmpty("HOME").map(expand) ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".cache/huggingface/hub")
    }

    /// A Hub id split into repository and revision.
    public struct RepoID: Equatable, Sendable {
        /// `org/name` or `name`.
        public var repository: String
        /// A branch, tag or 40-hex commit; `main` when none was given.
        public var revision: String

        public init(repository: String, revision: String = "main") {
            self.repository = repository
            self.revision = revision
        }
    }

    /// Parses `org/name[@revision]` or `name[@revision]`, or returns nil for text that cannot be a Hub
    /// id (an absolute or `./` path, more than one `/`, characters the Hub does not allow).
    public static func parseID(_ text: String) -> RepoID? {
        var repository = Substring(text)
        var revision = "main"
        if let at = text.firstIndex(of: "@") {
            repository = text[..<at]
            revision = String(text[text.index(after: at)...])
            guard !revision.isEmpty, !revision.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else { return nil }
        }
        let parts = repository.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return nil }
        for part in parts {
            guard !part.isEmpty, part != ".", part != "..", !part.hasPrefix("-"),
                  part.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else { return nil }
        }
        return RepoID(repository: String(repository), revision: revision)
    }

    /// The local path `pathOrID` names as a model: itself when it exists, else the cached snapshot
    /// folder of the Hub id it spells.
    public func resolveModel(_ pathOrID: String) throws -> URL { try resolve(pathOrID, as: .model) }

    /// The local path `pathOrID` names as a dataset: itself when it exists, else the cached snapshot
    /// folder of the Hub dataset id it spells (pick the files of a split with ``datasetSplitFiles(snapshot:split:extensions:)``).
    public func resolveDataset(_ pathOrID: String) throws -> URL { try resolve(pathOrID, as: .dataset) }

    /// Resolves `pathOrID`; the error lists every path looked at.
    public func resolve(_ pathOrID: String, as type: RepoType) throws -> URL {
        let expanded = (pathOrID as NSString).expandingTildeInPath
        let local = expanded.hasPrefix("/") ? URL(fileURLWithPath: expanded)
            : baseDirectory?.appendingPathComponent(expanded) ?? URL(fileURLWithPath: expanded)
        if FileManager.default.fileExists(atPath: local.path) { return local }
        guard let id = HubCache.parseID(pathOrID) else {
            throw HubCacheError(request: pathOrID, type: type, looked: [local.path], reason: "no such file or folder")
        }
        var looked = [local.path]
        let repo = cacheDirectory.appendingPathComponent(type.folderPrefix + "--" + id.repository.replacingOccurrences(of: "/", with: "--"))
        let snapshots = repo.appendingPathComponent("snapshots")
        let commit: String
        if HubCache.isCommitHash(id.revision) {
            commit = id.revision
        } else {
            let ref = repo.appendingPathComponent("refs").appendingPathComponent(id.revision)
            looked.append(ref.path)
            guard let data = FileManager.default.contents(atPath: ref.path),
                  let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
                  !text.isEmpty, !text.contains("/") else {
                throw HubCacheError(request: pathOrID, type: type, looked: looked, reason: "not in the Hugging Face cache")
            }
            commit = text
        }
        let snapshot = snapshots.appendingPathComponent(commit)
        looked.append(snapshot.path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: snapshot.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw HubCacheError(request: pathOrID, type: type, looked: looked, reason: "not in the Hugging Face cache")
        }
        return snapshot
    }

    /// Whether `revision` is a full commit hash (40 lowercase hex digits), which names a snapshot
    /// folder directly.
    public static func isCommitHash(_ revision: String) -> Bool {
        revision.utf8.count == 40 && revision.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

/// The files of one split in a dataset folder (a cached Hub snapshot or any local folder), by the
/// names the Hub and `datasets` use: `<split>.<ext>`, `<split>-*.<ext>` (e.g.
/// `train-00000-of-00001.parquet`) and `<split>/*.<ext>`, each at the top or under `data/`; also a
/// file of `data/` whose name starts with the split (`data/train_sft.jsonl` stays out: the split name
/// must be followed by `.` or `-`). Sorted by path, so shards come in order. `extensions` are without
/// the dot (`["jsonl", "json"]` today; `"parquet"` once a Parquet reader exists).
public func datasetSplitFiles(snapshot: URL, split: String, extensions: [String]) -> [URL] {
    let fm = FileManager.default
    let wanted = Set(extensions.map { $0.lowercased() })
    func files(in folder: URL) -> [URL] {
        ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? []).map { folder.appendingPathComponent($0) }
            .filter { wanted.contains($0.pathExtension.lowercased()) && !$0.hasDirectoryPath }
    }
    func matches(_ url: URL) -> Bool {
        let name = url.lastPathComponent
        guard name.hasPrefix(split) else { return false }
        let rest = name.dropFirst(split.count)
        return rest.hasPrefix(".") || rest.hasPrefix("-")
    }
    var found: [URL] = []
    for base in [snapshot, snapshot.appendingPathComponent("data")] {
        found += files(in: base).filter(matches)
        found += files(in: base.appendingPathComponent(split))
    }
    // A snapshot's files are symlinks into blobs/: keep the snapshot path (its name says the split).
    return Array(Set(found.map(\.path))).sorted().map { URL(fileURLWithPath: $0) }
}

/// A path or Hub id that names nothing local, with every path looked at.
public struct HubCacheError: Error, CustomStringConvertible, Equatable {
    /// What was asked for, as given.
    public let request: String
    /// Model or dataset.
    public let type: HubCache.RepoType
    /// The paths looked at, in order.
    public let looked: [String]
    /// Why none fitted.
    public let reason: String

    public var description: String {
        guard looked.count > 1 else { return "\(request): no such file or folder (looked at \(looked[0]))" }
        let parts = request.split(separator: "@", maxSplits: 1).map(String.init)
        var command = "hf download \(parts.first ?? request)" + (type == .dataset ? " --repo-type dataset" : "")
        if parts.count == 2 { command += " --revision \(parts[1])" }
        return "\(request): neither a local path nor a \(type.rawValue) in the Hugging Face cache (Align never downloads; fetch it first, e.g. `\(command)`); looked at: " + looked.joined(separator: ", ")
    }
}
