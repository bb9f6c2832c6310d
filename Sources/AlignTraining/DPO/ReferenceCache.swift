import AlignNN
import AlignTensor
import Foundation

/// Precomputed reference log-probs on disk, keyed by everything they depend on: the reference
/// weights (hashed), the data (hashed), and every tokenisation setting. A changed key is a miss,
/// so a stale cache is never read (REFERENCE.md pitfall 7).
public struct ReferenceCache {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    /// A 64-bit FNV-1a digest over 8-byte words (fast enough for 500 MB of weights per second).
    public struct Digest {
        public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
        public init() {}
        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            var h = value
            let words = bytes.count / 8
            for i in 0..<words {
                h ^= bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                h = h &* 0x0000_0100_0000_01b3
            }
            for i in (words * 8)..<bytes.count {
                h ^= UInt64(bytes[i])
                h = h &* 0x0000_0100_0000_01b3
            }
            value = h
        }
        public mutating func update(_ string: String) {
            var s = string
            s.withUTF8 { update(UnsafeRawBufferPointer($0)) }
            update(withUnsafeBytes(of: UInt64(string.utf8.count)) { $0 })
        }
        public var hex: String { String(value, radix: 16) }
    }

    /// The cache key for a reference model and a description of the data and of every setting
    /// that shapes its tokens (include ``fileDigest(_:)`` of each data file in it).
    public static func key(reference: Module, settings: String) -> String {
        var d = Digest()
        var seen = Set<ObjectIdentifier>()
        for (name, p) in reference.namedParameters() where seen.insert(ObjectIdentifier(p)).inserted {
            d.update(name)
            p.value.toArray().withUnsafeBytes { d.update($0) }
        }
        d.update(settings)
        return d.hex
    }

    /// A digest of a file's bytes.
    public static func fileDigest(_ url: URL) throws -> String {
        var d = Digest()
        let bytes = try Data(contentsOf: url, options: .mappedIfSafe)
        bytes.withUnsafeBytes { d.update($0) }
        return d.hex
    }

    private func url(_ key: String) -> URL { directory.appendingPathComponent("ref-logps-\(key).bin") }

    /// Cached chosen and rejected log-probs for `count` examples, or nil on a miss.
    public func load(key: String, count: Int) -> (chosen: [Float], rejected: [Float])? {
        guard let data = try? Data(contentsOf: url(key)), data.count == 8 + 8 * count else { return nil }
        return data.withUnsafeBytes { raw in
            guard raw.loadUnaligned(as: UInt64.self) == UInt64(count) else { return nil }
            let values = (0..<(2 * count)).map { raw.loadUnaligned(fromByteOffset: 8 + 4 * $0, as: Float.self) }
            return (Array(values[0..<count]), Array(values[count...]))
        }
    }

    /// Stores log-probs under `key` atomically.
    public func save(key: String, chosen: [Float], rejected: [Float]) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var data = Data()
        withUnsafeBytes(of: UInt64(chosen.count)) { data.append(contentsOf: $0) }
        (chosen + rejected).withUnsafeBytes { data.append(contentsOf: $0) }
        try data.write(to: url(key), options: .atomic)
    }
}
