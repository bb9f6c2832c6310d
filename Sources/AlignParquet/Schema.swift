// The schema tree rebuilt from the footer's depth-first list of elements, with each node's maximum
// definition and repetition levels (Dremel) and the leaf columns under it.

/// How a leaf's stored values become JSON.
enum ValueKind {
    case boolean
    case int32, uint32, int64, uint64
    case decimal32(scale: Int), decimal64(scale: Int)
    case float, double
    /// BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY as UTF-8 text (annotated STRING/ENUM/JSON, or bare binary
    /// that is valid UTF-8: a JSON dataset has no other way to hold it).
    case text
    case float16
    case unsupported(String)
}

/// One node of the schema tree.
final class SchemaNode {
    let element: SchemaElement
    var children: [SchemaNode] = []
    /// Definition level of a present value at this node: optional and repeated nodes on the path, this
    /// one included.
    var maxDefinition = 0
    /// Repetition level at this node: repeated nodes on the path, this one included.
    var maxRepetition = 0
    /// Leaf column indices under this node (itself, for a leaf), in file order.
    var leaves: [Int] = []
    /// The leaf column index of a primitive node.
    var leafIndex: Int?
    /// Dotted path from the root, for messages.
    var path: String

    init(element: SchemaElement, path: String) {
        self.element = element
        self.path = path
    }

    var name: String { element.name }
    var repetition: Repetition { element.repetition }
    var isLeaf: Bool { leafIndex != nil }
}

/// A leaf column: where its values sit in the tree and how to convert them.
struct LeafColumn {
    var path: String
    var pathComponents: [String]
    var physicalType: PhysicalType
    var typeLength: Int
    var maxDefinition: Int
    var maxRepetition: Int
    var kind: ValueKind
}

/// The rebuilt schema.
struct Schema {
    var root: SchemaNode
    var leaves: [LeafColumn]

    /// Deeper nesting than this is refused: levels are stored in bytes and the record assembler recurses
    /// once per level, so an absurd depth from a hostile footer must stop here.
    static let maximumDepth = 100

    init(_ elements: [SchemaElement]) throws {
        guard let first = elements.first else { throw ThriftError("the schema is empty") }
        var index = 1
        var leaves: [LeafColumn] = []
        let root = SchemaNode(element: first, path: "")

        func build(_ node: SchemaNode, count: Int, depth: Int, components: [String]) throws {
            guard depth <= Schema.maximumDepth else { throw ThriftError("the schema nests more than \(Schema.maximumDepth) levels") }
            guard count >= 0, count <= elements.count - index else {
                throw ThriftError("schema element \"\(node.path)\" claims \(count) children; only \(elements.count - index) elements follow")
            }
            for _ in 0..<count {
                // Checked per child: the children's own subtrees use up elements too.
                guard index < elements.count else {
                    throw ThriftError("schema element \"\(node.path)\" claims more children than the schema lists")
                }
                let element = elements[index]
                index += 1
                let path = components + [element.name]
                let child = SchemaNode(element: element, path: path.joined(separator: "."))
                child.maxDefinition = node.maxDefinition + (element.repetition == .required ? 0 : 1)
                child.maxRepetition = node.maxRepetition + (element.repetition == .repeated ? 1 : 0)
                if element.numChildren > 0 || element.type == nil {
                    // A group. (A group with no children is legal but holds nothing; it gets no leaves.)
                    try build(child, count: Int(element.numChildren), depth: depth + 1, components: path)
                } else {
                    guard let type = element.type else { throw ThriftError("leaf \"\(child.path)\" has no type") }
                    guard child.maxDefinition <= 255, child.maxRepetition <= 255 else {
                        throw ThriftError("leaf \"\(child.path)\" nests too deeply")
                    }
                    child.leafIndex = leaves.count
                    child.leaves = [leaves.count]
                    leaves.append(LeafColumn(path: child.path, pathComponents: path, physicalType: type,
                                             typeLength: Int(element.typeLength), maxDefinition: child.maxDefinition,
                                             maxRepetition: child.maxRepetition, kind: Schema.kind(element, type)))
                }
                node.leaves += child.leaves
                node.children.append(child)
            }
        }
        try build(root, count: Int(first.numChildren), depth: 0, components: [])
        guard index == elements.count else {
            throw ThriftError("the schema lists \(elements.count) elements but its tree holds \(index)")
        }
        self.root = root
        self.leaves = leaves
    }

    static func kind(_ element: SchemaElement, _ type: PhysicalType) -> ValueKind {
        let annotation = element.annotation
        switch type {
        case .boolean: return .boolean
        case .int32:
            if case .integer(_, false)? = annotation { return .uint32 }
            if case .decimal(let scale)? = annotation { return .decimal32(scale: scale) }
            return .int32
        case .int64:
            if case .integer(_, false)? = annotation { return .uint64 }
            if case .decimal(let scale)? = annotation { return .decimal64(scale: scale) }
            return .int64
        case .int96: return .unsupported("INT96 timestamps")
        case .float: return .float
        case .double: return .double
        case .byteArray, .fixedLenByteArray:
            switch annotation {
            case .decimal?: return .unsupported("DECIMAL stored as \(type)")
            case .float16? where type == .fixedLenByteArray && element.typeLength == 2: return .float16
            case .bson?: return .unsupported("BSON")
            default: return .text
            }
        }
    }
}
