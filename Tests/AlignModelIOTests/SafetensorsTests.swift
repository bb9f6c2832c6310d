// Safetensors reading, validation, writing and sharding.
import AlignKernels
import Foundation
import Testing
@testable import AlignModelIO

private let safetensorsFolder = fixturesURL.appendingPathComponent("safetensors")

@Suite("Safetensors reading")
struct SafetensorsReadingTests {
    @Test("fp32, fp16, bf16, integer and f64 tensors load with the values Python stored", arguments: ["f32", "mixed", "ints", "numpy_f32"])
    func loadsFixtureValues(name: String) throws {
        let file = try SafetensorsFile(url: safetensorsFolder.appendingPathComponent("\(name).safetensors"))
        let expected = try loadExpected("safetensors/\(name).json")
        #expect(Set(file.tensorNames) == Set(expected.keys))
        for (tensor, want) in expected {
            let (shape, storage) = try file.loadFloat32(tensor)
            #expect(shape == want.shape, "\(tensor)")
            #expect(file.info(tensor)?.shape == want.shape)
            let got = storage.toArray()
            #expect(got.count == want.values.count, "\(tensor)")
            // Conversions to fp32 are exact for these dtypes (f64/i64 values were chosen representable
            // after numpy's own rounding to float32).
            #expect(got == want.values, "\(tensor): \(got) vs \(want.values)")
        }
    }

    @Test("dtypes and metadata entries come back in header order")
    func metadataAndDTypes() throws {
        let file = try SafetensorsFile(url: safetensorsFolder.appendingPathComponent("mixed.safetensors"))
        #expect(file.metadata["format"] == "pt")
        #expect(file.metadata["note"] == "quotes \" and \\ and é")
        #expect(file.metadataEntries.count == 4)
        #expect(file.info("b.f16")?.dtype == .float16)
        #expect(file.info("c.bf16")?.dtype == .bfloat16)
        #expect(file.info("a.f32")?.dtype == .float32)
        #expect(file.info("missing") == nil)
        let error = expectModelIOError { _ = try file.loadFloat32("missing") }
        #expect(error == .tensorNotFound(path: file.url.path, name: "missing"))
        let ints = try SafetensorsFile(url: safetensorsFolder.appendingPathComponent("ints.safetensors"))
        #expect(!ints.hasMetadata && ints.metadata.isEmpty)
        #expect(ints.info("flags")?.dtype == .bool && ints.info("i64")?.dtype == .int64)
    }

    @Test("a sharded checkpoint loads through its index, a folder or the index file itself")
    func shardedCheckpoint() throws {
        let expected = try loadExpected("safetensors/sharded.json")
        for url in [safetensorsFolder.appendingPathComponent("sharded"),
                    safetensorsFolder.appendingPathComponent("sharded/model.safetensors.index.json")] {
            let reader = try CheckpointReader(url: url)
            #expect(reader.files.count == 3)
            #expect(reader.tensorNames == expected.keys.sorted())
            for (name, want) in expected {
                let (shape, storage) = try reader.loadFloat32(name)
                #expect(shape == want.shape && storage.toArray() == want.values, "\(name)")
            }
            #expect(reader.metadata == ["format": "pt"])
        }
        let single = try CheckpointReader(url: safetensorsFolder.appendingPathComponent("f32.safetensors"))
        #expect(single.tensorNames.count == 5 && single.info("scalar")?.shape == [])
    }
}

/// Builds a safetensors file from a header text and raw data, to test the validator.
private func writeRaw(header: String, data: [UInt8], lengthOverride: UInt64? = nil, in folder: URL) throws -> URL {
    var bytes: [UInt8] = []
    let headerBytes = Array(header.utf8)
    var length = (lengthOverride ?? UInt64(headerBytes.count)).littleEndian
    withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
    bytes += headerBytes + data
    let url = folder.appendingPathComponent("case-\(UUID().uuidString).safetensors")
    try Data(bytes).write(to: url)
    return url
}

@Suite("Safetensors validation")
struct SafetensorsValidationTests {
    /// Each malformed header, with the phrase its error reason must contain.
    static let headerCases: [(header: String, dataBytes: Int, reason: String)] = [
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#, 8, "not valid JSON"),
        (#"["a"]"#, 0, "does not start with '{'"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, 16, "needs 8 bytes but data_offsets [0, 16] hold 16"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 4, "end past the 4-byte data region"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, 8, "end before they begin"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "overlaps"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "gap in the data region"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 8, "data region is 8 bytes but the tensors cover 4"),
        (#"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}"#, 4, "unknown dtype \"Q4\""),
        (#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, 4, "shape of tensor \"a\" contains a negative"),
        (#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, 4, "shape of tensor \"a\" contains"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, 4, "has 1 entries, not 2"),
        (#"{"a":{"dtype":"F32","shape":[1]}}"#, 4, "has no data_offsets"),
        (#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, 4, "has no dtype"),
        (#"{"a":{"dtype":"F32","data_offsets":[0,4]}}"#, 4, "has no shape"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}"#, 4, "unexpected field \"extra\""),
        (#"{"a":[1]}"#, 0, "entry for tensor \"a\" is an array"),
        (#"{"__metadata__":{"k":1}}"#, 0, "__metadata__ entry \"k\" is a number"),
        (#"{"__metadata__":"x"}"#, 0, "__metadata__ is a string"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 4, "duplicate key"),
        (#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#, 4, "overflows"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}}"#, 4, "does not fit in 64 bits"),
        ("{\"a\":\"\u{01}\"}", 0, "control character"),
    ]

    @Test("malformed headers throw a precise reason", arguments: 0..<headerCases.count)
    func malformedHeader(caseIndex: Int) throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let (header, dataBytes, reason) = Self.headerCases[caseIndex]
        let url = try writeRaw(header: header, data: [UInt8](repeating: 0, count: dataBytes), in: folder)
        let error = expectModelIOError { _ = try SafetensorsFile(url: url) }
        guard case .malformed(let path, let message)? = error else {
            Issue.record("expected .malformed, got \(String(describing: error))")
            return
        }
        #expect(path == url.path)
        #expect(message.contains(reason), "reason was: \(message)")
        #expect(error!.description.hasPrefix(url.path))
    }

    @Test("short, truncated and wrongly sized files are rejected")
    func truncatedFiles() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let original = try Data(contentsOf: safetensorsFolder.appendingPathComponent("f32.safetensors"))
        let cases: [(Data, String)] = [
            (Data(), "file is 0 bytes"),
            (original.prefix(5), "file is 5 bytes"),
            (original.prefix(8), "runs past the end"),
            (original.prefix(100), "runs past the end"),
            (original.dropLast(1), "end past the 95-byte data region"),
            (original.dropLast(40), "end past the"),
            (original + Data([0, 0, 0, 0]), "data region is"),
        ]
        for (index, (bytes, reason)) in cases.enumerated() {
            let url = folder.appendingPathComponent("t\(index).safetensors")
            try bytes.write(to: url)
            let error = expectModelIOError { _ = try SafetensorsFile(url: url) }
            #expect(error?.reason.contains(reason) == true, "case \(index): \(String(describing: error))")
        }
        // A header length larger than the reference implementation's 100 MB limit.
        let huge = try writeRaw(header: "{}", data: [], lengthOverride: 1 << 40, in: folder)
        #expect(expectModelIOError { _ = try SafetensorsFile(url: huge) }?.reason.contains("limit") == true)
        // Missing files and folders are I/O errors.
        let missing = folder.appendingPathComponent("absent.safetensors")
        guard case .io? = expectModelIOError({ _ = try SafetensorsFile(url: missing) }) else {
            Issue.record("expected .io for a missing file"); return
        }
        guard case .io? = expectModelIOError({ _ = try SafetensorsFile(url: folder) }) else {
            Issue.record("expected .io for a folder"); return
        }
        // A trailing space-padded header with an empty tensor list is valid.
        let empty = try writeRaw(header: "{}      ", data: [], in: folder)
        #expect(try SafetensorsFile(url: empty).tensorNames.isEmpty)
    }

    @Test("an index naming a missing tensor or an escaping path is rejected")
    func badIndex() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let shard = safetensorsFolder.appendingPathComponent("f32.safetensors")
        try FileManager.default.copyItem(at: shard, to: folder.appendingPathComponent("a.safetensors"))
        let index = folder.appendingPathComponent("model.safetensors.index.json")
        let cases: [(String, String)] = [
            (#"{"weight_map":{"nope":"a.safetensors"}}"#, "has no such tensor"),
            (#"{"weight_map":{"scalar":"a.safetensors"}}"#, "which weight_map does not list"),
            (#"{"weight_map":{"x":"../a.safetensors"}}"#, "outside the checkpoint folder"),
            (#"{"weight_map":[]}"#, "weight_map is an array"),
            (#"{"metadata":{}}"#, "no weight_map"),
            (#"{"weight_map":"#, "not valid JSON"),
        ]
        for (text, reason) in cases {
            try Data(text.utf8).write(to: index)
            let error = expectModelIOError { _ = try CheckpointReader(url: folder) }
            #expect(error?.reason.contains(reason) == true, "\(text): \(String(describing: error))")
        }
        try Data(#"{"weight_map":{"x":"b.safetensors"}}"#.utf8).write(to: index)
        guard case .io? = expectModelIOError({ _ = try CheckpointReader(url: folder) }) else {
            Issue.record("expected .io for a missing shard"); return
        }
    }
}

@Suite("Safetensors writing")
struct SafetensorsWritingTests {
    @Test("load then save reproduces files written by the Python library byte for byte", arguments: ["f32", "mixed", "numpy_f32"])
    func bitIdenticalRoundTrip(name: String) throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let source = safetensorsFolder.appendingPathComponent("\(name).safetensors")
        let file = try SafetensorsFile(url: source)
        // Feed the tensors in reverse header order: the writer must restore the library's order.
        let tensors = try file.tensorNames.reversed().map { tensor -> SafetensorsWriter.Tensor in
            let (shape, storage) = try file.loadFloat32(tensor)
            return .init(name: tensor, shape: shape, storage: storage, dtype: file.info(tensor)!.dtype)
        }
        let output = folder.appendingPathComponent("out.safetensors")
        try SafetensorsWriter.write(tensors, metadata: file.hasMetadata ? file.metadataEntries : nil, to: output)
        let original = try Data(contentsOf: source)
        let written = try Data(contentsOf: output)
        #expect(written == original, "\(name): \(written.count) bytes vs \(original.count)")
        // Atomic write leaves no temporary file behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["out.safetensors"])
    }

    @Test("sharded save matches save_pretrained's shards and index byte for byte")
    func shardedWrite() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let data = try Data(contentsOf: safetensorsFolder.appendingPathComponent("sharded.json"))
        let order = (try JSONSerialization.jsonObject(with: data) as! [String: Any])["order"] as! [String]
        let expected = try loadExpected("safetensors/sharded.json")
        let tensors = order.map { SafetensorsWriter.Tensor(name: $0, shape: expected[$0]!.shape, values: expected[$0]!.values) }
        let urls = try SafetensorsWriter.writeSharded(tensors, to: folder, maxShardBytes: 128)
        #expect(urls.count == 4)
        let reference = safetensorsFolder.appendingPathComponent("sharded")
        for url in urls {
            let want = try Data(contentsOf: reference.appendingPathComponent(url.lastPathComponent))
            #expect(try Data(contentsOf: url) == want, "\(url.lastPathComponent) differs")
        }
        // Under the limit, a single model.safetensors and no index.
        let small = try makeTemporaryFolder()
        defer { removeTemporaryFolder(small) }
        let single = try SafetensorsWriter.writeSharded(tensors, to: small, maxShardBytes: 1 << 20)
        #expect(single.map(\.lastPathComponent) == ["model.safetensors"])
        #expect(try CheckpointReader(url: small).tensorNames.count == 5)
    }

    @Test("fp16 and bf16 output rounds to nearest even like the hardware conversion")
    func halfRounding() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        // Random bit patterns (all exponents, NaNs and infinities included) plus hand-picked ties.
        var rng = SystemRandomNumberGenerator()
        var values = (0..<100_000).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)) }
        values += [0, -0, 65504, 65519.99, 65520, 1e-8, 2.98e-8, 2.99e-8, 5.96e-8, 6.1e-5, 1 + 1.0 / 2048, 1 + 3.0 / 2048,
                   .infinity, -.infinity, .greatestFiniteMagnitude, Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000)]
        let url = folder.appendingPathComponent("h.safetensors")
        try SafetensorsWriter.write([
            .init(name: "h", shape: [values.count], values: values, dtype: .float16),
            .init(name: "b", shape: [values.count], values: values, dtype: .bfloat16),
        ], metadata: nil, to: url)
        let file = try SafetensorsFile(url: url)
        let halves = try file.withUnsafeBytes(of: "h") { Array($0.bindMemory(to: UInt16.self)) }
        let bfloats = try file.withUnsafeBytes(of: "b") { Array($0.bindMemory(to: UInt16.self)) }
        for (i, value) in values.enumerated() {
            #if !(os(macOS) && arch(x86_64))
            let want = Float16(value)
            if want.isNaN {
                #expect(Float16(bitPattern: halves[i]).isNaN)
            } else if halves[i] != want.bitPattern {
                Issue.record("fp16 of \(value) (0x\(String(value.bitPattern, radix: 16))): \(halves[i]) vs \(want.bitPattern)")
                break
            }
            #endif
            // bf16: the nearest-even rounding of the top 16 bits, checked through the exact decoding.
            let decoded = Float(bitPattern: UInt32(bfloats[i]) << 16)
            if value.isNaN { #expect(decoded.isNaN); continue }
            let lower = Float(bitPattern: value.bitPattern & 0xFFFF_0000)
            let upper = Float(bitPattern: (value.bitPattern & 0xFFFF_0000) &+ 0x1_0000)
            let remainder = value.bitPattern & 0xFFFF
            let wantBF: Float = remainder > 0x8000 || (remainder == 0x8000 && (value.bitPattern >> 16) & 1 == 1) ? upper : lower
            if decoded.bitPattern != wantBF.bitPattern {
                Issue.record("bf16 of \(value): \(decoded) vs \(wantBF)")
                break
            }
        }
        // And the values read back are the rounded ones.
        let (_, back) = try file.loadFloat32("h")
        let readBack = back.toArray()
        #expect(readBack[100_000 + 2] == 65504)  // the largest half, exact
        #expect(readBack[100_000 + 3] == 65504)  // just below the midpoint to infinity
        #expect(readBack[100_000 + 4] == .infinity)  // 65520 is the tie, rounding to even = infinity
        #expect(readBack[100_000 + 6] == 0)  // 2.98e-8 is under half the smallest subnormal
        #expect(readBack[100_000 + 7] == Float(bitPattern: 0x3380_0000))  // 2.99e-8 rounds up to 2^-24
    }

    @Test("inconsistent tensors and unwritable places are reported")
    func writerErrors() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let url = folder.appendingPathComponent("x.safetensors")
        let bad: [[SafetensorsWriter.Tensor]] = [
            [.init(name: "a", shape: [2, 2], values: [1, 2, 3])],
            [.init(name: "a", shape: [1], values: [1]), .init(name: "a", shape: [1], values: [2])],
            [.init(name: "__metadata__", shape: [1], values: [1])],
            [.init(name: "a", shape: [1], values: [1], dtype: .int32)],
        ]
        for tensors in bad {
            guard case .invalidArgument? = expectModelIOError({ try SafetensorsWriter.write(tensors, metadata: nil, to: url) }) else {
                Issue.record("expected .invalidArgument"); continue
            }
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
        let nowhere = folder.appendingPathComponent("missing/x.safetensors")
        guard case .io? = expectModelIOError({ try SafetensorsWriter.write([], metadata: nil, to: nowhere) }) else {
            Issue.record("expected .io"); return
        }
    }
}
