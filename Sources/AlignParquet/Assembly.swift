// Record assembly: the leaf columns' definition and repetition levels put back together into one JSON
// value per row (Dremel). Lists become arrays, structs objects (fields in schema order), nulls null.
//
// Every leaf under a node has exactly one entry for each null or empty list at that node, and the
// leaves under a repeated node share its repetition pattern; so a node looks at its first leaf to
// decide (null? empty? another element?) and consumes one entry from each of its leaves when nothing
// is below. Files that break these invariants are reported, never trusted.
import AlignJSON

struct RecordAssembler {
    var leaves: [LeafData]
    let columns: [LeafColumn]
    /// The leaf where an inconsistency was found, for the error's column name.
    var failingLeaf: Int?

    init(leaves: [LeafData], columns: [LeafColumn]) {
        self.leaves = leaves
        self.columns = columns
    }

    mutating func fail(_ leaf: Int, _ message: String) -> ThriftError {
        failingLeaf = leaf
        return ThriftError(message)
    }

    /// Definition level of a leaf's next entry.
    @inline(__always)
    mutating func peekDefinition(_ leaf: Int) throws -> Int {
        // Read in place: copying the LeafData out would retain and release its three arrays per entry.
        let entry = leaves[leaf].entry
        guard entry < leaves[leaf].count else { throw fail(leaf, "the column has fewer entries than the rows need") }
        return leaves[leaf].definitions.isEmpty ? columns[leaf].maxDefinition : Int(leaves[leaf].definitions[entry])
    }

    /// Repetition level of a leaf's next entry, or nil at its end.
    @inline(__always)
    func peekRepetition(_ leaf: Int) -> Int? {
        let entry = leaves[leaf].entry
        guard entry < leaves[leaf].count else { return nil }
        return leaves[leaf].repetitions.isEmpty ? 0 : Int(leaves[leaf].repetitions[entry])
    }

    /// Consumes the one entry each leaf under `node` has for a null or empty value at `node`.
    mutating func skipAbsent(_ node: SchemaNode, definitionBelow: Int) throws {
        for leaf in node.leaves {
            let definition = try peekDefinition(leaf)
            guard definition < definitionBelow else {
                throw fail(leaf, "the column's levels disagree with its sibling columns")
            }
            leaves[leaf].entry += 1
        }
    }

    /// Reads one row: the root's fields, as an object.
    mutating func row(_ root: SchemaNode) throws -> JSONValue {
        for leaf in root.leaves where peekRepetition(leaf) != 0 {
            throw fail(leaf, peekRepetition(leaf) == nil ? "the column has fewer entries than the rows need"
                                                           : "a row starts with a nonzero repetition level")
        }
        return try .object(root.children.map { ($0.name, try field($0)) })
    }

    /// A field's value, with its own repetition applied: null when optional and absent, an array
    /// when repeated without a LIST annotation (the legacy bare form).
    mutating func field(_ node: SchemaNode) throws -> JSONValue {
        switch node.repetition {
        case .required:
            return try content(node)
        case .optional:
            guard let first = node.leaves.first else { return .null }
            if try peekDefinition(first) < node.maxDefinition {
                try skipAbsent(node, definitionBelow: node.maxDefinition)
                return .null
            }
            return try content(node)
        case .repeated:
            return try repeated(node) { a, n in try a.content(n) }
        }
    }

    /// The elements of the repeated node `node`, each read by `element`.
    mutating func repeated(_ node: SchemaNode, _ element: (inout RecordAssembler, SchemaNode) throws -> JSONValue) throws -> JSONValue {
        guard let first = node.leaves.first else { return .array([]) }
        if try peekDefinition(first) < node.maxDefinition {
            try skipAbsent(node, definitionBelow: node.maxDefinition)
            return .array([])
        }
        var items: [JSONValue] = []
        while true {
            let before = leaves[first].entry
            items.append(try element(&self, node))
            guard leaves[first].entry > before else { throw fail(first, "a list element consumed no entries") }
            guard peekRepetition(first) == node.maxRepetition else { break }
        }
        return .array(items)
    }

    /// A present node's value (its own null/repetition already handled).
    mutating func content(_ node: SchemaNode) throws -> JSONValue {
        if let leaf = node.leafIndex { return try value(leaf) }
        let annotation = node.element.annotation
        if node.children.count == 1, node.children[0].repetition == .repeated {
            let repeatedChild = node.children[0]
            if annotation == .list {
                return try repeated(repeatedChild) { a, r in try a.listElement(r, listName: node.name) }
            }
            if annotation == .map, repeatedChild.children.count == 2 {
                // pyarrow's to_pylist gives a map as a list of (key, value) pairs.
                return try repeated(repeatedChild) { a, r in
                    .array([try a.field(r.children[0]), try a.field(r.children[1])])
                }
            }
        }
        var members: [(key: String, value: JSONValue)] = []
        members.reserveCapacity(node.children.count)
        for child in node.children { members.append((child.name, try field(child))) }
        return .object(members)
    }

    /// One element of a LIST: the standard 3-level form (`repeated group list { element }`) gives the
    /// single child; the legacy 2-level forms (a repeated primitive, a repeated group with several
    /// fields, or one named `array` / `<list>_tuple`) make the repeated node itself the element.
    mutating func listElement(_ repeatedNode: SchemaNode, listName: String) throws -> JSONValue {
        if repeatedNode.isLeaf || repeatedNode.children.count != 1
            || repeatedNode.name == "array" || repeatedNode.name == listName + "_tuple" {
            return try content(repeatedNode)
        }
        return try field(repeatedNode.children[0])
    }

    /// A leaf's next value (its entry must be defined all the way down).
    mutating func value(_ leaf: Int) throws -> JSONValue {
        let definition = try peekDefinition(leaf)
        guard definition == columns[leaf].maxDefinition else {
            throw fail(leaf, "a required value is missing (definition level \(definition))")
        }
        let index = leaves[leaf].value
        guard index < leaves[leaf].values.count else { throw fail(leaf, "the column has fewer values than its levels say") }
        leaves[leaf].entry += 1
        leaves[leaf].value = index + 1
        return leaves[leaf].values[index]
    }

    /// After the last row every entry and value must have been used.
    mutating func checkFinished() throws {
        for (i, data) in leaves.enumerated() {
            guard data.entry == data.count, data.value == data.values.count else {
                throw fail(i, "the column has \(data.count - data.entry) entries and \(data.values.count - data.value) values beyond the row group's rows")
            }
        }
    }
}
