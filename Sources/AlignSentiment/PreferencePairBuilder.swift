/// A sampled completion and the reward a judge gave it.
public struct ScoredCompletion: Sendable, Hashable, Codable {
    /// The completion's text (without the prompt).
    public var text: String
    /// The judge's score; higher is better. Non-finite scores are ignored by the builders.
    public var score: Double

    /// Creates a scored completion.
    public init(text: String, score: Double) {
        self.text = text
        self.score = score
    }
}

/// A prompt with the completions sampled for it.
public struct ScoredPrompt: Sendable, Hashable, Codable {
    /// The prompt text.
    public var prompt: String
    /// The completions, in sampling order.
    public var completions: [ScoredCompletion]

    /// Creates a prompt row.
    public init(prompt: String, completions: [ScoredCompletion]) {
        self.prompt = prompt
        self.completions = completions
    }
}

/// A DPO preference pair; encodes to the standard `{"prompt", "chosen", "rejected"}` row with the
/// scores and margin alongside (`score_chosen`, `score_rejected`, `margin`).
public struct PreferencePair: Sendable, Hashable, Codable {
    /// The prompt both completions answer.
    public var prompt: String
    /// The higher-scored completion.
    public var chosen: String
    /// The lower-scored completion.
    public var rejected: String
    /// The chosen completion's score.
    public var chosenScore: Double
    /// The rejected completion's score.
    public var rejectedScore: Double
    /// `chosenScore - rejectedScore`, always positive (at least the tie tolerance).
    public var margin: Double

    /// Creates a pair; the margin is derived from the two scores.
    public init(prompt: String, chosen: String, rejected: String, chosenScore: Double, rejectedScore: Double) {
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
        self.chosenScore = chosenScore
        self.rejectedScore = rejectedScore
        self.margin = chosenScore - rejectedScore
    }

    enum CodingKeys: String, CodingKey {
        case prompt, chosen, rejected, margin
        case chosenScore = "score_chosen"
        case rejectedScore = "score_rejected"
    }
}

/// An unpaired KTO row; encodes to the standard `{"prompt", "completion", "label"}` row with the
/// score alongside.
public struct KTOExample: Sendable, Hashable, Codable {
    /// The prompt.
    public var prompt: String
    /// The completion.
    public var completion: String
    /// True for a desirable completion, false for an undesirable one.
    public var label: Bool
    /// The judge's score the label came from.
    public var score: Double

    /// Creates a KTO row.
    public init(prompt: String, completion: String, label: Bool, score: Double) {
        self.prompt = prompt
        self.completion = completion
        self.label = label
        self.score = score
    }
}

/// The pairs built from a set of scored prompts, and what was left out.
public struct PreferencePairs: Sendable, Hashable {
    /// The pairs, prompt by prompt in input order.
    public var pairs: [PreferencePair] = []
    /// Candidate pairs dropped because their scores differed by less than the tie tolerance.
    public var droppedTies = 0
    /// Completions ignored because their score was NaN or infinite.
    public var invalidScores = 0
    /// Completions ignored because their text was empty (with ``PreferencePairBuilder/skipsEmptyCompletions``).
    public var emptyCompletions = 0
    /// Prompts that yielded no pair (fewer than two valid completions, or only ties).
    public var promptsWithoutPairs = 0
}

/// The KTO rows built from a set of scored prompts, and what was left out.
public struct KTOExamples: Sendable, Hashable {
    /// The rows, prompt by prompt and completion by completion in input order.
    public var examples: [KTOExample] = []
    /// Completions dropped because their score was within the tie tolerance of the prompt's median
    /// (only with `.promptMedian`).
    public var droppedAtMedian = 0
    /// Completions ignored because their score was NaN or infinite.
    public var invalidScores = 0
    /// Completions ignored because their text was empty (with ``PreferencePairBuilder/skipsEmptyCompletions``).
    public var emptyCompletions = 0
    /// Number of desirable rows (label true).
    public var desirableCount: Int { examples.lazy.filter(\.label).count }
    /// Number of undesirable rows (label false).
    public var undesirableCount: Int { examples.count - desirableCount }
}

/// Turns judged samples into training data: DPO preference pairs and KTO rows. This is the pure
/// core of `align judge`: no I/O, deterministic, input order preserved.
///
/// ```swift
/// let builder = PreferencePairBuilder(pairing: .bestVersusWorst, tieTolerance: 1e-3)
/// let result = builder.pairs(from: rows)      // result.pairs, result.droppedTies
/// let kto = builder.ktoExamples(from: rows, labeling: .promptMedian)
/// ```
public struct PreferencePairBuilder: Sendable, Hashable {
    /// Which pairs to form among a prompt's completions.
    public enum Pairing: Sendable, Hashable {
        /// One pair per prompt: the best completion against the worst (first occurrence wins among
        /// equal scores). Keeps prompts equally weighted and the margin as large as possible.
        case bestVersusWorst
        /// Every unordered pair of completions, n(n-1)/2 per prompt, oriented by score.
        case allPairs
    }

    /// How a completion's score becomes a KTO label.
    public enum KTOLabeling: Sendable, Hashable {
        /// Desirable when the score is strictly above the threshold (a fixed, absolute bar: e.g.
        /// VADER compound > 0 means "positive"). Every completion gets a row.
        case threshold(Double)
        /// Desirable when the score is above the median of its prompt's completions, undesirable
        /// when below; completions within the tie tolerance of the median are dropped (they are
        /// neither). Relative labels remove prompt difficulty (some prompts only admit negative
        /// continuations) and give every prompt about as many desirable as undesirable rows, which
        /// keeps KTO's λ_D·n_D / (λ_U·n_U) near 1 without reweighting. The median of an even count is
        /// the mean of the two middle scores.
        case promptMedian
    }

    /// Which pairs `pairs(from:)` forms.
    public var pairing: Pairing
    /// Scores closer than this are a tie: the pair carries no preference signal and is dropped.
    public var tieTolerance: Double
    /// Leaves out completions with empty text (a sample that stopped at once). The dataset readers
    /// refuse an empty completion, so `align judge`, whose files the trainers read, sets this;
    /// the demo trains on its pairs in memory, where an empty completion is just its EOS token.
    public var skipsEmptyCompletions = false

    /// Creates a builder.
    ///
    /// - Parameters:
    ///   - pairing: which pairs to form (best against worst by default).
    ///   - tieTolerance: pairs whose scores differ by less than this are dropped; must be ≥ 0.
    public init(pairing: Pairing = .bestVersusWorst, tieTolerance: Double = 1e-6) {
        precondition(tieTolerance >= 0 && tieTolerance.isFinite, "tieTolerance must be a finite value ≥ 0")
        self.pairing = pairing
        self.tieTolerance = tieTolerance
    }

    /// A prompt's completions that can be paired or labelled, with how many were left out for empty
    /// text (with ``skipsEmptyCompletions``) and how many for a score that is NaN or infinite.
    private func usableCompletions(of row: ScoredPrompt) -> (valid: [ScoredCompletion], empty: Int, invalid: Int) {
        let nonEmpty = skipsEmptyCompletions ? row.completions.filter { !$0.text.isEmpty } : row.completions
        let valid = nonEmpty.filter { $0.score.isFinite }
        return (valid, row.completions.count - nonEmpty.count, nonEmpty.count - valid.count)
    }

    /// Preference pairs: chosen = higher score, rejected = lower, margin = their difference; pairs
    /// closer than the tie tolerance are dropped and counted (as are empty completions, with
    /// ``skipsEmptyCompletions``).
    public func pairs(from rows: [ScoredPrompt]) -> PreferencePairs {
        var result = PreferencePairs()
        for row in rows {
            let (valid, empty, invalid) = usableCompletions(of: row)
            result.emptyCompletions += empty
            result.invalidScores += invalid
            let before = result.pairs.count
            if valid.count >= 2 {
                switch pairing {
                case .bestVersusWorst:
                    var best = 0, worst = 0
                    for index in valid.indices.dropFirst() {
                        if valid[index].score > valid[best].score { best = index }
                        if valid[index].score < valid[worst].score { worst = index }
                    }
                    add(row.prompt, valid[best], valid[worst], to: &result)
                case .allPairs:
                    for i in valid.indices {
                        for j in valid.indices where j > i {
                            if valid[i].score >= valid[j].score {
                                add(row.prompt, valid[i], valid[j], to: &result)
                            } else {
                                add(row.prompt, valid[j], valid[i], to: &result)
                            }
                        }
                    }
                }
            }
            if result.pairs.count == before { result.promptsWithoutPairs += 1 }
        }
        return result
    }

    /// Appends `higher` over `lower` unless their scores tie.
    private func add(
        _ prompt: String, _ higher: ScoredCompletion, _ lower: ScoredCompletion, to result: inout PreferencePairs
    ) {
        if higher.score - lower.score < tieTolerance {
            result.droppedTies += 1
            return
        }
        result.pairs.append(PreferencePair(
            prompt: prompt, chosen: higher.text, rejected: lower.text,
            chosenScore: higher.score, rejectedScore: lower.score))
    }

    /// KTO rows: each completion labelled desirable or undesirable by `labeling`.
    public func ktoExamples(from rows: [ScoredPrompt], labeling: KTOLabeling) -> KTOExamples {
        var result = KTOExamples()
        for row in rows {
            let (valid, empty, invalid) = usableCompletions(of: row)
            result.emptyCompletions += empty
            result.invalidScores += invalid
            switch labeling {
            case .threshold(let threshold):
                for completion in valid {
                    result.examples.append(KTOExample(
                        prompt: row.prompt, completion: completion.text,
                        label: completion.score > threshold, score: completion.score))
                }
            case .promptMedian:
                guard !valid.isEmpty else { continue }
                let median = Self.median(valid.map(\.score))
                for completion in valid {
                    if abs(completion.score - median) < tieTolerance || completion.score == median {
                        result.droppedAtMedian += 1
                        continue
                    }
                    result.examples.append(KTOExample(
                        prompt: row.prompt, completion: completion.text,
                        label: completion.score > median, score: completion.score))
                }
            }
        }
        return result
    }

    /// The median of a non-empty list (mean of the two middle values for an even count).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
