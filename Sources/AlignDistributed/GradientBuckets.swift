import AlignKernels
import AlignTensor
import Foundation

/// Sums the gradients of a set of parameters over all ranks, in buckets that start reducing as
/// soon as the backward pass has finished with their parameters (as PyTorch's DDP does).
///
/// Buckets hold parameters in reverse registration order (the output end of the network first,
/// which the backward pass reaches first), at most ``bucketElements`` floats each. Each bucket is
/// one contiguous buffer: the gradients, then one presence flag per parameter (1 when this rank has
/// a gradient for it), so a parameter that only some ranks reached still gets the sum, and one that
/// no rank reached keeps no gradient, as in one process. Buckets are started strictly in index order
/// on every rank, so the collectives match whatever order the hooks fire in; a bucket whose
/// parameters never fire (a rank with no examples this step) starts in ``finish()``.
///
/// Use: ``arm()`` before the step's last backward pass (gradients are final after it), then
/// ``finish()`` after it. With one rank both are no-ops.
public final class GradientBuckets {
    public let communicator: any Communicator
    /// Distinct parameters (a tied weight listed twice is reduced once).
    let parameters: [Parameter]
    let buckets: [[Int]]
    let bucketOf: [Int]
    /// Floats per bucket before the flags (25 MB of fp32 by default, DDP's `bucket_cap_mb`).
    public let bucketElements: Int
    /// When false, every bucket is reduced only in ``finish()`` (for measuring the overlap).
    public var overlap: Bool
    var ready: [Bool] = []
    var readyCount: [Int] = []
    var nextBucket = 0
    var inFlight: [(bucket: Int, buffer: Tensor, reduction: PendingReduction)] = []
    /// Seconds spent waiting in ``finish()`` for reductions, summed over steps.
    public private(set) var waitSeconds: Double = 0
    /// Number of buckets.
    public var bucketCount: Int { buckets.count }
    /// Floats all-reduced per step (gradients plus flags).
    public var elementsPerStep: Int { buckets.reduce(0) { $0 + $1.reduce(0) { $0 + parameters[$1].value.count } + $1.count } }

    public init(parameters: [Parameter], communicator: any Communicator, bucketElements: Int = 25 * 1 << 20 / 4, overlap: Bool = true) {
        var seen = Set<ObjectIdentifier>()
        let distinct = parameters.filter { seen.insert(ObjectIdentifier($0)).inserted }
        self.parameters = distinct
        self.communicator = communicator
        let capacity = max(1, bucketElements)
        self.bucketElements = capacity
        self.overlap = overlap
        var buckets: [[Int]] = [], current: [Int] = [], filled = 0
        for i in distinct.indices.reversed() {
            let n = distinct[i].value.count
            if !current.isEmpty && filled + n > capacity { buckets.append(current); current = []; filled = 0 }
            current.append(i); filled += n
        }
        if !current.isEmpty { buckets.append(current) }
        self.buckets = buckets
        var bucketOf = [Int](repeating: 0, count: distinct.count)
        for (b, members) in buckets.enumerated() { for i in members { bucketOf[i] = b } }
        self.bucketOf = bucketOf
    }

    /// Installs the hooks that start buckets during the coming backward pass.
    public func arm() {
        reset()
        guard communicator.isDistributed, overlap else { return }
        for (i, p) in parameters.enumerated() {
            p.onGradientAccumulated = { [unowned self] _ in self.gradientReady(i) }
        }
    }

    private func reset() {
        ready = [Bool](repeating: false, count: parameters.count)
        readyCount = [Int](repeating: 0, count: buckets.count)
        nextBucket = 0
        inFlight = []
    }

    private func gradientReady(_ i: Int) {
        guard !ready[i] else { return }
        ready[i] = true
        readyCount[bucketOf[i]] += 1
        while nextBucket < buckets.count && readyCount[nextBucket] == buckets[nextBucket].count {
            launch(nextBucket)
            nextBucket += 1
        }
        // Without a progress thread, Open MPI advances non-blocking collectives inside MPI calls.
        for f in inFlight { _ = f.reduction.test() }
    }

    private func launch(_ b: Int) {
        let members = buckets[b]
        let total = members.reduce(0) { $0 + parameters[$1].value.count }
        let buffer = Tensor.empty([total + members.count])
        var offset = 0
        for (k, i) in members.enumerated() {
            let p = parameters[i], n = p.value.count
            if let g = p.grad {
                (buffer.pointer + offset).update(from: g.pointer, count: n)
                buffer.pointer[total + k] = 1
            } else {
                (buffer.pointer + offset).update(repeating: 0, count: n)
                buffer.pointer[total + k] = 0
            }
            offset += n
        }
        inFlight.append((b, buffer, communicator.startAllReduceSum(buffer)))
    }

    /// Starts the buckets not yet started, waits for all, and writes the sums back into ``Parameter/grad``.
    /// Call once per step, after its last backward pass.
    public func finish() {
        if ready.count != parameters.count { reset() }  // not armed: a rank with no examples this step
        for p in parameters { p.onGradientAccumulated = nil }
        guard communicator.isDistributed else { return }
        while nextBucket < buckets.count { launch(nextBucket); nextBucket += 1 }
        let started = Date()
        for f in inFlight { f.reduction.wait() }
        waitSeconds += Date().timeIntervalSince(started)
        for f in inFlight {
            let members = buckets[f.bucket]
            let total = members.reduce(0) { $0 + parameters[$1].value.count }
            var offset = 0
            for (k, i) in members.enumerated() {
                let p = parameters[i], n = p.value.count
                if f.buffer.pointer[total + k] > 0 {
                    if p.grad == nil { p.grad = Tensor.empty(p.value.shape) }
                    p.grad!.pointer.update(from: f.buffer.pointer + offset, count: n)
                } else {
                    p.grad = nil
                }
                offset += n
            }
        }
        inFlight = []
        ready = []
    }

    /// Copies rank 0's values of every parameter to all ranks (identical initial weights).
    public func broadcastValues(from root: Int = 0) {
        guard communicator.isDistributed else { return }
        for p in parameters { communicator.broadcast(p.value, from: root) }
    }
}
