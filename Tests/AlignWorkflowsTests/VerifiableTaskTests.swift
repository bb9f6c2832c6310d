import Testing
import AlignWorkflows

/// The held-out scores `align accuracy` prints for the verifiable arithmetic task.
@Suite struct VerifiableTaskTests {
    @Test func accuracyFormatAndLenientAccuracy() {
        let completions = [
            "<answer>42</answer>",              // exact
            "The sum is 42.",                   // right number, no tag
            "<answer> 17 </answer> done",       // exact after trimming
            "<answer>41</answer>",              // tagged, wrong
            "<answer>-3</answer>",              // exact, negative
            "no idea",                          // nothing
        ]
        let answers: [String?] = ["42", "42", "17", "42", "-3", nil]
        let a = VerifiableTask.score(completions: completions, answers: answers)
        #expect(a.count == 6)
        #expect(a.accuracy == 3.0 / 6)
        #expect(a.formatRate == 4.0 / 6)
        #expect(a.lenientAccuracy == 4.0 / 6)
        // The same rule as --reward arithmetic: exact text inside the first tag.
        #expect(VerifiableTask.extractAnswer(completions[2]) == "17")
    }

    @Test func emptyIsZero() {
        let a = VerifiableTask.score(completions: [], answers: [])
        #expect(a.count == 0 && a.accuracy == 0 && a.formatRate == 0)
    }
}
