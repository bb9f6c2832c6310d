/// One item's fitted rating.
public struct RatedItem: Sendable, Equatable {
    /// The item's id as given in the input.
    public var id: ItemID
    /// Log-strength: natural-log odds units, mean zero over all items.
    public var strength: Double
    /// Bootstrap percentile interval for `strength`, or `nil` when no bootstrap was run.
    public var interval: ClosedRange<Double>?
    /// Weighted count of comparisons the item won.
    public var wins: Double
    /// Weighted count of comparisons the item lost.
    public var losses: Double
    /// Weighted count of comparisons the item tied.
    public var ties: Double

    /// Creates a rated item.
    public init(id: ItemID, strength: Double, interval: ClosedRange<Double>?, wins: Double, losses: Double, ties: Double) {
        self.id = id
        self.strength = strength
        self.interval = interval
        self.wins = wins
        self.losses = losses
        self.ties = ties
    }

    /// The strength on the Elo scale, 1500 + 400/ln 10 · `strength`.
    public var elo: Double { BradleyTerry.elo(strength) }
}

/// How the bootstrap intervals were made.
public struct BootstrapSummary: Sendable, Equatable {
    /// Number of resamples.
    public var samples: Int
    /// Coverage of the percentile intervals.
    public var confidence: Double
    /// Seed of the resampling.
    public var seed: UInt64
    /// Resamples without a finite MLE that were refitted with the prior (0 when the full fit used it).
    public var replicatesWithPrior: Int
    /// Resamples whose refit stopped above the tolerance.
    public var unconvergedReplicates: Int
    /// Percentile interval of the Davidson ν, for that model.
    public var nuInterval: ClosedRange<Double>?
}

/// Why a fit could not be made.
public enum RatingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A fit option is out of range; the text names it.
    case invalidOption(String)
    /// There was nothing to fit.
    case noComparisons
    /// The Davidson model cannot be fitted to ties alone (ν would be infinite, strengths all equal).
    case onlyTies
    /// The prior was turned off and the maximum-likelihood strengths are not finite; the text says why.
    case noFiniteEstimate(String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .invalidOption(let text): return text
        case .noComparisons: return "no comparisons to fit"
        case .onlyTies: return "every comparison is a tie: the Davidson model needs at least one win"
        case .noFiniteEstimate(let why): return why + "; allow the prior (--prior auto) to fit anyway"
        }
    }
}

/// A fitted Bradley–Terry model: ratings, fit diagnostics and any warnings.
public struct RatingResult: Sendable {
    /// Every item, strongest first (equal strengths in id order).
    public var items: [RatedItem]
    /// How ties were modelled.
    public var tieModel: BradleyTerry.TieModel
    /// The Davidson ν (0 when the data has no ties); `nil` for the half-win model.
    public var nu: Double?
    /// Log-likelihood of the data at the estimate (ties as half wins, or Davidson), without the prior.
    public var logLikelihood: Double
    /// Newton iterations of the full-data fit.
    public var iterations: Int
    /// Gradient norm at the estimate.
    public var gradientNorm: Double
    /// Whether the fit reached the tolerance.
    public var converged: Bool
    /// σ of the Gaussian prior when one was added, else `nil` (a pure maximum-likelihood fit).
    public var priorStandardDeviation: Double?
    /// Things the user should know, one sentence each (the CLI prints them on stderr).
    public var warnings: [String]
    /// The bootstrap's settings and diagnostics, when intervals were computed.
    public var bootstrap: BootstrapSummary?
    /// Number of comparison records.
    public var comparisonCount: Int
    /// Sum of the records' weights.
    public var totalWeight: Double

    /// The rating of `id`, if it was compared.
    public subscript(id: ItemID) -> RatedItem? { items.first { $0.id == id } }

    /// The fitted probabilities that `a` beats, ties with and loses to `b`.
    public func outcomeProbabilities(_ a: RatedItem, _ b: RatedItem) -> (win: Double, tie: Double, loss: Double) {
        BradleyTerry.outcomeProbabilities(strengthDifference: a.strength - b.strength, nu: nu)
    }
}
