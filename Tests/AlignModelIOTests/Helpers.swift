// Shared helpers of the AlignModelIO tests: fixture paths, expected-value files, temporary folders.
import Foundation
import Testing
@testable import AlignModelIO
import TestSupport

/// The committed fixtures folder, found relative to this source file (no bundle resources needed).
let fixturesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Expected tensors written by scripts/make_modelio_fixtures.py: name -> (shape, fp32 values).
func loadExpected(_ relativePath: String) throws -> [String: (shape: [Int], values: [Float])] {
    let data = try Data(contentsOf: fixturesURL.appendingPathComponent(relativePath))
    let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    let tensors = (object["tensors"] as? [String: Any]) ?? object
    var result: [String: (shape: [Int], values: [Float])] = [:]
    for (name, entry) in tensors {
        let dict = entry as! [String: Any]
        let shape = (dict["shape"] as! [NSNumber]).map { $0.intValue }
        let values = (dict["values"] as! [NSNumber]).map { Float($0.doubleValue) }
        result[name] = (shape, values)
    }
    return result
}

/// A fresh temporary folder, removed by the caller with `removeTemporaryFolder`.
func makeTemporaryFolder() throws -> URL {
    let url = testScratchDirectory.appendingPathComponent("align-modelio-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Removes a folder made by `makeTemporaryFolder`.
func removeTemporaryFolder(_ url: URL) {
    try? FileManager.default.removeItem(at: url)
}

/// The largest absolute difference between two equally long arrays (infinity if lengths differ).
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    var worst: Float = 0
    for i in a.indices {
        if a[i].isNaN != b[i].isNaN { return .infinity }
        if !a[i].isNaN { worst = max(worst, abs(a[i] - b[i])) }
    }
    return worst
}

/// Runs `body` and returns the `ModelIOError` it throws (failing the test if it throws nothing).
func expectModelIOError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> ModelIOError? {
    do {
        try body()
        Issue.record("expected a ModelIOError, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as ModelIOError {
        return error
    } catch {
        Issue.record("expected a ModelIOError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
