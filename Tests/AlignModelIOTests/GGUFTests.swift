// GGUF reading, dequantisation, validation and writing.
import AlignKernels
import Foundation
import Testing
@testable import AlignModelIO

private let quantsURL = fixturesURL.appendingPathComponent("gguf/quants.gguf")

@Suite("GGUF reading")
struct GGUFReadingTests {
    @Test("metadata of every value type reads back as gguf-py wrote it")
    func metadata() throws {
        let file = try GGUFFile(url: quantsURL)
        #expect(file.version == 3)
        #expect(file.architecture == "test")
        #expect(file.alignment == 32)
        let m = file.metadata
        #expect(m["test.u8"] == .uint8(200))
        #expect(m["test.i8"] == .int8(-100))
        #expect(m["test.u16"] == .uint16(60000))
        #expect(m["test.i16"] == .int16(-30000))
        #expect(m["test.u32"] == .uint32(4_000_000_000))
        #expect(m["test.i32"] == .int32(-2_000_000_000))
        #expect(m["test.f32"] == .float32(0.15625))
        #expect(m["test.u64"] == .uint64(1 << 63 + 5))
        #expect(m["test.i64"] == .int64(-(1 << 62)))
        #expect(m["test.f64"] == .float64(-1.0 / 3.0))
        #expect(m["test.true"] == .bool(true) && m["test.false"] == .bool(false))
        #expect(m["test.string"]?.stringValue == "héllo ✓")
        #expect(m["test.strings"]?.stringArrayValue == ["a", "", "Ġworld", "日本"])
        #expect(m["test.ints"]?.arrayValue?.compactMap(\.intValue) == [1, -2, 3])
        #expect(m["test.floats"]?.arrayValue?.compactMap(\.doubleValue) == [0.5, -1.25])
        #expect(m["test.u64"]?.intValue == nil)  // does not fit in Int
        #expect(m["test.u32"]?.intValue == 4_000_000_000)
        #expect(file.metadataKeys.first == "GGUF.version" || file.metadataKeys.first == "general.architecture")
    }

    @Test("every supported type dequantises to gguf-py's values")
    func dequantisation() throws {
        let file = try GGUFFile(url: quantsURL)
        let expected = try loadExpected("gguf/quants.json")
        #expect(file.tensors.count == expected.count)
        for info in file.tensors {
            let want = try #require(expected[info.name])
            let (shape, storage) = try file.loadFloat32(info.name)
            #expect(shape == want.shape, "\(info.name)")
            let got = storage.toArray()
            let scale = want.values.map(abs).max() ?? 1
            let error = maxAbsDifference(got, want.values)
            #expect(error <= 1e-6 * max(scale, 1), "\(info.name) (\(info.type)): max error \(error)")
        }
        #expect(file.tensor(named: "plain.f32")?.dimensions == [4, 3, 2])
        #expect(file.tensor(named: "plain.f32")?.shape == [2, 3, 4])
        #expect(file.tensor(named: "k.q6_k")?.type == .q6_K)
    }

    @Test("a version 2 file (same layout) opens too; versions 1 and 4 are refused")
    func versions() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        var bytes = try Data(contentsOf: quantsURL)
        for (version, accepted) in [(UInt8(2), true), (1, false), (4, false)] {
            bytes[4] = version
            let url = folder.appendingPathComponent("v\(version).gguf")
            try bytes.write(to: url)
            if accepted {
                let file = try GGUFFile(url: url)
                #expect(file.version == 2 && file.tensors.count == 13)
            } else {
                guard case .unsupported(_, let reason)? = expectModelIOError({ _ = try GGUFFile(url: url) }) else {
                    Issue.record("version \(version) should be unsupported"); continue
                }
                #expect(reason.contains("version \(version)"))
            }
        }
        // A big-endian file has the same magic bytes but a byte-swapped version.
        bytes.replaceSubrange(4..<8, with: [0, 0, 0, 3])
        let bigEndian = folder.appendingPathComponent("be.gguf")
        try bytes.write(to: bigEndian)
        #expect(expectModelIOError({ _ = try GGUFFile(url: bigEndian) })?.reason.contains("big-endian") == true)
    }
}

@Suite("GGUF validation")
struct GGUFValidationTests {
    @Test("a file truncated anywhere throws, naming what was cut")
    func truncation() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let bytes = try Data(contentsOf: quantsURL)
        let file = try GGUFFile(url: quantsURL)
        // Every length through the fixed header and first key, a sample of the rest of the
        // header, and of the data up to the last tensor's final byte (what follows it is only
        // alignment padding, which a reader may do without).
        let dataEnd = file.dataOffset + file.tensors.map { $0.offset + $0.byteCount }.max()!
        var lengths = Array(0..<64)
        lengths += stride(from: 64, to: file.dataOffset, by: 7)
        lengths += stride(from: file.dataOffset, to: dataEnd, by: 97)
        lengths.append(dataEnd - 1)
        let url = folder.appendingPathComponent("cut.gguf")
        for length in lengths {
            try bytes.prefix(length).write(to: url)
            let error = expectModelIOError { _ = try GGUFFile(url: url) }
            guard case .malformed(let path, let reason)? = error else {
                Issue.record("length \(length): \(String(describing: error))"); return
            }
            #expect(path == url.path)
            if length < 4 { #expect(reason.contains("truncated")) }
            #expect(reason.contains("truncated") || reason.contains("ends past the end") || reason.contains("impossible"),
                    "length \(length): \(reason)")
        }
    }

    @Test("bad magic, impossible counts, bad offsets and unknown types are rejected")
    func corruptHeaders() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let original = try Data(contentsOf: quantsURL)
        let file = try GGUFFile(url: quantsURL)
        func check(_ patch: (inout Data) -> Void, _ reason: String) throws {
            var bytes = original
            patch(&bytes)
            let url = folder.appendingPathComponent("bad.gguf")
            try bytes.write(to: url)
            let error = expectModelIOError { _ = try GGUFFile(url: url) }
            #expect(error?.reason.contains(reason) == true, "\(reason): \(String(describing: error))")
        }
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in data: inout Data) {
            withUnsafeBytes(of: value.littleEndian) { data.replaceSubrange(offset..<offset + MemoryLayout<T>.size, with: $0) }
        }
        try check({ $0[0] = UInt8(ascii: "X") }, "not a GGUF file")
        try check({ put(UInt64(1) << 40, at: 8, in: &$0) }, "tensor count")
        try check({ put(UInt64(1) << 40, at: 16, in: &$0) }, "metadata count")
        // The first key's length (right after the 24-byte header) made enormous.
        try check({ put(UInt64(1) << 50, at: 24, in: &$0) }, "claims")
        // The first tensor info sits just before the data; locate it by its name.
        let nameBytes = Data("plain.f32".utf8)
        let nameAt = original.range(of: nameBytes)!.upperBound
        // n_dims (u32) follows the name; then 3 dims (u64), type (u32), offset (u64).
        try check({ put(UInt32(5), at: nameAt, in: &$0) }, "at most 4")
        try check({ put(UInt32(77), at: nameAt + 4 + 24, in: &$0) }, "unknown GGML type 77")
        try check({ put(UInt64(3), at: nameAt + 4 + 24 + 4, in: &$0) }, "not a multiple of the alignment")
        try check({ put(UInt64(1) << 40, at: nameAt + 4 + 24 + 4, in: &$0) }, "ends past the end")
        // Point "plain.f32" (96 bytes) at the data of the next tensor: overlap.
        let second = file.tensors[1].offset
        try check({ put(UInt64(second), at: nameAt + 4 + 24 + 4, in: &$0) }, "overlaps")
        // A Q4_0 row length that is not a multiple of 32.
        let q4 = original.range(of: Data("legacy.q4_0".utf8))!.upperBound
        try check({ put(UInt64(48), at: q4 + 4, in: &$0) }, "not a multiple of the Q4_0 block size")
        #expect(GGMLType.q4_0.description == "Q4_0" && GGMLType.q6_K.description == "Q6_K")
    }

    @Test("random byte corruption never crashes the reader")
    func fuzz() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let original = try Data(contentsOf: quantsURL)
        let headerEnd = try GGUFFile(url: quantsURL).dataOffset
        var generator = SystemRandomNumberGenerator()
        let url = folder.appendingPathComponent("fuzz.gguf")
        var opened = 0
        for _ in 0..<300 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<headerEnd, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            try bytes.write(to: url)
            do {
                let file = try GGUFFile(url: url)
                opened += 1
                for tensor in file.tensors where tensor.type.canDequantize {
                    _ = try file.loadFloat32(tensor.name)
                }
            } catch is ModelIOError {
                // Expected for most corruptions.
            }
        }
        #expect(opened < 300)
    }
}

@Suite("GGUF writing")
struct GGUFWritingTests {
    @Test("F32 and F16 tensors and every metadata type round-trip through the writer")
    func roundTrip() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let source = try GGUFFile(url: quantsURL)
        let metadata = source.metadataKeys.map { ($0, source.metadata[$0]!) }
        let cube = try source.loadFloat32("plain.f32")
        let matrix = try source.loadFloat32("legacy.q8_0")
        let url = folder.appendingPathComponent("out.gguf")
        try GGUFWriter.write(metadata: metadata, tensors: [
            .init(name: "cube", shape: cube.shape, storage: cube.storage, type: .f32),
            .init(name: "matrix16", shape: matrix.shape, storage: matrix.storage, type: .f16),
            .init(name: "vector", shape: [5], storage: TensorStorage(copying: [1, 2, 3, 4, 5])),
        ], to: url)
        let back = try GGUFFile(url: url)
        #expect(back.metadataKeys == source.metadataKeys)
        #expect(back.metadata == source.metadata)
        #expect(back.tensors.map(\.name) == ["cube", "matrix16", "vector"])
        #expect(back.tensors.allSatisfy { $0.offset % 32 == 0 })
        #expect(try back.loadFloat32("cube").storage.toArray() == cube.storage.toArray())
        let (shape16, values16) = try back.loadFloat32("matrix16")
        #expect(shape16 == [3, 64])
        let want16 = matrix.storage.toArray().map { halfBitsToFloat(floatToHalfBits($0)) }
        #expect(values16.toArray() == want16)
        #expect(try back.loadFloat32("vector").storage.toArray() == [1, 2, 3, 4, 5])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["out.gguf"])
    }

    @Test("inconsistent inputs are refused")
    func writerErrors() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let url = folder.appendingPathComponent("x.gguf")
        let storage = TensorStorage(copying: [1, 2, 3, 4])
        let cases: [([(key: String, value: GGUFValue)], [GGUFWriter.Tensor])] = [
            ([("general.alignment", .uint32(3))], []),
            ([("a", .int8(1)), ("a", .int8(2))], []),
            ([("a", .array(.int32, [.int32(1), .string("x")]))], []),
            ([], [.init(name: "t", shape: [3], storage: storage)]),
            ([], [.init(name: "t", shape: [4], storage: storage, type: .q4_0)]),
            ([], [.init(name: "t", shape: [4], storage: storage), .init(name: "t", shape: [4], storage: storage)]),
        ]
        for (metadata, tensors) in cases {
            guard case .invalidArgument? = expectModelIOError({ try GGUFWriter.write(metadata: metadata, tensors: tensors, to: url) }) else {
                Issue.record("expected .invalidArgument"); continue
            }
        }
        // A custom alignment is honoured.
        try GGUFWriter.write(metadata: [("general.alignment", .uint32(64))], tensors: [
            .init(name: "a", shape: [3], storage: TensorStorage(copying: [1, 2, 3])),
            .init(name: "b", shape: [2, 2], storage: storage),
        ], to: url)
        let file = try GGUFFile(url: url)
        #expect(file.alignment == 64 && file.dataOffset % 64 == 0 && file.tensor(named: "b")?.offset == 64)
        #expect(try file.loadFloat32("b").storage.toArray() == [1, 2, 3, 4])
    }
}
