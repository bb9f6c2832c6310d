import Foundation

/// A user-facing error message (printed without a stack of types).
struct ValidationErrorMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
