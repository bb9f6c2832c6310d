// Page decompression through Debian's libraries: snappy (C API), zstd and zlib (GZIP).
import CCompression

/// Codec names as parquet.thrift spells them, for messages.
func codecName(_ codec: Int32) -> String {
    switch codec {
    case 0: return "UNCOMPRESSED"
    case 1: return "SNAPPY"
    case 2: return "GZIP"
    case 3: return "LZO"
    case 4: return "BROTLI"
    case 5: return "LZ4"
    case 6: return "ZSTD"
    case 7: return "LZ4_RAW"
    default: return "codec \(codec)"
    }
}

/// Largest decompressed page accepted. Writers cut pages at about 1 MiB; a single huge value can make
/// one larger, but a page header claiming more than this is taken as damage rather than allocated.
let maximumPageBytes = 1 << 30

/// Calls `body` with the decompressed bytes of `source`, which must come to exactly `size` bytes.
/// UNCOMPRESSED pages are passed through without a copy.
func withDecompressed<R>(codec: Int32, _ source: UnsafeRawBufferPointer, size: Int,
                         _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
    guard size >= 0, size <= maximumPageBytes else {
        throw ThriftError("page claims \(size) bytes uncompressed; at most \(maximumPageBytes) are accepted")
    }
    if codec == 0 { return try body(source) }
    // An all-null page compresses an empty buffer; the libraries need no call to give it back.
    if size == 0 { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
    let output = try decompress(codec: codec, source, size: size)
    return try output.withUnsafeBytes { try body($0) }
}

private func decompress(codec: Int32, _ source: UnsafeRawBufferPointer, size: Int) throws -> [UInt8] {
    let input = source.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
    switch codec {
    case 1:
        // Snappy's stream starts with its own uncompressed length: checking it first means a lying
        // page header can neither overflow the buffer nor make us allocate for nothing.
        var length = 0
        guard snappy_uncompressed_length(input.assumingMemoryBound(to: CChar.self), source.count, &length) == SNAPPY_OK,
              length == size else {
            throw ThriftError("SNAPPY data is corrupt or does not decompress to the \(size) bytes the page header says")
        }
        return try [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var produced = size
            let status = snappy_uncompress(input.assumingMemoryBound(to: CChar.self), source.count,
                                           UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self),
                                           &produced)
            guard status == SNAPPY_OK, produced == size else { throw ThriftError("SNAPPY data is corrupt") }
            count = size
        }
    case 6:
        // A frame that records its content size must agree with the header before we allocate.
        let declared = ZSTD_getFrameContentSize(input, source.count)
        if declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR && declared != UInt64(size) {
            throw ThriftError("ZSTD frame holds \(declared) bytes; the page header says \(size)")
        }
        return try [UInt8](unsafeUninitializedCapacity: max(size, 1)) { buffer, count in
            let produced = ZSTD_decompress(buffer.baseAddress, size, input, source.count)
            if ZSTD_isError(produced) != 0 {
                throw ThriftError("ZSTD data is corrupt (\(String(cString: ZSTD_getErrorName(produced))))")
            }
            guard produced == size else {
                throw ThriftError("ZSTD data decompresses to \(produced) bytes; the page header says \(size)")
            }
            count = size
        }
    case 2:
        // DEFLATE expands at most about 1032:1; a claim beyond that cannot be honest.
        guard size <= source.count * 1032 + 1024 else {
            throw ThriftError("GZIP page of \(source.count) bytes cannot decompress to the \(size) its header says")
        }
        return try gunzip(source, size: size)
    default:
        throw ThriftError("compression \(codecName(codec)) is not supported (SNAPPY, ZSTD, GZIP and UNCOMPRESSED are)")
    }
}

/// GZIP (or zlib) data, possibly several concatenated members, into exactly `size` bytes.
private func gunzip(_ source: UnsafeRawBufferPointer, size: Int) throws -> [UInt8] {
    var output = [UInt8](repeating: 0, count: size)
    var stream = z_stream()
    // 15 + 32: the largest window, and detect a gzip or zlib header automatically.
    guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw ThriftError("zlib could not start")
    }
    defer { inflateEnd(&stream) }
    let produced: Int = try output.withUnsafeMutableBytes { out in
        stream.next_in = UnsafeMutablePointer(mutating: (source.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!).assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(source.count)
        stream.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(size)
        while true {
            let status = CCompression.inflate(&stream, Z_NO_FLUSH)
            if status == Z_STREAM_END {
                if stream.avail_in > 0 && stream.avail_out > 0 {
                    guard inflateReset(&stream) == Z_OK else { throw ThriftError("GZIP data is corrupt") }
                    continue
                }
                break
            }
            if status == Z_BUF_ERROR && stream.avail_out == 0 { break }
            guard status == Z_OK else {
                let detail = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                throw ThriftError("GZIP data is corrupt (\(detail))")
            }
            if stream.avail_in == 0 && stream.avail_out > 0 { break }
        }
        return size - Int(stream.avail_out)
    }
    guard produced == size else {
        throw ThriftError("GZIP data decompresses to \(produced) bytes; the page header says \(size)")
    }
    return output
}
