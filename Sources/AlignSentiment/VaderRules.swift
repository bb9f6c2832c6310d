// VADER's fixed word lists and constants, as published in vaderSentiment 3.3.2 (C.J. Hutto,
// MIT licence; Hutto & Gilbert, ICWSM 2014). They are data the scores depend on, so they are kept
// verbatim; the algorithm that uses them is in VaderSentiment.swift.

/// The constants and word lists of VADER's rules.
enum VaderRules {
    /// Empirical intensity added by a booster word ("very").
    static let boosterIncrement = 0.293
    /// Empirical intensity removed by a dampener word ("slightly").
    static let boosterDecrement = -0.293
    /// Empirical intensity added by ALL-CAPS emphasis in mixed-case text.
    static let capsIncrement = 0.733
    /// The factor a negation multiplies valence by (a partial flip, not a sign change).
    static let negationScalar = -0.74
    /// The normalisation constant alpha of `score / sqrt(score² + alpha)`.
    static let normalizationAlpha = 15.0

    /// Words that negate the sentiment word one to three places after them. Tokens containing
    /// "n't" negate as well (checked separately).
    static let negations: [String] = [
        "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt",
        "ain't", "aren't", "can't", "couldn't", "daren't", "didn't", "doesn't",
        "dont", "hadnt", "hasnt", "havent", "isnt", "mightnt", "mustnt", "neither",
        "don't", "hadn't", "hasn't", "haven't", "isn't", "mightn't", "mustn't",
        "neednt", "needn't", "never", "none", "nope", "nor", "not", "nothing", "nowhere",
        "oughtnt", "shant", "shouldnt", "uhuh", "wasnt", "werent",
        "oughtn't", "shan't", "shouldn't", "uh-uh", "wasn't", "weren't",
        "without", "wont", "wouldnt", "won't", "wouldn't", "rarely", "seldom", "despite",
    ]

    /// Degree adverbs: boosters raise the intensity of a following sentiment word, dampeners lower
    /// it. Multi-word entries can only match through the idiom check's n-grams.
    static let boosters: [(String, Double)] = {
        let up = [
            "absolutely", "amazingly", "awfully", "completely", "considerable", "considerably",
            "decidedly", "deeply", "effing", "enormous", "enormously", "entirely", "especially",
            "exceptional", "exceptionally", "extreme", "extremely", "fabulously", "flipping",
            "flippin", "frackin", "fracking", "fricking", "frickin", "frigging", "friggin", "fully",
            "fuckin", "fucking", "fuggin", "fugging", "greatly", "hella", "highly", "hugely",
            "incredible", "incredibly", "intensely", "major", "majorly", "more", "most",
            "particularly", "purely", "quite", "really", "remarkably", "so", "substantially",
            "thoroughly", "total", "totally", "tremendous", "tremendously", "uber", "unbelievably",
            "unusually", "utter", "utterly", "very",
        ]
        let down = [
            "almost", "barely", "hardly", "just enough", "kind of", "kinda", "kindof", "kind-of",
            "less", "little", "marginal", "marginally", "occasional", "occasionally", "partly",
            "scarce", "scarcely", "slight", "slightly", "somewhat", "sort of", "sorta", "sortof",
            "sort-of",
        ]
        return up.map { ($0, boosterIncrement) } + down.map { ($0, boosterDecrement) }
    }()

    /// Idioms and phrases whose valence replaces that of the lexicon word inside them.
    static let specialCases: [(String, Double)] = [
        ("the shit", 3), ("the bomb", 3), ("bad ass", 1.5), ("badass", 1.5), ("bus stop", 0.0),
        ("yeah right", -2), ("kiss of death", -1.5), ("to die for", 3), ("beating heart", 3.5),
    ]

    /// Words the rules test for by identity. Their position in this list is their id in
    /// `Keyword`, so rule checks compare small integers instead of strings.
    static let keywords: [String] = [
        "no", "but", "kind", "of", "least", "at", "very", "never", "so", "this", "without", "doubt",
        "or", "nor",
    ]
}

/// Ids of the words in `VaderRules.keywords` (phrase words from the idiom tables follow them).
enum Keyword {
    static let no: Int32 = 0
    static let but: Int32 = 1
    static let kind: Int32 = 2
    static let of: Int32 = 3
    static let least: Int32 = 4
    static let at: Int32 = 5
    static let very: Int32 = 6
    static let never: Int32 = 7
    static let so: Int32 = 8
    static let this: Int32 = 9
    static let without: Int32 = 10
    static let doubt: Int32 = 11
    static let or: Int32 = 12
    static let nor: Int32 = 13
}
