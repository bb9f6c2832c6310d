import AlignModelIO

/// TFRecord framing, the container of TensorBoard event files: each record is
///
///     uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes
///     data (length bytes)           | uint32 masked CRC-32C of the data
///
/// where a masked CRC is `((crc >> 15) | (crc << 17)) &+ 0xa282ead8` (TensorFlow masks the
/// checksum so a CRC of data that itself holds CRCs stays well distributed).
public enum TFRecord {
    /// The masked CRC-32C (Castagnoli) of `bytes`.
    public static func maskedCRC32C(_ bytes: [UInt8]) -> UInt32 {
        let crc = bytes.withUnsafeBytes { FileChecksum.crc32c($0) }
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// `data` framed as one record.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian, Array.init)
        var out = length
        out += bytesOf(maskedCRC32C(length))
        out += data
        out += bytesOf(maskedCRC32C(data))
        return out
    }

    /// The records of a whole file, every length and data checksum verified. Errors name the record
    /// and byte offset. A last record cut short (a writer killed mid-write) is an error too: callers
    /// that tolerate it can catch ``TensorBoardError/malformed(_:)``.
    public static func records(_ file: [UInt8]) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i < file.count {
            let index = out.count
            guard file.count - i >= 12 else { throw TensorBoardError.malformed("record \(index) at byte \(i): header cut short") }
            let header = Array(file[i..<i + 8])
            let length = littleEndian(file[i..<i + 8])
            guard UInt32(littleEndian(file[i + 8..<i + 12])) == maskedCRC32C(header) else {
                throw TensorBoardError.malformed("record \(index) at byte \(i): length checksum mismatch")
            }
            i += 12
            guard length <= UInt64(file.count - i), file.count - i - Int(length) >= 4 else {
                throw TensorBoardError.malformed("record \(index) at byte \(i - 12): \(length) data bytes announced, the file ends first")
            }
            let data = Array(file[i..<i + Int(length)])
            i += Int(length)
            guard UInt32(littleEndian(file[i..<i + 4])) == maskedCRC32C(data) else {
                throw TensorBoardError.malformed("record \(index) at byte \(i - Int(length) - 12): data checksum mismatch")
            }
            i += 4
            out.append(data)
        }
        return out
    }

    private static func bytesOf(_ value: UInt32) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian, Array.init)
    }

    private static func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}
