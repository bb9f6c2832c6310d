import Foundation

/// Learning-rate schedules with linear warm-up, matching transformers' `get_scheduler` names.
/// ``multiplier(step:)`` is the factor applied to the base rate at a 0-based optimiser step.
public struct LearningRateSchedule: Sendable, Hashable, Codable {
    /// The shape after warm-up.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// Constant after warm-up (`constant_with_warmup`; `constant` when warm-up is 0).
        case constant
        /// Linear decay to zero at the last step.
        case linear
        /// Half-cosine decay to zero at the last step.
        case cosine
    }

    public var kind: Kind
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(_ kind: Kind, warmupSteps: Int = 0, totalSteps: Int) {
        self.kind = kind
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// Factor in [0, 1] for the update at `step` (0-based).
    public func multiplier(step: Int) -> Float {
        if step < warmupSteps { return Float(step) / Float(max(1, warmupSteps)) }
        switch kind {
        case .constant:
            return 1
        case .linear:
            return max(0, Float(totalSteps - step) / Float(max(1, totalSteps - warmupSteps)))
        case .cosine:
            let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            return Float(max(0, 0.5 * (1 + cos(Double.pi * progress))))
        }
    }
}
