import AlignRatings
import ArgumentParser
import Foundation

extension BradleyTerry.TieModel: ExpressibleByArgument {}
extension BradleyTerry.PriorPolicy: ExpressibleByArgument {}

/// `align rate`: Bradley–Terry strengths from pairwise comparisons. The maths and formatting live in
/// AlignRatings; this file only maps flags onto `BradleyTerry` and prints.
struct RateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rate",
        abstract: "Fit Bradley–Terry strengths to pairwise comparisons, with bootstrap confidence intervals.",
        discussion: """
            Reads JSON Lines or a JSON array of {"winner": id, "loser": id} or \
            {"a": id, "b": id, "winner": "a"|"b"|"tie"} records (ids are strings or numbers; an optional \
            "weight" or "count" repeats a record). Strengths s are natural-log odds with mean zero, \
            P(i beats j) = 1/(1 + exp(s_j - s_i)); Elo = 1500 + 400/ln(10) * s. When an item never \
            loses or never wins, or groups of items were never compared, a weak N(0, σ²) prior keeps \
            the estimates finite and a warning names the items.
            """)

    @Argument(help: "Comparison file (JSON Lines or a JSON array), or - for standard input.")
    var input: String

    @Option(help: "How ties count: half (half a win each) or davidson (fitted tie parameter ν).")
    var ties: BradleyTerry.TieModel = .half

    @Option(help: "Bootstrap resamples for the confidence intervals (0 skips them).")
    var bootstrap: Int = 1000

    @Option(help: "Coverage of the bootstrap percentile intervals.")
    var confidence: Double = 0.95

    @Option(help: "Seed of the bootstrap resampling.")
    var seed: UInt64 = 0

    @Option(help: "When to add the Gaussian prior on strengths: auto (only when the MLE diverges), always, never.")
    var prior: BradleyTerry.PriorPolicy = .automatic

    @Option(name: .customLong("prior-sd"), help: "Standard deviation σ of the prior, in natural-log strength units.")
    var priorStandardDeviation: Double = 2

    @Option(help: "Show the win-probability matrix for at most this many items.")
    var matrixLimit: Int = 12

    @Flag(help: "Print JSON: {\"items\": [{\"id\", \"strength\", \"elo\", \"ci_low\", \"ci_high\", \"wins\", \"losses\", \"ties\"}, ...]}.")
    var json = false

    /// The fit options these flags describe.
    var model: BradleyTerry {
        BradleyTerry(
            ties: ties, prior: prior, priorStandardDeviation: priorStandardDeviation,
            bootstrapSamples: bootstrap, confidence: confidence, seed: seed)
    }

    func validate() throws {
        do { try model.validate() } catch let error as RatingError { throw ValidationError(error.description) }
    }

    func run() throws {
        let source = input == "-" ? "<stdin>" : input
        let data: Data
        if input == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: input) else {
                throw RateFailure(message: "cannot read \(input)")
            }
            data = contents
        }
        do {
            let comparisons = try ComparisonSet(json: data, source: source)
            let result = try model.fit(comparisons)
            for warning in result.warnings {
                FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
            }
            print(json ? result.json() : result.table(matrixItemLimit: matrixLimit), terminator: "")
        } catch let error as ComparisonParseError {
            throw RateFailure(message: error.description)
        } catch let error as RatingError {
            throw RateFailure(message: error.description)
        }
    }
}

/// An error whose text is printed as is, after `Error: `.
private struct RateFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
