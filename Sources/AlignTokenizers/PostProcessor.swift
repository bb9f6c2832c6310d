/// The `post_processor` of `tokenizer.json`: which special tokens surround an encoded sequence when
/// `addSpecialTokens` is true. Only single sequences are supported (pairs are not part of Align's API).
indirect enum PostProcessor {
    /// `TemplateProcessing.single`: ids to put before and after the sequence.
    case template(prefix: [Int32], suffix: [Int32])
    case sequence([PostProcessor])
    /// `ByteLevel` post-processing only trims offsets; it leaves ids alone.
    case none

    /// Reads the post-processor; every id must lie in `0..<idLimit` (the ids the file defines), since
    /// the ids it adds are fed to the model as they are.
    init(json: [String: Any], file: String, idLimit: Int) throws {
        func checked(_ value: Any?, _ what: String) throws -> Int32 {
            guard let id = JSON.int(value), id >= 0, id < idLimit else {
                throw TokenizerError(file, "post_processor \(what) has id \(JSON.describe(value)), expected an integer in 0..<\(idLimit)")
            }
            return Int32(id)
        }
        let type = json["type"] as? String ?? ""
        switch type {
        case "TemplateProcessing":
            var idsByName: [String: [Int32]] = [:]
            for (name, value) in json["special_tokens"] as? [String: Any] ?? [:] {
                let ids = (value as? [String: Any])?["ids"] as? [Any] ?? []
                idsByName[name] = try ids.map { try checked($0, "special token \(JSON.quoted(name))") }
            }
            var prefix: [Int32] = [], suffix: [Int32] = []
            var seenSequence = false
            for item in json["single"] as? [[String: Any]] ?? [] {
                if item["Sequence"] != nil {
                    seenSequence = true
                } else if let special = item["SpecialToken"] as? [String: Any], let name = special["id"] as? String {
                    guard let ids = idsByName[name] else {
                        throw TokenizerError(file, "TemplateProcessing names special token \"\(name)\" without ids")
                    }
                    if seenSequence { suffix += ids } else { prefix += ids }
                }
            }
            self = .template(prefix: prefix, suffix: suffix)
        case "RobertaProcessing", "BertProcessing":
            // `cls` and `sep` are [token, id] pairs.
            let cls = try (json["cls"] as? [Any])?.last.map { try checked($0, "cls") }
            let sep = try (json["sep"] as? [Any])?.last.map { try checked($0, "sep") }
            self = .template(prefix: cls.map { [$0] } ?? [], suffix: sep.map { [$0] } ?? [])
        case "ByteLevel":
            self = .none
        case "Sequence":
            let items = json["processors"] as? [[String: Any]] ?? []
            self = .sequence(try items.map { try PostProcessor(json: $0, file: file, idLimit: idLimit) })
        default:
            throw TokenizerError(file, "post-processor type \"\(type)\" is not supported")
        }
    }

    /// Surrounds `ids` with the template's special tokens.
    func process(_ ids: [Int32]) -> [Int32] {
        switch self {
        case .template(let prefix, let suffix):
            return prefix.isEmpty && suffix.isEmpty ? ids : prefix + ids + suffix
        case .sequence(let steps):
            return steps.reduce(ids) { $1.process($0) }
        case .none:
            return ids
        }
    }
}
