import Foundation
import Testing

@testable import AlignRatings

/// One case of Fixtures/expected.json, written by scripts/make_rating_fixtures.py from an independent
/// fit (scipy BFGS + trust-region polish on a torch-autograd negative log-likelihood).
struct RatingFixture: Sendable, CustomStringConvertible {
    var name: String
    var file: String
    var ties: BradleyTerry.TieModel
    var prior: Bool
    var nu: Double?
    var logLikelihood: Double
    var strengths: [(id: ItemID, strength: Double)]

    var description: String { name }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static let all: [RatingFixture] = {
        let url = directory.appendingPathComponent("expected.json")
        guard let data = try? Data(contentsOf: url),
            let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let cases = root["cases"] as? [[String: Any]]
        else { return [] }
        return cases.map { c in
            RatingFixture(
                name: c["name"] as! String, file: c["file"] as! String,
                ties: BradleyTerry.TieModel(rawValue: c["ties"] as! String)!, prior: c["prior"] as! Bool,
                nu: c["nu"] as? Double, logLikelihood: c["log_likelihood"] as! Double,
                strengths: (c["strengths"] as! [[String: Any]]).map { e in
                    let text = e["id"] as! String
                    return ((e["numeric"] as! Bool) ? .number(text) : .string(text), e["strength"] as! Double)
                })
        }
    }()

    func load() throws -> ComparisonSet {
        let data = try Data(contentsOf: RatingFixture.directory.appendingPathComponent(file))
        return try ComparisonSet(json: data, source: file)
    }
}

@Test func fixturesArePresent() {
    #expect(RatingFixture.all.count >= 10)
    #expect(RatingFixture.all.contains { $0.prior && $0.ties == .davidson })
    #expect(RatingFixture.all.contains { !$0.prior && $0.ties == .davidson })
}

@Test(arguments: RatingFixture.all)
func strengthsMatchIndependentFit(_ fixture: RatingFixture) throws {
    let comparisons = try fixture.load()
    let result = try BradleyTerry(ties: fixture.ties, bootstrapSamples: 0).fit(comparisons)

    #expect(result.converged)
    #expect(result.gradientNorm < 1e-10)
    #expect((result.priorStandardDeviation != nil) == fixture.prior, "prior applied iff not strongly connected")
    #expect(result.warnings.isEmpty == !fixture.prior)
    #expect(result.items.count == fixture.strengths.count)
    for (id, expected) in fixture.strengths {
        let fitted = try #require(result[id], "missing item \(id)")
        #expect(abs(fitted.strength - expected) < 1e-6, "\(fixture.name) \(id): \(fitted.strength) vs \(expected)")
    }
    if let nu = fixture.nu {
        let fitted = try #require(result.nu)
        #expect(abs(fitted - nu) < 1e-6 * max(1, nu), "ν \(fitted) vs \(nu)")
    } else {
        #expect(result.nu == nil)
    }
    #expect(abs(result.logLikelihood - fixture.logLikelihood) < 1e-8 * max(1, abs(fixture.logLikelihood)))
    let mean = result.items.reduce(0) { $0 + $1.strength } / Double(result.items.count)
    #expect(abs(mean) < 1e-12)
}
