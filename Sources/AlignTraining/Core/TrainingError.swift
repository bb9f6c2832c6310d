import AlignSettings
import Foundation

/// Throws ``TrainingError/invalidSetting(key:message:)`` ("`key` `message`") unless `ok`.
func requireSetting(_ ok: Bool, _ key: String, _ message: @autoclosure () -> String) throws {
    if !ok { throw TrainingError.invalidSetting(key: key, message: "\(key) \(message())") }
}

/// Longest `max_length` a configuration may ask for (tokens); the model's own position table is
/// checked against the data once the model is loaded.
public let maximumSequenceLength = 1 << 20

/// Checks `max_length` (2...``maximumSequenceLength``) and `max_prompt_length` (0..<max_length).
func validateLengths(maxLength: Int?, maxPromptLength: Int?) throws {
    if let m = maxLength {
        try requireSetting((2...maximumSequenceLength).contains(m), "max_length", "must be in 2...\(maximumSequenceLength), got \(m)")
    }
    if let p = maxPromptLength {
        try requireSetting(p >= 0, "max_prompt_length", "must be ≥ 0, got \(p)")
        if let m = maxLength {
            try requireSetting(p < m, "max_prompt_length", "(\(p)) must be less than max_length (\(m))")
        }
    }
}

/// Why a run stopped early.
public enum TrainingError: Error, CustomStringConvertible {
    case invalidConfiguration(String)
    /// A setting out of range: `key` is its snake_case name (so the CLI can name the flag or the
    /// config file's line), `message` the whole sentence.
    case invalidSetting(key: String, message: String)
    /// A loss, log-prob or gradient norm became NaN or ±inf: `step` is 1-based (as in
    /// metrics.jsonl), `examples` names the rows that produce it (`file:line`).
    case nonFinite(step: Int, what: String, examples: [String])
    case interrupted(checkpoint: URL)
    case noCheckpoint(URL)
    case checkpoint(URL, String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(m): return "invalid configuration: \(m)"
        case let .invalidSetting(_, m): return "invalid configuration: \(m)"
        case let .nonFinite(step, what, examples):
            return "step \(step): \(what) is not finite (NaN or ±inf) on training example\(examples.count == 1 ? "" : "s") \(examples.joined(separator: ", "))"
        case let .interrupted(url): return "interrupted; checkpoint saved to \(url.path) (continue with --resume)"
        case let .noCheckpoint(url): return "no complete checkpoint-N folder in \(url.path) to resume from"
        case let .checkpoint(url, reason): return "\(url.path): \(reason)"
        }
    }
}

extension TrainingError: KeyedSettingError {
    /// The key of an ``invalidSetting(key:message:)``.
    public var settingKey: String? {
        if case let .invalidSetting(key, _) = self { return key }
        return nil
    }
    /// The message without the "invalid configuration:" prefix.
    public var settingMessage: String {
        if case let .invalidSetting(_, message) = self { return message }
        return description
    }
}
