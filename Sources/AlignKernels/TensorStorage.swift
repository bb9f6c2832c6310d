import Foundation
#if os(Linux)
import CMalloc
#endif

/// Where a tensor's memory lives. Only the CPU exists today; a CUDA backend adds a case and its
/// kernels behind the same ``TensorStorage`` API, so callers above the kernels never change.
public enum Device: Hashable, Sendable, CustomStringConvertible {
    case cpu

    public var description: String {
        switch self {
        case .cpu: return "cpu"
        }
    }
}

/// A contiguous, 64-byte-aligned buffer of `Float`, owned by one final class so that tensors share it
/// by reference and never copy on write. Everything above the kernels sees memory only through this.
///
/// The buffer is uninitialised after ``init(count:)``; use ``init(zeros:)`` or ``init(copying:)``
/// when the contents matter.
public final class TensorStorage: @unchecked Sendable {
    /// The first element. Valid for ``count`` elements for the lifetime of the storage.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of `Float` elements.
    public let count: Int
    /// The device holding the memory.
    public let device: Device
    /// Memory not owned by this storage (a memory-mapped file, say) is released by this closure.
    private let release: (() -> Void)?

    /// Allocates `count` uninitialised floats (at least one, so the pointer is never null).
    public init(count: Int) {
        precondition(count >= 0, "negative element count \(count)")
        _ = TensorStorage.allocatorConfigured
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let status = posix_memalign(&raw, 64, (bytes + 63) & ~63)
        guard status == 0, let raw else { fatalError("out of memory allocating \(bytes) bytes") }
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        self.device = .cpu
        self.release = nil
        TensorStorage.track(bytes: bytes)
        TensorStorage.adviseHugePages(raw, bytes: bytes)
    }

    /// Asks the kernel to back the whole 2 MB pages inside a large buffer with transparent huge
    /// pages (this machine's THP mode is `madvise`): activations and logits of 4 MB and more are
    /// streamed by every elementwise kernel, and 4 KB pages cost a TLB miss every 4 KB and a page
    /// fault each when the heap grows. The heap keeps freed memory (see `allocatorConfigured`), so
    /// the advice holds for the reuse of the same region in later steps.
    static func adviseHugePages(_ raw: UnsafeMutableRawPointer, bytes: Int) {
        #if os(Linux)
        let huge = 2 << 20
        guard bytes >= 2 * huge else { return }
        let start = (Int(bitPattern: raw) + huge - 1) & ~(huge - 1)
        let end = (Int(bitPattern: raw) + bytes) & ~(huge - 1)
        if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE) }
        #endif
    }

    /// Allocates `count` floats set to zero.
    public convenience init(zeros count: Int) {
        self.init(count: count)
        pointer.initialize(repeating: 0, count: count)
    }

    /// Allocates a copy of `values`.
    public convenience init(copying values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    /// Wraps memory owned elsewhere (for example a memory-mapped, suitably aligned file region).
    /// `release` runs when the storage is freed.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, release: @escaping () -> Void) {
        self.pointer = pointer
        self.count = count
        self.device = .cpu
        self.release = release
    }

    deinit {
        if let release {
            release()
        } else {
            TensorStorage.track(bytes: -max(count, 1) * MemoryLayout<Float>.stride)
            free(pointer)
        }
    }

    /// A copy of the elements as an array (for tests, I/O and small results; not for hot paths).
    public func toArray() -> [Float] {
        Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// Keeps glibc from returning large freed blocks to the kernel: training allocates and frees
    /// the same activation sizes every step, and fresh mmap'd pages cost a page fault per 4 KB
    /// (measured: a 64 MB logits buffer spent longer faulting than its GEMM took).
    nonisolated(unsafe) static let allocatorConfigured: Bool = {
        #if os(Linux)
        _ = mallopt(M_MMAP_THRESHOLD, 1 << 30)
        _ = mallopt(M_TRIM_THRESHOLD, 1 << 30)
        #endif
        return true
    }()

    // MARK: Memory accounting

    private static let lock = NSLock()
    nonisolated(unsafe) private static var liveBytes = 0
    nonisolated(unsafe) private static var peakBytes = 0

    private static func track(bytes: Int) {
        lock.lock()
        liveBytes += bytes
        if liveBytes > peakBytes { peakBytes = liveBytes }
        lock.unlock()
    }

    /// Bytes currently held by tensor storages allocated by Align.
    public static var allocatedBytes: Int { lock.lock(); defer { lock.unlock() }; return liveBytes }
    /// The high-water mark of ``allocatedBytes`` since the last ``resetPeak()``.
    public static var peakAllocatedBytes: Int { lock.lock(); defer { lock.unlock() }; return peakBytes }
    /// Starts a new high-water mark at the current allocation.
    public static func resetPeak() { lock.lock(); peakBytes = liveBytes; lock.unlock() }
}
