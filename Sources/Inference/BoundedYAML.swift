import Foundation
import Yams

/// YAML read with limits, for configuration files that may come from anywhere: the text's size,
/// the nesting depth and the number of values after alias expansion are bounded before any value
/// is built, so a small file cannot expand into gigabytes (the "billion laughs" of nested aliases)
/// or overflow the stack. Values come back as Swift values (mappings `[String: Any]`, lists,
/// `Int`, `Double`, `Bool`, `String`, `NSNull`) together with the line of every mapping key.
enum BoundedYAML {
    static let maxBytes = 1 << 20
    static let maxDepth = 64
    static let maxValues = 100_000

    /// A parsed document: its root value and, for each dotted key path of nested mappings, the
    /// 1-based line of the key.
    struct Document {
        var root: Any?
        var lines: [String: Int]
    }

    /// Parses `text`; `source` names it in errors.
    static func parse(_ text: String, source: String) throws -> Document {
        guard text.utf8.count <= maxBytes else {
            throw ConfigurationError(key: "", source: source, "\(text.utf8.count) bytes of YAML is above the limit of \(maxBytes)")
        }
        let depth = flowDepth(text)
        guard depth <= maxDepth else {
            throw ConfigurationError(key: "", source: source, "YAML nested \(depth) levels deep; the limit is \(maxDepth)")
        }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw ConfigurationError(key: "", source: source, "not valid YAML: \(error)") }
        var document = Document(root: nil, lines: [:])
        guard let node else { return document }
        var budget = maxValues
        document.root = try value(of: node, path: [], depth: 0, budget: &budget, lines: &document.lines, source: source)
        return document
    }

    /// The deepest nesting of flow brackets outside quotes and comments: an upper bound of the
    /// document's flow nesting (block nesting costs a line per level, so the size limit bounds it).
    static func flowDepth(_ text: String) -> Int {
        var depth = 0, deepest = 0
        var quote: UInt8?
        var comment = false
        var previous: UInt8 = 0x0A
        for byte in text.utf8 {
            defer { previous = byte }
            if comment { if byte == 0x0A { comment = false }; continue }
            if let open = quote { if byte == open { quote = nil }; continue }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"): quote = byte
            case UInt8(ascii: "#") where previous == 0x20 || previous == 0x09 || previous == 0x0A: comment = true
            case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1; deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            default: break
            }
        }
        return deepest
    }

    private static func value(of node: Node, path: [String], depth: Int, budget: inout Int,
                              lines: inout [String: Int], source: String) throws -> Any {
        budget -= 1
        guard budget >= 0 else {
            throw ConfigurationError(key: "", source: source, "the YAML expands to more than \(maxValues) values (nested aliases?)")
        }
        guard depth <= maxDepth else {
            throw ConfigurationError(key: path.joined(separator: "."), source: source, "YAML nested more than \(maxDepth) levels deep")
        }
        switch node {
        case .mapping(let mapping):
            var result = [String: Any]()
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let key) = keyNode else {
                    throw ConfigurationError(key: path.joined(separator: "."), source: location(source, keyNode), "a mapping key must be a plain name")
                }
                let dotted = (path + [key.string]).joined(separator: ".")  // keys are unique: Yams refuses duplicates
                if let line = keyNode.mark?.line { lines[dotted] = line }
                result[key.string] = try value(of: valueNode, path: path + [key.string], depth: depth + 1, budget: &budget,
                                               lines: &lines, source: source)
            }
            return result
        case .sequence(let sequence):
            return try sequence.map { try value(of: $0, path: path, depth: depth + 1, budget: &budget, lines: &lines, source: source) }
        case .scalar:
            return Constructor.default.any(from: node)
        case .alias:
            throw ConfigurationError(key: path.joined(separator: "."), source: location(source, node), "an unresolved YAML alias")
        }
    }

    private static func location(_ source: String, _ node: Node) -> String {
        node.mark.map { "\(source):\($0.line)" } ?? source
    }
}
