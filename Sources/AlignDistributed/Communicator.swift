import AlignTensor
import Foundation

/// The collective operations data-parallel training needs, over the ranks of one job.
///
/// Two implementations: ``SingleProcess`` (one rank; every collective is the identity) and
/// ``MPICommunicator`` (Open MPI, when `mpirun` started the process). ``Distributed/world`` picks
/// one; nothing else in Align initialises MPI. This module is the only place above the engine where
/// raw buffers meet a collective: callers hand over ``Tensor``s, `[Double]` or bytes.
///
/// Every rank must call the same collectives in the same order (MPI's rule); a rank that throws
/// between two collectives must end the job (``abort(code:)``) rather than leave the others waiting.
public protocol Communicator: AnyObject {
    /// This process's rank, 0..<``size``.
    var rank: Int { get }
    /// Number of ranks in the job.
    var size: Int { get }
    /// Number of ranks on this host (for the default thread count).
    var localSize: Int { get }
    /// Sums `tensor` over all ranks, in place (every rank gets the sum).
    func allReduceSum(_ tensor: Tensor)
    /// Sums `values` element-wise over all ranks.
    func allReduceSum(_ values: [Double]) -> [Double]
    /// Starts summing `tensor` over all ranks in place without waiting; the tensor must not be
    /// touched until the returned reduction has completed.
    func startAllReduceSum(_ tensor: Tensor) -> PendingReduction
    /// Copies rank `root`'s `tensor` into every rank's `tensor` (same shape everywhere).
    func broadcast(_ tensor: Tensor, from root: Int)
    /// Every rank's `bytes`, in rank order.
    func allGather(_ bytes: [UInt8]) -> [[UInt8]]
    /// Ends the whole job with exit status `code` (after the caller has printed why).
    func abort(code: Int32) -> Never
}

/// A reduction started by ``Communicator/startAllReduceSum(_:)``.
public protocol PendingReduction: AnyObject {
    /// Lets the library progress the reduction; true once it has completed.
    func test() -> Bool
    /// Blocks until the reduction has completed.
    func wait()
}

extension Communicator {
    /// True when this is rank 0, the rank that writes files and prints progress.
    public var isRoot: Bool { rank == 0 }
    /// True when more than one rank takes part.
    public var isDistributed: Bool { size > 1 }

    /// `value` summed over all ranks.
    public func allReduceSum(_ value: Double) -> Double { allReduceSum([value])[0] }
}

/// One process: every collective is the identity. A run without `mpirun` uses this, exactly as
/// before data parallelism existed.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var localSize: Int { 1 }
    public func allReduceSum(_ tensor: Tensor) {}
    public func allReduceSum(_ values: [Double]) -> [Double] { values }
    public func startAllReduceSum(_ tensor: Tensor) -> PendingReduction { Completed() }
    public func broadcast(_ tensor: Tensor, from root: Int) {}
    public func allGather(_ bytes: [UInt8]) -> [[UInt8]] { [bytes] }
    public func abort(code: Int32) -> Never { exit(code) }

    final class Completed: PendingReduction {
        func test() -> Bool { true }
        func wait() {}
    }
}

/// The job this process belongs to.
public enum Distributed {
    /// The environment variable Open MPI's launcher (`mpirun`, `mpiexec`) sets in every rank.
    public static let launcherVariable = "OMPI_COMM_WORLD_SIZE"

    /// True when Open MPI's launcher started this process.
    public static var launchedByMPI: Bool {
        ProcessInfo.processInfo.environment[launcherVariable] != nil
    }

    /// Ranks on this host as the launcher announced them (1 without a launcher), read without
    /// initialising MPI: for sizing thread pools before anything else runs.
    public static var announcedLocalSize: Int {
        ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init).map { max(1, $0) } ?? 1
    }

    /// This process's rank as the launcher announced it (0 without a launcher).
    public static var announcedRank: Int {
        ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"].flatMap(Int.init) ?? 0
    }

    /// The world: ``MPICommunicator`` (initialising MPI on first use) when `mpirun` started the
    /// process, else ``SingleProcess``. A run without `mpirun` never initialises MPI.
    nonisolated(unsafe) public static var world: any Communicator = launchedByMPI ? MPICommunicator() : SingleProcess()
}
