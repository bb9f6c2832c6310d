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

/// How a ``TensorStorage`` holds its elements. Everything trains and computes in fp32; a frozen
/// model used only for inference (a DPO/KTO reference, a reward model during rollouts, a sampler)
/// can hold its matrices in fewer bits, which cuts the bytes a memory-bound decoding step streams
/// and the memory the model takes. Kernels that read them widen to fp32 and accumulate in fp32.
public enum ElementFormat: String, Sendable, Hashable, CaseIterable {
    /// IEEE binary32: the format every op reads and writes.
    case f32
    /// IEEE binary16 (10-bit mantissa, range ±65504), as PyTorch's `float16`.
    case f16
    /// bfloat16 (the top half of an fp32: 7-bit mantissa, fp32's range), as PyTorch's `bfloat16`.
    case bf16
    /// ggml's Q8_0: blocks of 32 elements, each an f16 scale d and 32 signed bytes q (x = d·q),
    /// 34 bytes per 32 elements; quantised as llama.cpp does (d = max|x| / 127, q = round(x / d)),
    /// so a Q8_0 GGUF's weights, widened at load and quantised again, get their original bytes.
    case q8_0 = "q8_0"

    /// Elements per block (32 for Q8_0, else 1): counts and row lengths must be multiples of it.
    public var blockSize: Int { self == .q8_0 ? 32 : 1 }

    /// Bytes that `elements` elements take (a whole number of blocks).
    public func byteCount(elements: Int) -> Int {
        switch self {
        case .f32: return elements * 4
        case .f16, .bf16: return elements * 2
        case .q8_0:
            precondition(elements % 32 == 0, "Q8_0 holds whole blocks of 32 elements, not \(elements)")
            return elements / 32 * 34
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
    /// How the elements are stored: fp32 unless created by ``init(count:format:)`` with another
    /// format, in which case ``pointer`` must not be read as floats (use ``rawPointer``).
    public let format: ElementFormat
    /// Bytes allocated.
    let byteSize: Int
    /// The first byte (the same address as ``pointer``), for formats other than fp32.
    public var rawPointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(pointer) }
    /// The elements of a 16-bit storage (``format`` `.f16` or `.bf16`).
    public var halfPointer: UnsafeMutablePointer<UInt16> { rawPointer.assumingMemoryBound(to: UInt16.self) }
    /// Memory not owned by this storage (a memory-mapped file, say) is released by this closure.
    private let release: (() -> Void)?

    /// Allocates `count` uninitialised floats (at least one, so the pointer is never null).
    public convenience init(count: Int) {
        self.init(count: count, format: .f32)
    }

    /// Allocates `count` uninitialised elements of `format`. Storage other than fp32 holds frozen
    /// inference weights, read only by the kernels that widen them (see ``ElementFormat``).
    public init(count: Int, format: ElementFormat) {
        precondition(count >= 0, "negative element count \(count)")
        _ = TensorStorage.allocatorConfigured
        var raw: UnsafeMutableRawPointer?
        let bytes = max(format.byteCount(elements: count), 4)
        let status = posix_memalign(&raw, 64, (bytes + 63) & ~63)
        guard status == 0, let raw else { fatalError("out of memory allocating \(bytes) bytes") }
        // Half storage is bound to Float too, so that ``pointer`` has one type; only
        // ``halfPointer`` reads it (the tensor layer refuses float access to it).
        self.pointer = format == .f32 ? raw.bindMemory(to: Float.self, capacity: max(count, 1)) : raw.assumingMemoryBound(to: Float.self)
        self.count = count
        self.device = .cpu
        self.format = format
        self.byteSize = bytes
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
        self.format = .f32
        self.byteSize = count * 4
        self.release = release
    }

    deinit {
        if let release {
            release()
        } else {
            TensorStorage.track(bytes: -byteSize)
            free(pointer)
        }
    }

    /// A copy of the elements as an array (for tests, I/O and small results; not for hot paths).
    public func toArray() -> [Float] {
        if format != .f32 {
            var out = [Float](repeating: 0, count: count)
            out.withUnsafeMutableBufferPointer { Kernels.convertToFloat(rawPointer, format: format, count: count, $0.baseAddress!) }
            return out
        }
        return Array(UnsafeBufferPointer(start: pointer, count: count))
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
