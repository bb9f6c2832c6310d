// Parquet's value and level encodings: PLAIN, the RLE/bit-packed hybrid (levels, dictionary indices,
// RLE booleans) and dictionary lookups. Every read is checked against the bytes present.
import AlignJSON

/// Encoding names as parquet.thrift spells them, for messages.
func encodingName(_ encoding: Int32) -> String {
    switch encoding {
    case 0: return "PLAIN"
    case 2: return "PLAIN_DICTIONARY"
    case 3: return "RLE"
    case 4: return "BIT_PACKED"
    case 5: return "DELTA_BINARY_PACKED"
    case 6: return "DELTA_LENGTH_BYTE_ARRAY"
    case 7: return "DELTA_BYTE_ARRAY"
    case 8: return "RLE_DICTIONARY"
    case 9: return "BYTE_STREAM_SPLIT"
    default: return "encoding \(encoding)"
    }
}

/// Bits needed for values 0...maxValue (the width of a level with that maximum).
func bitWidth(_ maxValue: Int) -> Int {
    maxValue == 0 ? 0 : Int.bitWidth - maxValue.leadingZeroBitCount
}

@inline(__always)
func loadLittleEndian<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, _ offset: Int, as: T.Type) -> T {
    T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
}

/// Decodes `count` values of the RLE/bit-packed hybrid encoding from `bytes` and appends them to
/// `output`; values above `maxValue` are an error (a level deeper than the schema allows, an index
/// past the dictionary is checked by the caller). Returns the bytes consumed.
@discardableResult
func decodeHybrid<T: FixedWidthInteger & UnsignedInteger>(_ bytes: UnsafeRawBufferPointer, bitWidth width: Int, count: Int,
                                                          maxValue: UInt32, into output: inout [T]) throws -> Int {
    guard width >= 0, width <= 32 else { throw ThriftError("bit width \(width) is out of range (0-32)") }
    // Runs can claim far more values than their bytes; reserve only what the bytes could hold packed.
    output.reserveCapacity(output.count + min(count, bytes.count * 8 + 64))
    if width == 0 {
        output.append(contentsOf: repeatElement(0, count: count))
        return 0
    }
    let mask: UInt64 = (1 << UInt64(width)) - 1
    var position = 0
    var produced = 0
    let end = bytes.count
    while produced < count {
        // The run header: a ULEB128 varint.
        var header: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else {
                throw ThriftError("RLE/bit-packed data ends after \(produced) of its \(count) values")
            }
            let b = bytes[position]
            position += 1
            guard shift < 64 else { throw ThriftError("RLE run header is too long") }
            header |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
        }
        if header & 1 == 0 {
            // RLE run: one value, little-endian in ceil(width/8) bytes, repeated.
            let runLength = header >> 1
            let valueBytes = (width + 7) / 8
            guard valueBytes <= end - position else { throw ThriftError("RLE run value runs past the data") }
            var value: UInt64 = 0
            for k in 0..<valueBytes { value |= UInt64(bytes[position + k]) << UInt64(8 * k) }
            position += valueBytes
            guard value <= UInt64(maxValue) else { throw ThriftError("value \(value) is larger than the maximum \(maxValue)") }
            let take = Int(min(runLength, UInt64(count - produced)))
            output.append(contentsOf: repeatElement(T(truncatingIfNeeded: value), count: take))
            produced += take
        } else {
            // Bit-packed run: groups of 8 values, least significant bit first.
            let groups = header >> 1
            guard groups <= UInt64(end) else { throw ThriftError("bit-packed run is longer than the data") }
            let runValues = Int(groups) * 8
            let take = min(runValues, count - produced)
            let runBytes = Int(groups) * width
            // The last run may stop short of its padding; the values we need must be there.
            let neededBytes = (take * width + 7) / 8
            guard neededBytes <= end - position else { throw ThriftError("bit-packed run runs past the data") }
            var bit = position * 8
            for _ in 0..<take {
                let byteIndex = bit >> 3
                let raw: UInt64
                if byteIndex + 8 <= end {
                    raw = loadLittleEndian(bytes, byteIndex, as: UInt64.self)
                } else {
                    var gathered: UInt64 = 0
                    for k in 0..<min(8, end - byteIndex) { gathered |= UInt64(bytes[byteIndex + k]) << UInt64(8 * k) }
                    raw = gathered
                }
                let value = (raw >> UInt64(bit & 7)) & mask
                guard value <= UInt64(maxValue) else {
                    throw ThriftError("value \(value) is larger than the maximum \(maxValue)")
                }
                output.append(T(truncatingIfNeeded: value))
                bit += width
            }
            produced += take
            position = min(end, position + runBytes)
        }
    }
    return position
}

/// Converts stored values into JSON, per leaf.
struct ValueConverter {
    let kind: ValueKind
    let typeLength: Int

    @inline(__always)
    func text(_ raw: UnsafeRawBufferPointer) throws -> JSONValue {
        guard let s = String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw ThriftError("a value is not valid UTF-8 text")
        }
        return .string(s)
    }

    /// A BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY value.
    func bytes(_ raw: UnsafeRawBufferPointer) throws -> JSONValue {
        if case .float16 = kind, raw.count == 2 { return .double(Double(halfToFloat(loadLittleEndian(raw, 0, as: UInt16.self)))) }
        return try text(raw)
    }

    func int32(_ v: Int32) -> JSONValue {
        switch kind {
        case .uint32: return .integer(Int(UInt32(bitPattern: v)))
        case .decimal32(let scale): return .number(decimalNumber(Int64(v), scale: scale))
        default: return .integer(Int(v))
        }
    }

    func int64(_ v: Int64) -> JSONValue {
        switch kind {
        case .uint64: return .number(JSONNumber(text: String(UInt64(bitPattern: v))))
        case .decimal64(let scale): return .number(decimalNumber(v, scale: scale))
        default: return .integer(Int(v))
        }
    }

    /// Decodes `count` PLAIN values from `bytes` into `output`.
    func plain(_ bytes: UnsafeRawBufferPointer, type: PhysicalType, count: Int, into output: inout [JSONValue]) throws {
        func need(_ size: Int) throws {
            guard size <= bytes.count else {
                throw ThriftError("PLAIN data holds \(bytes.count) bytes; \(count) \(type) values need \(size)")
            }
        }
        switch type {
        case .boolean:
            try need((count + 7) / 8)
            output.reserveCapacity(output.count + count)
            for i in 0..<count { output.append(.bool(bytes[i >> 3] >> UInt8(i & 7) & 1 == 1)) }
        case .int32:
            try need(count * 4)
            output.reserveCapacity(output.count + count)
            for i in 0..<count { output.append(int32(loadLittleEndian(bytes, i * 4, as: Int32.self))) }
        case .int64:
            try need(count * 8)
            output.reserveCapacity(output.count + count)
            for i in 0..<count { output.append(int64(loadLittleEndian(bytes, i * 8, as: Int64.self))) }
        case .float:
            try need(count * 4)
            output.reserveCapacity(output.count + count)
            for i in 0..<count {
                let f = Float(bitPattern: loadLittleEndian(bytes, i * 4, as: UInt32.self))
                output.append(.double(Double(f)))
            }
        case .double:
            try need(count * 8)
            output.reserveCapacity(output.count + count)
            for i in 0..<count { output.append(.double(Double(bitPattern: loadLittleEndian(bytes, i * 8, as: UInt64.self)))) }
        case .byteArray:
            // Each value is at least its 4-byte length, which bounds the count before reserving.
            try need(count * 4)
            output.reserveCapacity(output.count + count)
            var position = 0
            for _ in 0..<count {
                guard bytes.count - position >= 4 else { throw ThriftError("PLAIN BYTE_ARRAY data ends inside a length") }
                let length = Int(loadLittleEndian(bytes, position, as: UInt32.self))
                position += 4
                guard length <= bytes.count - position else {
                    throw ThriftError("a \(length)-byte value runs past the end of its page")
                }
                output.append(try text(UnsafeRawBufferPointer(rebasing: bytes[position..<position + length])))
                position += length
            }
        case .fixedLenByteArray:
            guard typeLength > 0 else { throw ThriftError("FIXED_LEN_BYTE_ARRAY has length \(typeLength)") }
            let (total, overflow) = count.multipliedReportingOverflow(by: typeLength)
            guard !overflow else { throw ThriftError("FIXED_LEN_BYTE_ARRAY page is too large") }
            try need(total)
            output.reserveCapacity(output.count + count)
            for i in 0..<count {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[i * typeLength..<(i + 1) * typeLength])
                if case .float16 = kind {
                    output.append(.double(Double(halfToFloat(loadLittleEndian(raw, 0, as: UInt16.self)))))
                } else {
                    output.append(try text(raw))
                }
            }
        case .int96:
            throw ThriftError("INT96 values are not supported")
        }
    }
}

/// `unscaled × 10^-scale` as an exact decimal literal.
func decimalNumber(_ unscaled: Int64, scale: Int) -> JSONNumber {
    let negative = unscaled < 0
    var digits = String(unscaled.magnitude)
    if scale <= 0 {
        if unscaled != 0 { digits += String(repeating: "0", count: min(-scale, 400)) }
        return JSONNumber(text: (negative ? "-" : "") + digits)
    }
    if digits.count <= scale { digits = String(repeating: "0", count: scale - digits.count + 1) + digits }
    let split = digits.index(digits.endIndex, offsetBy: -scale)
    return JSONNumber(text: (negative ? "-" : "") + digits[..<split] + "." + digits[split...])
}

/// IEEE half precision to single (FLOAT16 columns).
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exponent = Int(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign != 0 ? -magnitude : magnitude
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
}

/// DELTA_BINARY_PACKED: a header (block size, miniblocks per block, value count, first value), then
/// blocks of a minimum delta and bit-packed miniblocks of deltas above it. Appends the values (as
/// 64-bit; 32-bit columns truncate, which wraps exactly as the writer's 32-bit arithmetic did) and
/// returns the bytes consumed, which DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY need to find what
/// follows.
@discardableResult
func decodeDeltaBinaryPacked(_ bytes: UnsafeRawBufferPointer, into output: inout [Int64]) throws -> Int {
    var position = 0
    func uleb() throws -> UInt64 {
        var result: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard position < bytes.count else { throw ThriftError("DELTA_BINARY_PACKED data ends inside a header") }
            let b = bytes[position]
            position += 1
            guard shift < 64 else { throw ThriftError("DELTA_BINARY_PACKED header integer is too long") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }
    func zigzag() throws -> Int64 {
        let v = try uleb()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }
    let blockSize = try uleb(), miniblocks = try uleb(), total = try uleb()
    var value = try zigzag()
    guard blockSize > 0, blockSize % 128 == 0, blockSize <= 1 << 20, miniblocks > 0, blockSize % miniblocks == 0,
          (blockSize / miniblocks) % 32 == 0 else {
        throw ThriftError("DELTA_BINARY_PACKED block size \(blockSize) with \(miniblocks) miniblocks is invalid")
    }
    guard total <= UInt64(maximumChunkEntries) else { throw ThriftError("DELTA_BINARY_PACKED claims \(total) values") }
    let count = Int(total)
    if count == 0 { return position }
    output.reserveCapacity(output.count + min(count, bytes.count * 8 + 64))
    output.append(value)
    var produced = 1
    let perMiniblock = Int(blockSize / miniblocks)
    while produced < count {
        let minDelta = try zigzag()
        guard Int(miniblocks) <= bytes.count - position else { throw ThriftError("DELTA_BINARY_PACKED bit widths run past the data") }
        let widthsAt = position
        position += Int(miniblocks)
        for m in 0..<Int(miniblocks) where produced < count {
            let width = Int(bytes[widthsAt + m])
            guard width <= 64 else { throw ThriftError("DELTA_BINARY_PACKED bit width \(width) is out of range") }
            let size = perMiniblock * width / 8
            let take = min(perMiniblock, count - produced)
            // Only the values needed must be present; the last miniblock's padding may be cut.
            guard (take * width + 7) / 8 <= bytes.count - position else {
                throw ThriftError("DELTA_BINARY_PACKED miniblock runs past the data")
            }
            for i in 0..<take {
                var delta: UInt64 = 0
                if width > 0 {
                    let bit = i * width
                    // Gather up to 9 bytes (a 64-bit value at any bit offset).
                    var k = 0
                    while k * 8 < width + (bit & 7) {
                        let index = position + (bit >> 3) + k
                        if index < bytes.count {
                            let byte = UInt64(bytes[index])
                            let shift = k * 8 - (bit & 7)
                            delta |= shift >= 0 ? byte << UInt64(shift) : byte >> UInt64(-shift)
                        }
                        k += 1
                    }
                    if width < 64 { delta &= (1 << UInt64(width)) - 1 }
                }
                value = value &+ minDelta &+ Int64(bitPattern: delta)
                output.append(value)
            }
            produced += take
            position = min(bytes.count, position + size)
        }
    }
    return position
}
