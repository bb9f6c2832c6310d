import Foundation

extension RatingResult {
    /// The result as JSON: `{"items": [{"id", "strength", "elo", "ci_low", "ci_high", "wins", "losses",
    /// "ties"}, ...], ...}` with items strongest first, then fit details (`ties_model`, `nu` for the
    /// Davidson model, `log_likelihood`, `iterations`, `converged`, `prior_sd`, `comparisons`,
    /// `bootstrap`, `confidence`, `seed`, `warnings`).
    ///
    /// Strengths are natural-log units; `ci_low`/`ci_high` bound the strength (null without a
    /// bootstrap). Numeric ids are written back as numbers, exactly as they were given. One item per
    /// line keeps the output readable and easy to grep.
    public func json() -> String {
        var out = "{\n  \"items\": ["
        for (k, item) in items.enumerated() {
            out += k == 0 ? "\n    " : ",\n    "
            out += "{\"id\": \(jsonID(item.id))"
            out += ", \"strength\": \(jsonNumber(item.strength))"
            out += ", \"elo\": \(jsonNumber(item.elo))"
            out += ", \"ci_low\": \(jsonNumber(item.interval?.lowerBound))"
            out += ", \"ci_high\": \(jsonNumber(item.interval?.upperBound))"
            out += ", \"wins\": \(jsonNumber(item.wins))"
            out += ", \"losses\": \(jsonNumber(item.losses))"
            out += ", \"ties\": \(jsonNumber(item.ties))}"
        }
        out += items.isEmpty ? "],\n" : "\n  ],\n"
        out += "  \"ties_model\": \(jsonString(tieModel.rawValue)),\n"
        if tieModel == .davidson {
            out += "  \"nu\": \(jsonNumber(nu)),\n"
            if let interval = bootstrap?.nuInterval {
                out += "  \"nu_ci_low\": \(jsonNumber(interval.lowerBound)),\n"
                out += "  \"nu_ci_high\": \(jsonNumber(interval.upperBound)),\n"
            }
        }
        out += "  \"log_likelihood\": \(jsonNumber(logLikelihood)),\n"
        out += "  \"iterations\": \(iterations),\n"
        out += "  \"converged\": \(converged),\n"
        out += "  \"prior_sd\": \(jsonNumber(priorStandardDeviation)),\n"
        out += "  \"comparisons\": \(comparisonCount),\n"
        out += "  \"bootstrap\": \(bootstrap?.samples ?? 0),\n"
        if let bootstrap {
            out += "  \"confidence\": \(jsonNumber(bootstrap.confidence)),\n"
            out += "  \"seed\": \(bootstrap.seed),\n"
        }
        out += "  \"warnings\": [" + warnings.map(jsonString).joined(separator: ", ") + "]\n}\n"
        return out
    }

    /// A human-readable report: a ranked table (rank, id, strength, interval, Elo, wins/losses/ties),
    /// a legend, and for at most `matrixItemLimit` items the predicted P(row beats column) matrix.
    public func table(matrixItemLimit: Int = 12) -> String {
        let tieText = tieModel == .half ? "ties count as half a win each" : "Davidson tie model"
        let weightText = totalWeight == Double(comparisonCount) ? "" : " (total weight \(count(totalWeight)))"
        var out = "Bradley–Terry ratings of \(items.count) items from \(comparisonCount) comparisons"
            + "\(weightText), \(tieText)\n\n"

        let percent = format((bootstrap?.confidence ?? 0.95) * 100, digits: 1) + "% CI"
        var header = ["Rank", "Item", "Strength"]
        if bootstrap != nil { header.append(percent) }
        header += ["Elo", "W", "L", "T"]
        var rows: [[String]] = []
        for (k, item) in items.enumerated() {
            var row = [String(k + 1), clip(item.id.description, 24), fixed(item.strength, 3)]
            if let interval = item.interval {
                row.append("[\(fixed(interval.lowerBound, 2)), \(fixed(interval.upperBound, 2))]")
            } else if bootstrap != nil {
                row.append("")
            }
            row += [fixed(item.elo, 0), count(item.wins), count(item.losses), count(item.ties)]
            rows.append(row)
        }
        // Text columns (the id) are left-aligned, numbers right-aligned.
        let leftAligned: Set<Int> = [1]
        var widths = header.map(\.count)
        for row in rows { for (c, cell) in row.enumerated() { widths[c] = max(widths[c], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return leftAligned.contains(c) ? cell + pad : pad + cell
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        out += line(header) + "\n"
        for row in rows { out += line(row) + "\n" }

        out += "\nStrength is in natural-log odds with mean 0: P(i beats j) = 1 / (1 + exp(s_j − s_i)).\n"
        out += "Elo = 1500 + 400/ln(10) × strength (400 Elo points = odds of 10 to 1).\n"
        if let bootstrap {
            out += "\(percent): percentile interval of the strength over \(bootstrap.samples) bootstrap resamples"
                + " (seed \(bootstrap.seed)).\n"
        }
        if tieModel == .davidson, let nu {
            var text = "Davidson ν = \(format(nu))"
            if let interval = bootstrap?.nuInterval {
                text += " (\(percent) \(format(interval.lowerBound))–\(format(interval.upperBound)))"
            }
            out += text + "; two equal items tie with probability ν/(2+ν) = \(format(nu / (2 + nu))).\n"
        }
        if let sd = priorStandardDeviation {
            out += "A N(0, \(format(sd))²) prior on each strength keeps estimates finite (see the warning).\n"
        }

        if items.count >= 2 && items.count <= matrixItemLimit {
            out += "\nPredicted P(row beats column)"
                + (tieModel == .davidson && (nu ?? 0) > 0 ? "; a tie takes the rest:\n" : ":\n")
            let labels = items.map { clip($0.id.description, 10) }
            let labelWidth = labels.map(\.count).max() ?? 0
            let cellWidth = max(5, labelWidth)
            func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
                let space = String(repeating: " ", count: max(0, width - s.count))
                return left ? s + space : space + s
            }
            out += String(repeating: " ", count: labelWidth)
                + labels.map { "  " + pad($0, cellWidth) }.joined() + "\n"
            for (r, a) in items.enumerated() {
                var text = pad(labels[r], labelWidth, left: true)
                for (c, b) in items.enumerated() {
                    let cell = r == c ? "-" : fixed(outcomeProbabilities(a, b).win, 2)
                    text += "  " + pad(cell, cellWidth)
                }
                out += text + "\n"
            }
        } else if items.count > matrixItemLimit {
            out += "\n(The win-probability matrix is shown for at most \(matrixItemLimit) items.)\n"
        }
        return out
    }
}

// MARK: - Helpers

/// `x` with exactly `digits` decimals (never "-0.00").
private func fixed(_ x: Double, _ digits: Int) -> String {
    let text = String(format: "%.\(digits)f", x)
    if text.hasPrefix("-"), Double(text) == 0 { return String(text.dropFirst()) }
    return text
}

/// A count: an integer when whole, else up to three decimals.
private func count(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : format(x)
}

private func clip(_ text: String, _ limit: Int) -> String {
    text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
}

private func jsonID(_ id: ItemID) -> String {
    switch id {
    case .string(let s): return jsonString(s)
    case .number(let n): return n
    }
}

/// Shortest round-trip decimal for finite numbers (integers without ".0"), `null` otherwise.
private func jsonNumber(_ x: Double?) -> String {
    guard let x, x.isFinite else { return "null" }
    if x == x.rounded() && abs(x) < 1e15 { return String(Int(x)) }
    return "\(x)"
}

private func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
