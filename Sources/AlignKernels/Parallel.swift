import CBLAS
import Dispatch
import Foundation

/// The one place Align spreads work over cores. Kernels call ``parallelFor(_:minimumChunk:_:)``;
/// nothing else creates threads. BLAS keeps its own pool, sized by ``Threads/configure(_:)``, and
/// is never called from inside a ``parallelFor`` body.
public enum Threads {
    nonisolated(unsafe) private static var _count: Int = {
        quietBLASWorkers()
        let configured = ProcessInfo.processInfo.environment["ALIGN_NUM_THREADS"].flatMap(Int.init)
        let n = max(1, configured ?? ProcessInfo.processInfo.activeProcessorCount)
        openblas_set_num_threads(Int32(n))
        return n
    }()

    /// OpenBLAS's idle workers spin (`sched_yield`) for 2²⁸ cycles after every call before they
    /// sleep. Between GEMMs Align's own kernels run on ``parallelFor(_:minimumChunk:_:)``'s
    /// threads, and a spinning BLAS worker takes a core from them: `perf` put 15 % of a DPO step's
    /// samples in that spin, and cutting it made the step 13 % faster (1.57 → 1.36 s, 2 threads).
    /// Unless the user set a timeout, it is lowered to OpenBLAS's minimum (2⁴ cycles) and the
    /// workers, started when the library loaded, are stopped so they restart with it.
    private static func quietBLASWorkers() {
        #if os(Linux)
        guard getenv("OPENBLAS_THREAD_TIMEOUT") == nil, getenv("GOTO_THREAD_TIMEOUT") == nil else { return }
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0)
        openblas_read_env()
        _ = blas_thread_shutdown_()
        #endif
    }

    /// Worker threads used by Align's kernels and by OpenBLAS (default: `ALIGN_NUM_THREADS`, else
    /// the number of active cores).
    public static var count: Int { _count }

    /// Sets the thread count for Align's kernels and OpenBLAS together.
    public static func configure(_ n: Int) {
        _count = max(1, n)
        openblas_set_num_threads(Int32(_count))
    }
}

/// Runs `body(start, end)` over disjoint chunks covering `0..<count`, on up to ``Threads/count``
/// threads. Chunks smaller than `minimumChunk` are not split further, so tiny loops stay serial.
@inlinable
public func parallelFor(_ count: Int, minimumChunk: Int = 1, _ body: (Int, Int) -> Void) {
    if count <= 0 { return }
    let threads = Threads.count
    let chunks = min(threads, max(1, count / max(1, minimumChunk)))
    if chunks <= 1 {
        body(0, count)
        return
    }
    // A few more pieces than threads smooths out uneven work per chunk.
    let pieces = min(count, chunks == threads ? chunks * 4 : chunks)
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: pieces) { piece in
            let start = piece * count / pieces
            let end = (piece + 1) * count / pieces
            if start < end { body(start, end) }
        }
    }
}
