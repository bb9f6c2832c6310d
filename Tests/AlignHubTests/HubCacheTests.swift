import AlignHub
import Foundation
import Testing
import TestSupport

/// A fake Hugging Face cache in a temporary folder, laid out as huggingface_hub lays it out.
private struct FakeCache {
    let root: URL
    let hub: URL
    static let commit = "0123456789abcdef0123456789abcdef01234567"
    static let other = "fedcba9876543210fedcba9876543210fedcba98"

    init() throws {
        root = testScratchDirectory.appendingPathComponent("align-hf-\(UUID().uuidString)")
        hub = root.appendingPathComponent("hub")
        let fm = FileManager.default
        let model = hub.appendingPathComponent("models--org--tiny")
        for c in [FakeCache.commit, FakeCache.other] {
            try fm.createDirectory(at: model.appendingPathComponent("snapshots/\(c)"), withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: model.appendingPathComponent("snapshots/\(c)/config.json"))
        }
        try fm.createDirectory(at: model.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data((FakeCache.commit + "\n").utf8).write(to: model.appendingPathComponent("refs/main"))
        try Data(FakeCache.other.utf8).write(to: model.appendingPathComponent("refs/v1.0"))
        let single = hub.appendingPathComponent("models--gpt2/snapshots/\(FakeCache.commit)")
        try fm.createDirectory(at: single, withIntermediateDirectories: true)
        try fm.createDirectory(at: hub.appendingPathComponent("models--gpt2/refs"), withIntermediateDirectories: true)
        try Data(FakeCache.commit.utf8).write(to: hub.appendingPathComponent("models--gpt2/refs/main"))
        let dataset = hub.appendingPathComponent("datasets--org--pairs")
        let snapshot = dataset.appendingPathComponent("snapshots/\(FakeCache.commit)")
        try fm.createDirectory(at: snapshot.appendingPathComponent("data"), withIntermediateDirectories: true)
        try fm.createDirectory(at: dataset.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data(FakeCache.commit.utf8).write(to: dataset.appendingPathComponent("refs/main"))
        for name in ["data/train-00000-of-00001.jsonl", "data/test-00000-of-00001.parquet", "data/train_sft.jsonl", "README.md"] {
            try Data().write(to: snapshot.appendingPathComponent(name))
        }
    }

    var cache: HubCache { HubCache(environment: ["HF_HUB_CACHE": hub.path, "HOME": "/nonexistent"]) }
    func remove() { try? FileManager.default.removeItem(at: root) }
}

@Suite struct HubCacheTests {
    @Test func cacheFolderFollowsHuggingFaceHubsEnvironment() {
        #expect(HubCache(environment: ["HF_HUB_CACHE": "/a/hub", "HF_HOME": "/b"]).cacheDirectory.path == "/a/hub")
        #expect(HubCache(environment: ["HF_HOME": "/b", "XDG_CACHE_HOME": "/x"]).cacheDirectory.path == "/b/hub")
        #expect(HubCache(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]).cacheDirectory.path == "/x/huggingface/hub")
        #expect(HubCache(environment: ["HOME": "/h"]).cacheDirectory.path == "/h/.cache/huggingface/hub")
        #expect(HubCache(environment: ["HF_HUB_CACHE": "", "HOME": "/h"]).cacheDirectory.path == "/h/.cache/huggingface/hub")
    }

    @Test func parsesIDs() {
        #expect(HubCache.parseID("org/name") == .init(repository: "org/name", revision: "main"))
        #expect(HubCache.parseID("gpt2@v1.0") == .init(repository: "gpt2", revision: "v1.0"))
        #expect(HubCache.parseID("HuggingFaceTB/SmolLM2-135M-Instruct@refs/pr/1")?.revision == "refs/pr/1")
        for notAnID in ["/abs/path", "./x", "a/b/c", "", "org/", "../x", "x@", "x@../y", "org/na me", "model.gguf/"] {
            #expect(HubCache.parseID(notAnID) == nil, "\(notAnID)")
        }
    }

    @Test func resolvesModelsThroughRefsAndCommits() throws {
        let fake = try FakeCache()
        defer { fake.remove() }
        let snapshots = fake.hub.appendingPathComponent("models--org--tiny/snapshots")
        #expect(try fake.cache.resolveModel("org/tiny").path == snapshots.appendingPathComponent(FakeCache.commit).path)
        #expect(try fake.cache.resolveModel("org/tiny@v1.0").path == snapshots.appendingPathComponent(FakeCache.other).path)
        #expect(try fake.cache.resolveModel("org/tiny@\(FakeCache.other)").path == snapshots.appendingPathComponent(FakeCache.other).path)
        #expect(try fake.cache.resolveModel("gpt2").lastPathComponent == FakeCache.commit)
    }

    @Test func anExistingLocalPathWins() throws {
        let fake = try FakeCache()
        defer { fake.remove() }
        // A folder named like an id, relative to the working directory, is used as it is.
        var cache = fake.cache
        cache.baseDirectory = fake.root
        #expect(try cache.resolveModel("hub").path == fake.hub.path)
        try FileManager.default.createDirectory(at: fake.root.appendingPathComponent("org/tiny"), withIntermediateDirectories: true)
        #expect(try cache.resolveModel("org/tiny").path == fake.root.appendingPathComponent("org/tiny").path)
        #expect(try fake.cache.resolveModel("org/tiny").lastPathComponent == FakeCache.commit)
        #expect(try fake.cache.resolveModel(fake.hub.path).path == fake.hub.path)
    }

    @Test func errorsListEveryPathLookedAt() throws {
        let fake = try FakeCache()
        defer { fake.remove() }
        do {
            _ = try fake.cache.resolveModel("org/missing@dev")
            Issue.record("resolved a model that is not cached")
        } catch let error as HubCacheError {
            #expect(error.looked.count == 2)
            #expect(error.looked[1] == fake.hub.appendingPathComponent("models--org--missing/refs/dev").path)
            #expect(error.description.contains("neither a local path nor a model in the Hugging Face cache"))
            #expect(error.description.contains("hf download org/missing"))
            #expect(error.description.contains(error.looked[1]))
        }
        // A ref pointing to a snapshot that is not there (an interrupted download) names the snapshot.
        do {
            _ = try fake.cache.resolveModel("org/tiny@\(String(repeating: "a", count: 40))")
            Issue.record("resolved a missing snapshot")
        } catch let error as HubCacheError {
            #expect(error.looked.last!.hasSuffix("models--org--tiny/snapshots/" + String(repeating: "a", count: 40)))
        }
        // Not an id at all: only the path.
        #expect(throws: HubCacheError.self) { try fake.cache.resolveModel("/no/such/model.gguf") }
        // A dataset id is not looked up among models.
        #expect(throws: HubCacheError.self) { try fake.cache.resolveModel("org/pairs") }
    }

    @Test func datasetsResolveToSnapshotsAndSplitFiles() throws {
        let fake = try FakeCache()
        defer { fake.remove() }
        let snapshot = try fake.cache.resolveDataset("org/pairs")
        #expect(snapshot.lastPathComponent == FakeCache.commit)
        #expect(snapshot.path.contains("datasets--org--pairs"))
        #expect(datasetSplitFiles(snapshot: snapshot, split: "train", extensions: ["jsonl", "json"]).map(\.lastPathComponent)
            == ["train-00000-of-00001.jsonl"])
        #expect(datasetSplitFiles(snapshot: snapshot, split: "test", extensions: ["jsonl"]).isEmpty)
        #expect(datasetSplitFiles(snapshot: snapshot, split: "test", extensions: ["parquet"]).map(\.lastPathComponent)
            == ["test-00000-of-00001.parquet"])
        #expect(datasetSplitFiles(snapshot: snapshot, split: "train_sft", extensions: ["jsonl"]).map(\.lastPathComponent)
            == ["train_sft.jsonl"])
    }
}
