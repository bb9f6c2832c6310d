/// The `post_processor` of `tokenizer.json`: which special tokens surround an encoded sequence when
/// `addSpecialTokens` is true. Only single sequences are supported (pairs are not part of Align's API).
indirect enum PostProcessor {
    /// `TemplateProcessing.single`: ids to put before and after the sequence.
    case template(prefix: [Int32], suffix: [Int32])
    case sequence([PostProcessor])
    /// `ByteLevel` post-processing only trims offsets; it leaves ids alone.
    case none

    init(json: [String: Any], file: String) throws {
        let type = json["type"] as? String ?? ""
        switch type {
        case "TemplateProcessing":
            var idsByName: [String: [Int32]] = [:]
            for (name, value) in json["special_tokens"] as? [String: Any] ?? [:] {
                let ids = (value as? [String: Any])?["ids"] as? [Any] ?? []
                idsByName[name] = ids.compactMap { JSON.int($0).map(Int32.init) }
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
            let cls = (json["cls"] as? [Any])?.last.flatMap(JSON.int).map(Int32.init)
            let sep = (json["sep"] as? [Any])?.last.flatMap(JSON.int).map(Int32.init)
            self = .template(prefix: cls.map { [$0] } ?? [], suffix: sep.map { [$0] } ?? [])
        case "ByteLevel":
            self = .none
        case "Sequence":
            let items = json["processors"] as? [[String: Any]] ?? []
            self = .sequence(try items.map { try PostProcessor(json: $0, file: file) })
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
