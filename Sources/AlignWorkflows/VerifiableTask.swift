import AlignTraining
import Foundation

/// The rewards of the verifiable task shipped for GRPO (data/arithmetic, made by
/// scripts/tasks/make_arithmetic.py): two-operand arithmetic questions ("What is 17 + 25?") whose
/// answer is expected as `<answer>42</answer>`. Rows are `{"prompt": [...messages...], "answer": "42"}`;
/// the rewards read the row's `answer` field.
public enum VerifiableTask {
    /// The system instruction every question carries.
    public static let instruction = "Answer with the number only, inside <answer></answer> tags."

    /// The text inside the first `<answer>…</answer>`, trimmed; nil when there is none.
    public static func extractAnswer(_ completion: String) -> String? {
        guard let open = completion.range(of: "<answer>"),
              let close = completion.range(of: "</answer>", range: open.upperBound..<completion.endIndex) else { return nil }
        return completion[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The first integer in a completion's answer tag, else in the completion (for accuracy
    /// counted without the format).
    public static func predictedNumber(_ completion: String) -> Int? {
        let text = extractAnswer(completion) ?? completion
        var digits = ""
        for ch in text {
            if ch.isNumber || (ch == "-" && digits.isEmpty) { digits.append(ch) } else if !digits.isEmpty && digits != "-" { break } else { digits = "" }
        }
        return Int(digits)
    }

    /// 1 when the answer tag holds exactly the row's `answer`, else 0.
    public static func accuracyReward(_ input: RewardInput) -> Double {
        guard let want = input.fields["answer"], let got = extractAnswer(input.completion) else { return 0 }
        return got == want ? 1 : 0
    }

    /// 1 when the completion has an `<answer>…</answer>` tag, else 0.
    public static func formatReward(_ input: RewardInput) -> Double {
        extractAnswer(input.completion) == nil ? 0 : 1
    }
}

extension VerifiableTask {
    /// Held-out scores of completions against their rows' answers.
    public struct Accuracy: Codable, Equatable, Sendable {
        /// Completions scored.
        public var count: Int
        /// Share whose `<answer>` tag holds exactly the answer (what `--reward arithmetic` pays).
        public var accuracy: Double
        /// Share with an `<answer>…</answer>` tag at all (`--reward format`).
        public var formatRate: Double
        /// Share whose first number (in the tag, else anywhere) equals the answer: accuracy without the format.
        public var lenientAccuracy: Double
    }

    /// Scores `completions[i]` against `answers[i]` (nil answers count as wrong).
    public static func score(completions: [String], answers: [String?]) -> Accuracy {
        precondition(completions.count == answers.count, "one answer per completion")
        var exact = 0, formatted = 0, lenient = 0
        for (completion, answer) in zip(completions, answers) {
            let tagged = extractAnswer(completion)
            if tagged != nil { formatted += 1 }
            guard let answer else { continue }
            if tagged == answer { exact += 1 }
            if let want = Int(answer), predictedNumber(completion) == want { lenient += 1 }
        }
        let n = Double(max(completions.count, 1))
        return Accuracy(count: completions.count, accuracy: Double(exact) / n, formatRate: Double(formatted) / n,
                        lenientAccuracy: Double(lenient) / n)
    }
}
