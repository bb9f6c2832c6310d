// Read-only memory mapping of a whole file.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory, unmapped when the last reference goes away.
///
/// Mapping instead of reading means opening a multi-gigabyte checkpoint costs nothing until tensors
/// are touched, and only the pages of the tensors actually loaded are read from disk.
final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with (used in error messages).
    let path: String
    /// The first byte. For an empty file this points at a static dummy byte and ``size`` is 0.
    let base: UnsafeRawPointer
    /// File size in bytes.
    let size: Int
    private let mapped: Bool

    /// Maps the file at `path`; throws ``ModelIOError/io(path:reason:)`` when it cannot be opened.
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelIOError.io(path: path, reason: "cannot open: \(errnoDescription())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelIOError.io(path: path, reason: "cannot stat: \(errnoDescription())")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelIOError.io(path: path, reason: "not a regular file")
        }
        size = Int(info.st_size)
        if size == 0 {
            // mmap rejects zero-length mappings; an empty file is reported as too short by the parsers.
            base = UnsafeRawPointer(MappedFile.emptyByte)
            mapped = false
            return
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw ModelIOError.io(path: path, reason: "cannot memory-map \(size) bytes: \(errnoDescription())")
        }
        base = UnsafeRawPointer(address)
        mapped = true
    }

    deinit {
        if mapped { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// The mapped bytes.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    private static let emptyByte: UnsafeMutableRawPointer = .allocate(byteCount: 1, alignment: 8)
}

/// Writes `data` to `url` atomically: a temporary file in the same folder is written, synced and
/// renamed over the destination, so a crash or full disk never leaves a half-written checkpoint
/// under the final name. `body` receives a sink that writes bytes to the temporary file.
func writeAtomically(to url: URL, _ body: (FileSink) throws -> Void) throws {
    let path = url.path
    let folder = url.deletingLastPathComponent().path
    let temporary = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
        throw ModelIOError.io(path: path, reason: "cannot create temporary file \(temporary): \(errnoDescription())")
    }
    var renamed = false
    defer {
        if !renamed { unlink(temporary) }
    }
    do {
        let sink = FileSink(fd: fd, path: path)
        try body(sink)
        try sink.flush()
        guard fsync(fd) == 0 else { throw ModelIOError.io(path: path, reason: "fsync failed: \(errnoDescription())") }
    } catch {
        close(fd)
        throw error
    }
    guard close(fd) == 0 else { throw ModelIOError.io(path: path, reason: "close failed: \(errnoDescription())") }
    guard rename(temporary, path) == 0 else {
        throw ModelIOError.io(path: path, reason: "cannot rename \(temporary) into place: \(errnoDescription())")
    }
    renamed = true
    // Sync the folder so the rename itself survives a power loss.
    let dirfd = open(folder, O_RDONLY | O_CLOEXEC)
    if dirfd >= 0 {
        _ = fsync(dirfd)
        close(dirfd)
    }
}

/// A buffered writer over a file descriptor (used by the atomic writers).
final class FileSink {
    private let fd: Int32
    private let path: String
    private var buffer: [UInt8] = []
    private static let bufferLimit = 1 << 20
    /// Bytes handed to the sink so far.
    private(set) var offset = 0

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        buffer.reserveCapacity(FileSink.bufferLimit)
    }

    /// Appends `bytes`; large writes bypass the buffer.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        offset += bytes.count
        if buffer.count + bytes.count <= FileSink.bufferLimit {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count >= FileSink.bufferLimit {
            try writeFully(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// Appends the bytes of an array.
    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends `count` zero bytes (alignment padding).
    func writeZeros(_ count: Int) throws {
        if count > 0 { try write([UInt8](repeating: 0, count: count)) }
    }

    /// Writes out anything buffered.
    func flush() throws {
        if buffer.isEmpty { return }
        try buffer.withUnsafeBytes { try writeFully($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeFully(_ bytes: UnsafeRawBufferPointer) throws {
        guard var cursor = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            #if canImport(Glibc)
            let written = Glibc.write(fd, cursor, remaining)
            #else
            let written = Darwin.write(fd, cursor, remaining)
            #endif
            if written < 0 {
                if errno == EINTR { continue }
                throw ModelIOError.io(path: path, reason: "write failed: \(errnoDescription())")
            }
            cursor += written
            remaining -= written
        }
    }
}
