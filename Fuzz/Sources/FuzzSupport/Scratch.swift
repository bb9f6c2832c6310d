// Shared helpers for the fuzz targets.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private scratch folder per fuzzing process. The readers under test take file paths (they
/// memory-map or stream real files), so each input is written to a file here first; the folder
/// lives in /dev/shm when there is one, so this costs a few system calls, not disk I/O.
public enum Scratch {
    /// The folder, created on first use and removed when the process exits normally.
    public static let folder: String = {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NSTemporaryDirectory()
        let path = base + "/align-fuzz-\(getpid())"
        mkdir(path, 0o700)
        atexit { removeScratchFolder() }
        return path
    }()

    /// Writes `count` bytes at `start` to `folder/name` (replacing it) and returns its URL.
    public static func write(_ start: UnsafePointer<UInt8>?, _ count: Int, name: String) -> URL {
        let path = folder + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        precondition(fd >= 0, "cannot create \(path)")
        var written = 0
        while written < count, let start {
            let n = Glibc.write(fd, start + written, count - written)
            precondition(n > 0, "cannot write \(path)")
            written += n
        }
        close(fd)
        return URL(fileURLWithPath: path)
    }

    /// Removes `folder/name` if it exists (so a file from an earlier input cannot leak into the next).
    public static func remove(_ name: String) {
        unlink(folder + "/" + name)
    }
}

private func removeScratchFolder() {
    try? FileManager.default.removeItem(atPath: Scratch.folder)
}

/// The input as a buffer (an empty one when libFuzzer passes no bytes).
public func inputBytes(_ start: UnsafePointer<UInt8>?, _ count: Int) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: count > 0 ? start : nil, count: count > 0 ? count : 0)
}
