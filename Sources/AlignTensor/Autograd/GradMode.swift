/// Whether ops record the graph that ``Tensor/backward(seed:)`` walks. Off inside
/// ``withNoGrad(_:)``, where a frozen reference model's forward keeps no activations.
///
/// The switch is task-local, so concurrent tasks (parallel tests, a background evaluation)
/// never turn recording off for each other.
public enum GradMode {
    @TaskLocal static var disabled = false
    /// True unless inside ``withNoGrad(_:)``.
    public static var isEnabled: Bool { !disabled }
}

/// Runs `body` without recording any autograd graph: results require no gradient and hold no
/// references to their inputs.
@discardableResult
public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
    try GradMode.$disabled.withValue(true) { try body() }
}
