import Foundation
import Testing

@testable import AlignRatings

/// A set built from (winner, loser) pairs and ties.
private func comparisons(wins: [(ItemID, ItemID)], ties: [(ItemID, ItemID)] = []) -> ComparisonSet {
    var set = ComparisonSet()
    for (w, l) in wins { set.append(winner: w, loser: l) }
    for (a, b) in ties { set.append(a, b, outcome: .tie) }
    return set
}

@Test func twoItemsHaveTheClosedFormStrength() throws {
    // With only A and B, σ(s_A − s_B) equals A's share of wins: 3 of 4 gives s_A − s_B = ln 3.
    let set = comparisons(wins: [("A", "B"), ("A", "B"), ("A", "B"), ("B", "A")])
    let result = try BradleyTerry(bootstrapSamples: 0).fit(set)
    #expect(abs(result["A"]!.strength - log(3) / 2) < 1e-12)
    #expect(abs(result["B"]!.strength + log(3) / 2) < 1e-12)
    #expect(result.items.map(\.id) == ["A", "B"])
    #expect(abs(result["A"]!.elo - (1500 + 400 / log(10) * log(3) / 2)) < 1e-9)
    #expect(result.warnings.isEmpty)
    #expect(result.priorStandardDeviation == nil)
}

@Test func halfWinTiesMatchExplicitHalfWins() throws {
    // A tie counts as half a win each: one tie and one A win equal 1.5 wins against 0.5.
    let tied = try BradleyTerry(bootstrapSamples: 0).fit(comparisons(wins: [("A", "B")], ties: [("A", "B")]))
    var halves = ComparisonSet()
    halves.append(winner: "A", loser: "B", weight: 1.5)
    halves.append(winner: "B", loser: "A", weight: 0.5)
    let weighted = try BradleyTerry(bootstrapSamples: 0).fit(halves)
    #expect(abs(tied["A"]!.strength - weighted["A"]!.strength) < 1e-12)
    #expect(abs(tied["A"]!.strength - log(3) / 2) < 1e-12)
    #expect(tied["A"]!.ties == 1 && tied["A"]!.wins == 1 && tied["B"]!.losses == 1)
}

@Test func davidsonTwoItemsClosedForm() throws {
    // Two items, w wins, l losses, t ties: the Davidson MLE is e^{d/2} ∝ w, e^{−d/2} ∝ l, ν ∝ t,
    // i.e. d = ln(w/l) and ν = t / √(w·l).
    var set = ComparisonSet()
    set.append(winner: "A", loser: "B", weight: 6)
    set.append(winner: "B", loser: "A", weight: 2)
    set.append("A", "B", outcome: .tie, weight: 3)
    let result = try BradleyTerry(ties: .davidson, bootstrapSamples: 0).fit(set)
    #expect(abs(result["A"]!.strength - log(3) / 2) < 1e-10)
    #expect(abs(result.nu! - 3 / (12.0).squareRoot()) < 1e-10)
    let p = result.outcomeProbabilities(result["A"]!, result["B"]!)
    #expect(abs(p.win - 6 / 11.0) < 1e-10 && abs(p.tie - 3 / 11.0) < 1e-10 && abs(p.loss - 2 / 11.0) < 1e-10)
}

@Test func davidsonWithoutTiesIsThePlainModel() throws {
    let set = comparisons(wins: [("A", "B"), ("A", "B"), ("B", "C"), ("C", "A"), ("C", "B"), ("B", "A")])
    let plain = try BradleyTerry(bootstrapSamples: 0).fit(set)
    let davidson = try BradleyTerry(ties: .davidson, bootstrapSamples: 0).fit(set)
    #expect(davidson.nu == 0)
    #expect(davidson.warnings.contains { $0.contains("no ties") })
    for item in plain.items { #expect(abs(item.strength - davidson[item.id]!.strength) < 1e-10) }
}

@Test func davidsonRejectsOnlyTies() {
    let set = comparisons(wins: [], ties: [("A", "B"), ("B", "C")])
    #expect(throws: RatingError.onlyTies) { try BradleyTerry(ties: .davidson).fit(set) }
    // Half wins handle it: every strength is zero.
    let half = try? BradleyTerry(bootstrapSamples: 0).fit(set)
    #expect(half?.items.allSatisfy { abs($0.strength) < 1e-12 } == true)
}

@Test func priorWarningNamesItemsThatNeverLoseOrWin() throws {
    let set = comparisons(wins: [("A", "B"), ("B", "C"), ("C", "B"), ("A", "C"), ("B", "D"), ("C", "D")])
    let result = try BradleyTerry(bootstrapSamples: 0).fit(set)
    #expect(result.priorStandardDeviation == 2)
    #expect(result.warnings.count == 1)
    let warning = try #require(result.warnings.first)
    #expect(warning.contains("never lost: A"))
    #expect(warning.contains("never won: D"))
    #expect(warning.contains("N(0, 2²) prior"))
    // Finite, ordered and mean zero instead of diverging.
    #expect(result.items.map(\.id) == ["A", "B", "C", "D"] || result.items.map(\.id) == ["A", "C", "B", "D"])
    #expect(result.items.allSatisfy { $0.strength.isFinite && abs($0.strength) < 10 })
    #expect(abs(result.items.reduce(0) { $0 + $1.strength }) < 1e-12)
}

@Test func priorWarningNamesDisconnectedGroupsAndOrderedGroups() throws {
    let split = comparisons(wins: [("A", "B"), ("B", "A"), ("C", "D"), ("D", "C")])
    let warning = try #require(try BradleyTerry(bootstrapSamples: 0).fit(split).warnings.first)
    #expect(warning.contains("2 groups never compared with each other: {A, B} {C, D}"))

    let ordered = comparisons(wins: [("A", "B"), ("B", "A"), ("C", "D"), ("D", "C"), ("A", "C"), ("B", "D")])
    let orderedWarning = try #require(try BradleyTerry(bootstrapSamples: 0).fit(ordered).warnings.first)
    #expect(orderedWarning.contains("no item of a later group ever beat one of an earlier group: {A, B} > {C, D}"))
}

@Test func priorPolicies() throws {
    let connected = comparisons(wins: [("A", "B"), ("B", "A")])
    let always = try BradleyTerry(prior: .always, bootstrapSamples: 0).fit(connected)
    #expect(always.priorStandardDeviation == 2 && always.warnings.isEmpty)
    // Equal records stay at zero whatever the prior.
    #expect(abs(always["A"]!.strength) < 1e-12)

    let diverging = comparisons(wins: [("A", "B")])
    #expect(throws: RatingError.self) { try BradleyTerry(prior: .never).fit(diverging) }
    // The prior's MAP for one win: 1·(1 − σ(2s)) = s/σ² with s = s_A = −s_B; a wider prior spreads more.
    let narrow = try BradleyTerry(priorStandardDeviation: 1, bootstrapSamples: 0).fit(diverging)
    let wide = try BradleyTerry(priorStandardDeviation: 4, bootstrapSamples: 0).fit(diverging)
    let s = narrow["A"]!.strength
    #expect(abs((1 - 1 / (1 + exp(-2 * s))) - s) < 1e-10)
    #expect(wide["A"]!.strength > s)
}

@Test func optionsValidateLikeTheCommandLine() {
    #expect(BradleyTerry.TieModel(rawValue: "davidson") == .davidson)
    #expect(BradleyTerry.TieModel(rawValue: "half") == .half)
    #expect(BradleyTerry.TieModel(rawValue: "draw") == nil)
    #expect(BradleyTerry.PriorPolicy(rawValue: "auto") == .automatic)
    #expect(BradleyTerry.PriorPolicy(rawValue: "never") == .never)
    let defaults = BradleyTerry()
    #expect(defaults.ties == .half && defaults.bootstrapSamples == 1000 && defaults.confidence == 0.95)
    #expect(defaults.seed == 0 && defaults.priorStandardDeviation == 2 && defaults.prior == .automatic)
    #expect(throws: RatingError.invalidOption("--confidence must lie strictly between 0 and 1, got 1.0")) {
        try BradleyTerry(confidence: 1).validate()
    }
    #expect(throws: RatingError.invalidOption("--bootstrap must be 0 or more, got -1")) {
        try BradleyTerry(bootstrapSamples: -1).validate()
    }
    #expect(throws: RatingError.invalidOption("--prior-sd must be a positive number, got 0.0")) {
        try BradleyTerry(priorStandardDeviation: 0).validate()
    }
    #expect(throws: RatingError.noComparisons) { try BradleyTerry().fit(ComparisonSet()) }
}

@Test func outcomeProbabilitiesSumToOne() {
    for d in [-30.0, -2, 0, 0.7, 40] {
        for nu in [nil, 0, 0.3, 2.5] as [Double?] {
            let p = BradleyTerry.outcomeProbabilities(strengthDifference: d, nu: nu)
            #expect(abs(p.win + p.tie + p.loss - 1) < 1e-12)
            #expect(p.win >= 0 && p.tie >= 0 && p.loss >= 0)
        }
    }
    #expect(BradleyTerry.outcomeProbabilities(strengthDifference: 0, nu: 2).tie == 0.5)
}

@Test func largeChainConvergesWithoutRecursionOrDivergence() throws {
    // A long chain where each item beats the next twice and loses once: strongly connected, sparse.
    var set = ComparisonSet()
    for k in 0..<300 {
        set.append(winner: .number(String(k)), loser: .number(String(k + 1)), weight: 2)
        set.append(winner: .number(String(k + 1)), loser: .number(String(k)))
    }
    let result = try BradleyTerry(bootstrapSamples: 0).fit(set)
    #expect(result.converged && result.warnings.isEmpty)
    // Adjacent items differ by exactly ln 2 at the MLE.
    let s0 = result[.number("0")]!.strength, s1 = result[.number("1")]!.strength
    #expect(abs(s0 - s1 - log(2)) < 1e-9)
    #expect(result.items.first?.id == .number("0"))
}
