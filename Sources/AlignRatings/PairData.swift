// Comparisons aggregated per unordered pair of items. The likelihood depends on the data only through
// these per-pair counts, so fitting (and every bootstrap refit) costs O(pairs) per Newton step rather
// than O(comparisons).

/// The distinct unordered pairs of a comparison set and where each comparison lands among them.
struct PairLayout {
    /// Number of items.
    let itemCount: Int
    /// Lower item index of each pair.
    let first: [Int]
    /// Higher item index of each pair.
    let second: [Int]
    /// For each comparison, its pair.
    let pairOfComparison: [Int]
    /// For each comparison: 0 when the pair's `first` won, 1 when its `second` won, 2 for a tie.
    let slotOfComparison: [UInt8]
    /// Each comparison's weight.
    let weightOfComparison: [Double]

    init(_ set: ComparisonSet) {
        itemCount = set.items.count
        var pairIndex: [Int: Int] = [:]  // key i * n + j, i < j
        var first: [Int] = [], second: [Int] = []
        var pairOf: [Int] = [], slotOf: [UInt8] = [], weightOf: [Double] = []
        pairOf.reserveCapacity(set.comparisons.count)
        slotOf.reserveCapacity(set.comparisons.count)
        weightOf.reserveCapacity(set.comparisons.count)
        let n = set.items.count
        for c in set.comparisons {
            let (i, j) = c.first < c.second ? (c.first, c.second) : (c.second, c.first)
            let key = i * n + j
            let p: Int
            if let existing = pairIndex[key] {
                p = existing
            } else {
                p = first.count
                pairIndex[key] = p
                first.append(i)
                second.append(j)
            }
            pairOf.append(p)
            switch c.outcome {
            case .tie: slotOf.append(2)
            case .firstWins: slotOf.append(c.first == i ? 0 : 1)
            case .secondWins: slotOf.append(c.second == i ? 0 : 1)
            }
            weightOf.append(c.weight)
        }
        self.first = first
        self.second = second
        pairOfComparison = pairOf
        slotOfComparison = slotOf
        weightOfComparison = weightOf
    }

    var pairCount: Int { first.count }
}

/// Weighted outcome counts per pair of a `PairLayout`.
struct PairCounts {
    /// Weight of comparisons the pair's `first` item won.
    var firstWins: [Double]
    /// Weight of comparisons the pair's `second` item won.
    var secondWins: [Double]
    /// Weight of tied comparisons.
    var ties: [Double]

    init(pairCount: Int) {
        firstWins = [Double](repeating: 0, count: pairCount)
        secondWins = firstWins
        ties = firstWins
    }

    /// Counts of every comparison, each once with its own weight.
    init(_ layout: PairLayout) {
        self.init(pairCount: layout.pairCount)
        for k in layout.pairOfComparison.indices {
            add(layout, comparison: k)
        }
    }

    /// Adds comparison `k` of `layout` once more.
    @inline(__always)
    mutating func add(_ layout: PairLayout, comparison k: Int) {
        let p = layout.pairOfComparison[k], w = layout.weightOfComparison[k]
        switch layout.slotOfComparison[k] {
        case 0: firstWins[p] += w
        case 1: secondWins[p] += w
        default: ties[p] += w
        }
    }

    /// Sets every count back to zero, keeping the storage.
    mutating func reset() {
        for p in firstWins.indices {
            firstWins[p] = 0
            secondWins[p] = 0
            ties[p] = 0
        }
    }

    var totalTies: Double { ties.reduce(0, +) }
    var totalDecisive: Double { firstWins.reduce(0, +) + secondWins.reduce(0, +) }
}

/// Why the maximum-likelihood strengths of some data are not finite: the comparison graph (an edge
/// from each winner to its loser, both ways for a tie) is not strongly connected.
struct ConnectivityReport {
    /// Items with comparisons, at least one win and neither a loss nor a tie.
    var neverLost: [Int] = []
    /// Items with comparisons, at least one loss and neither a win nor a tie.
    var neverWon: [Int] = []
    /// Items without any comparison (possible only in a bootstrap resample).
    var uncompared: [Int] = []
    /// Groups of items linked by comparisons of any outcome, when there is more than one.
    var disconnectedGroups: [[Int]] = []
    /// Strongly connected components in order from strongest to weakest, when there is more than one.
    var strongGroups: [[Int]] = []

    /// Whether finite maximum-likelihood strengths exist.
    var isStronglyConnected: Bool { strongGroups.count <= 1 }

    /// Analyses the graph of `counts` over `layout`'s pairs.
    init(layout: PairLayout, counts: PairCounts, detailed: Bool) {
        let n = layout.itemCount
        // Directed edges in CSR form: u -> v when u beat v (or they tied).
        var outDegree = [Int](repeating: 0, count: n + 1)
        var wins = [Double](repeating: 0, count: n), losses = wins, ties = wins
        for p in 0..<layout.pairCount {
            let i = layout.first[p], j = layout.second[p]
            let fw = counts.firstWins[p], sw = counts.secondWins[p], t = counts.ties[p]
            wins[i] += fw; losses[j] += fw
            wins[j] += sw; losses[i] += sw
            ties[i] += t; ties[j] += t
            if fw > 0 || t > 0 { outDegree[i + 1] += 1 }
            if sw > 0 || t > 0 { outDegree[j + 1] += 1 }
        }
        for v in 0..<n { outDegree[v + 1] += outDegree[v] }
        let offsets = outDegree
        var fill = offsets
        var targets = [Int](repeating: 0, count: offsets[n])
        for p in 0..<layout.pairCount {
            let i = layout.first[p], j = layout.second[p]
            if counts.firstWins[p] > 0 || counts.ties[p] > 0 { targets[fill[i]] = j; fill[i] += 1 }
            if counts.secondWins[p] > 0 || counts.ties[p] > 0 { targets[fill[j]] = i; fill[j] += 1 }
        }
        strongGroups = ConnectivityReport.stronglyConnectedComponents(n: n, offsets: offsets, targets: targets)
        guard strongGroups.count > 1, detailed else { return }

        for v in 0..<n {
            let compared = wins[v] + losses[v] + ties[v] > 0
            if !compared { uncompared.append(v) }
            else if losses[v] == 0 && ties[v] == 0 { neverLost.append(v) }
            else if wins[v] == 0 && ties[v] == 0 { neverWon.append(v) }
        }
        // Undirected components by union–find over pairs that were compared at all.
        var parent = Array(0..<n)
        func root(_ v: Int) -> Int {
            var v = v
            while parent[v] != v { parent[v] = parent[parent[v]]; v = parent[v] }
            return v
        }
        for p in 0..<layout.pairCount where counts.firstWins[p] + counts.secondWins[p] + counts.ties[p] > 0 {
            let a = root(layout.first[p]), b = root(layout.second[p])
            if a != b { parent[max(a, b)] = min(a, b) }
        }
        var groupOfRoot: [Int: Int] = [:]
        var groups: [[Int]] = []
        for v in 0..<n where !uncompared.contains(v) {
            let r = root(v)
            if let g = groupOfRoot[r] { groups[g].append(v) } else { groupOfRoot[r] = groups.count; groups.append([v]) }
        }
        if groups.count > 1 { disconnectedGroups = groups }
    }

    /// Tarjan's algorithm without recursion (a long chain of items must not overflow the stack).
    /// Returns components in topological order of the condensation: a component reaches (beats)
    /// only components after it.
    static func stronglyConnectedComponents(n: Int, offsets: [Int], targets: [Int]) -> [[Int]] {
        var index = [Int](repeating: -1, count: n), low = [Int](repeating: 0, count: n)
        var onStack = [Bool](repeating: false, count: n)
        var stack: [Int] = [], components: [[Int]] = []
        var callStack: [(v: Int, edge: Int)] = []
        var counter = 0
        for root in 0..<n where index[root] < 0 {
            callStack.append((root, offsets[root]))
            index[root] = counter; low[root] = counter; counter += 1
            stack.append(root); onStack[root] = true
            while let (v, edge) = callStack.last {
                if edge < offsets[v + 1] {
                    callStack[callStack.count - 1].edge += 1
                    let w = targets[edge]
                    if index[w] < 0 {
                        index[w] = counter; low[w] = counter; counter += 1
                        stack.append(w); onStack[w] = true
                        callStack.append((w, offsets[w]))
                    } else if onStack[w] {
                        low[v] = min(low[v], index[w])
                    }
                } else {
                    callStack.removeLast()
                    if let parent = callStack.last { low[parent.v] = min(low[parent.v], low[v]) }
                    if low[v] == index[v] {
                        var component: [Int] = []
                        while let w = stack.popLast() {
                            onStack[w] = false
                            component.append(w)
                            if w == v { break }
                        }
                        components.append(component.sorted())
                    }
                }
            }
        }
        // Tarjan emits sink components first; reverse so winners come first.
        return components.reversed()
    }
}
