import AlignKernels
import AlignTraining
import Foundation

/// A task with exact answers for GRPO: generated two-operand arithmetic questions
/// ("What is 17 + 25?"), the answer expected as `<answer>42</answer>`. Rows are JSON objects
/// `{"prompt": [...messages...], "answer": "42"}`; the rewards read the row's `answer` field.
public enum VerifiableTask {
    /// The system instruction every question carries.
    public static let instruction = "Answer with the number only, inside <answer></answer> tags."

    /// `count` questions from `seed`: a + b, a − b (a ≥ b) and a × b with a, b in 0...`maxOperand`
    /// (products use operands up to 12).
    public static func questions(count: Int, seed: UInt64, maxOperand: Int = 50) -> [(question: String, answer: Int)] {
        var g = RandomGenerator(seed: seed)
        func draw(_ upper: Int) -> Int { Int(g.next() % UInt64(upper + 1)) }
        return (0..<count).map { _ in
            switch g.next() % 3 {
            case 0:
                let (a, b) = (draw(maxOperand), draw(maxOperand))
                return ("What is \(a) + \(b)?", a + b)
            case 1:
                let (x, y) = (draw(maxOperand), draw(maxOperand))
                let (a, b) = (max(x, y), min(x, y))
                return ("What is \(a) - \(b)?", a - b)
            default:
                let (a, b) = (draw(12), draw(12))
                return ("What is \(a) * \(b)?", a * b)
            }
        }
    }

    /// JSON Lines rows for `questions` (conversational prompts, chat template applied by the trainers).
    public static func jsonLines(_ questions: [(question: String, answer: Int)]) -> String {
        questions.map { q in
            let escaped = q.question.replacingOccurrences(of: "\"", with: "\\\"")
            return "{\"prompt\": [{\"role\": \"system\", \"content\": \"\(instruction)\"}, {\"role\": \"user\", \"content\": \"\(escaped)\"}], \"answer\": \"\(q.answer)\"}"
        }.joined(separator: "\n") + "\n"
    }

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
