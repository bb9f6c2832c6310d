// Resource limits for parsing and rendering. A chat template comes from a downloaded file, so a hostile or
// broken one (`{% for i in range(10**9) %}`, `'a' * 10**9`, `(((((...`) must fail with an error that says
// which limit it hit, not exhaust memory, hang, or overflow the stack. Every limit is a count checked where
// the work happens (no clocks), so a render that fails, fails the same way every time, and the checks cost
// an integer compare. The values sit far above what real chat templates need: the largest fixtures in
// Tests/AlignTemplatesTests render well under 1,000 loop iterations and a few kilobytes.

/// The resource limits every ``Template`` enforces; exceeding one throws a ``TemplateError`` of kind `.limit`.
public enum TemplateLimits {
    /// Loop iterations in one render, all `for` loops together (including `for ... if` filtering).
    public static let maxLoopIterations = 1_000_000
    /// Bytes (UTF-8) of the rendered text, of any captured block, and of any one string a template builds:
    /// 16 MiB, hundreds of times a long conversation.
    public static let maxStringBytes = 16 << 20
    /// Elements of any one list a template builds (`[x] * n`, `a + b`).
    public static let maxListLength = 1_000_000
    /// Elements of one `range()`: Jinja2's sandbox (which transformers renders in) allows 100,000 too.
    public static let maxRangeLength = 100_000
    /// Nested macro calls (recursion included).
    public static let maxMacroDepth = 100
    /// Nesting of lists, tuples and dicts a template builds (and stores in namespaces); printing, comparing and
    /// freeing values recurse, so unbounded nesting would overflow the stack. Python's own recursion limit is
    /// 1,000 too, and JSON arguments are read at most 512 deep.
    public static let maxValueNesting = 1_000
    /// Nesting of statements and expressions in the source (parentheses, operators chained in one expression,
    /// blocks inside blocks); parsing and evaluating recurse once per level.
    public static let maxSyntaxNesting = 200
    /// Units of work in one render: one per expression evaluated and loop iteration, plus one per element (or
    /// 8 bytes of text) that a filter, method, operator or comparison reads, so that loops over bulk operations
    /// (`join` of a long list a million times, `unique` of a long list) stop too. A fraction of a second of
    /// work in a release build; rendering a 5 MB, 5,000-message conversation takes about 3 million.
    public static let maxWork = 20_000_000
}

extension TemplateError {
    /// A `.limit` error: `what` exceeded `limit`.
    static func limit(_ what: String, line: Int?) -> TemplateError {
        TemplateError(.limit, what, line: line)
    }
}

/// Throws when a string of `bytes` UTF-8 bytes would exceed ``TemplateLimits/maxStringBytes``.
@inline(__always)
func checkStringBytes(_ bytes: Int, line: Int?) throws {
    if bytes > TemplateLimits.maxStringBytes {
        throw TemplateError.limit("string longer than \(TemplateLimits.maxStringBytes) bytes (the template size limit)", line: line)
    }
}

/// `a * b` for sizes, saturating instead of trapping, so size checks can multiply hostile counts.
@inline(__always)
func saturatingProduct(_ a: Int, _ b: Int) -> Int {
    let (product, overflow) = max(a, 0).multipliedReportingOverflow(by: max(b, 0))
    return overflow ? Int.max : product
}

extension TemplateValue {
    /// Lists, tuples, dicts, namespaces and loops: the values that hold other values.
    var isContainer: Bool {
        switch self {
        case .array, .tuple, .object, .namespace, .loop: return true
        default: return false
        }
    }
}

/// Roughly how many bytes `value` prints as (strings counted by their UTF-8 bytes, so escapes can make the real
/// text a few times longer, never more), saturating and stopping once past `limit`. Printing a list that holds
/// one big string a million times would otherwise build terabytes before any check saw the result. `visits`
/// counts the values looked at, which the caller charges as work.
func printedSize(_ value: TemplateValue, limit: Int, visits: inout Int) -> Int {
    visits += 1
    switch value {
    case .string(let s): return s.utf8.count + 2
    case .array(let items), .tuple(let items):
        var total = 2
        for item in items {
            total = total &+ printedSize(item, limit: limit, visits: &visits) &+ 2
            if total > limit || total < 0 { return Int.max }
        }
        return total
    case .object(let o):
        var total = 2
        for (key, item) in o.pairs {
            total = total &+ key.utf8.count &+ printedSize(item, limit: limit, visits: &visits) &+ 6
            if total > limit || total < 0 { return Int.max }
        }
        return total
    case .namespace(let ns):
        return printedSize(.object(ns.attributes), limit: limit, visits: &visits) &+ 12
    default:
        return 24
    }
}
