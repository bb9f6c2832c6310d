import AlignKernels
import AlignTensor
import CMPI
import Foundation

/// ``Communicator`` over Open MPI's `MPI_COMM_WORLD`.
///
/// Initialised with `MPI_THREAD_SERIALIZED` (Align calls MPI from one thread at a time: the
/// training loop's); finalised at normal exit. Open MPI's default error handler stays in place, so
/// a failed collective (a peer that died) ends the job with Open MPI's own message.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public let localSize: Int
    /// The most elements one MPI call moves (counts are C ints); larger buffers go in pieces.
    static let maximumCount = 1 << 30

    /// Initialises MPI. Call only when `mpirun` started the process (``Distributed/world`` does).
    public init() {
        var provided: Int32 = 0
        var initialised: Int32 = 0
        MPI_Initialized(&initialised)
        if initialised == 0 {
            let rc = MPI_Init_thread(nil, nil, align_mpi_thread_serialized(), &provided)
            if rc != align_mpi_success() {
                FileHandle.standardError.write(Data("align: MPI_Init_thread failed (error \(rc))\n".utf8))
                exit(1)
            }
            atexit {
                var finalized: Int32 = 0
                MPI_Finalized(&finalized)
                if finalized == 0 { MPI_Finalize() }
            }
        }
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(align_mpi_comm_world(), &r)
        MPI_Comm_size(align_mpi_comm_world(), &s)
        rank = Int(r)
        size = Int(s)
        localSize = Distributed.announcedLocalSize
    }

    public func allReduceSum(_ tensor: Tensor) {
        var done = 0
        while done < tensor.count {
            let n = min(MPICommunicator.maximumCount, tensor.count - done)
            MPI_Allreduce(align_mpi_in_place(), tensor.pointer + done, Int32(n), align_mpi_float(), align_mpi_sum(), align_mpi_comm_world())
            done += n
        }
    }

    public func allReduceSum(_ values: [Double]) -> [Double] {
        var out = values
        guard !out.isEmpty else { return out }
        out.withUnsafeMutableBufferPointer { b in
            _ = MPI_Allreduce(align_mpi_in_place(), b.baseAddress, Int32(b.count), align_mpi_double(), align_mpi_sum(), align_mpi_comm_world())
        }
        return out
    }

    public func startAllReduceSum(_ tensor: Tensor) -> PendingReduction {
        Request(tensor: tensor)
    }

    public func broadcast(_ tensor: Tensor, from root: Int) {
        var done = 0
        while done < tensor.count {
            let n = min(MPICommunicator.maximumCount, tensor.count - done)
            MPI_Bcast(tensor.pointer + done, Int32(n), align_mpi_float(), Int32(root), align_mpi_comm_world())
            done += n
        }
    }

    public func allGather(_ bytes: [UInt8]) -> [[UInt8]] {
        var mine = Int32(bytes.count)
        var counts = [Int32](repeating: 0, count: size)
        MPI_Allgather(&mine, 1, align_mpi_int(), &counts, 1, align_mpi_int(), align_mpi_comm_world())
        var offsets = [Int32](repeating: 0, count: size)
        for i in 1..<max(1, size) { offsets[i] = offsets[i - 1] + counts[i - 1] }
        let total = Int(counts.reduce(0, +))
        var all = [UInt8](repeating: 0, count: max(1, total))
        var send = bytes.isEmpty ? [0] : bytes
        MPI_Allgatherv(&send, mine, align_mpi_byte(), &all, &counts, &offsets, align_mpi_byte(), align_mpi_comm_world())
        return (0..<size).map { Array(all[Int(offsets[$0])..<Int(offsets[$0] + counts[$0])]) }
    }

    public func abort(code: Int32) -> Never {
        MPI_Abort(align_mpi_comm_world(), code)
        exit(code)
    }

    /// One `MPI_Iallreduce` (or several for a buffer over ``maximumCount``), holding its buffer.
    final class Request: PendingReduction {
        let tensor: Tensor
        var requests: [MPI_Request?]
        var completed = false

        init(tensor: Tensor) {
            self.tensor = tensor
            requests = []
            var done = 0
            while done < tensor.count {
                let n = min(MPICommunicator.maximumCount, tensor.count - done)
                var request = align_mpi_request_null()
                MPI_Iallreduce(align_mpi_in_place(), tensor.pointer + done, Int32(n), align_mpi_float(), align_mpi_sum(),
                               align_mpi_comm_world(), &request)
                requests.append(request)
                done += n
            }
            if requests.isEmpty { completed = true }
        }

        func test() -> Bool {
            if completed { return true }
            var flag: Int32 = 0
            MPI_Testall(Int32(requests.count), &requests, &flag, nil)
            completed = flag != 0
            return completed
        }

        func wait() {
            if completed { return }
            MPI_Waitall(Int32(requests.count), &requests, nil)
            completed = true
        }
    }
}
