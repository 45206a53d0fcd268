import Foundation
import IO
import Yams

/// Reads ``TrainingConfiguration`` from YAML: the file's keys are laid over the defaults, then
/// `--set key.path=value` overrides. Unknown keys and values of the wrong type are errors that
/// name the key and the file.
public enum ConfigurationLoader {
    /// Loads `path` (nil: defaults only) and applies `overrides` (`a.b=value`, value in YAML syntax).
    public static func load(path: String?, overrides: [String] = []) throws -> TrainingConfiguration {
        var tree = try defaultTree()
        let source = path ?? "defaults"
        if let path {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw IOError(path, "cannot read the config file") }
            let loaded: Any?
            do { loaded = try Yams.load(yaml: text) } catch { throw IOError(path, "not valid YAML: \(error)") }
            if let loaded {
                guard let mapping = loaded as? [String: Any] else { throw IOError(path, "the top level must be a mapping of keys") }
                try merge(mapping, into: &tree, path: [], file: path)
            }
        }
        for override in overrides {
            guard let equals = override.firstIndex(of: "=") else { throw IOError("--set \(override)", "expected key.path=value") }
            let keys = override[..<equals].split(separator: ".").map(String.init)
            let valueText = String(override[override.index(after: equals)...])
            let value = (try? Yams.load(yaml: valueText)).flatMap { $0 } ?? valueText
            try set(value, at: keys, in: &tree, file: "--set \(override)")
        }
        return try decode(tree, file: source)
    }

    /// The configuration as YAML (snake_case keys), as saved into the output folder and checkpoints.
    public static func yaml(_ configuration: TrainingConfiguration) throws -> String {
        try JSONDecoder().decode(ConfigurationValue.self, from: snakeCaseJSON(configuration)).yaml(indent: 0)
    }

    /// Decodes a configuration saved by ``yaml(_:)`` (e.g. from a checkpoint).
    public static func decode(yaml text: String, source: String) throws -> TrainingConfiguration {
        var tree = try defaultTree()
        guard let mapping = try Yams.load(yaml: text) as? [String: Any] else { throw IOError(source, "the saved config is not a mapping") }
        try merge(mapping, into: &tree, path: [], file: source)
        return try decode(tree, file: source)
    }

    // MARK: trees

    /// The configuration as JSON with the YAML files' snake_case keys.
    static func snakeCaseJSON(_ configuration: TrainingConfiguration) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(configuration)
    }

    static func tree(of configuration: TrainingConfiguration) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: snakeCaseJSON(configuration)) as! [String: Any]
    }

    static func defaultTree() throws -> [String: Any] { try tree(of: TrainingConfiguration()) }

    static func merge(_ mapping: [String: Any], into tree: inout [String: Any], path: [String], file: String) throws {
        for (key, value) in mapping {
            try set(value, at: [key], in: &tree, file: file, prefix: path)
        }
    }

    /// Sets `value` at `keys` (below the section `prefix`, for messages); the keys must exist in
    /// the default tree, and mappings merge key by key.
    static func set(_ value: Any, at keys: [String], in tree: inout [String: Any], file: String, prefix: [String] = []) throws {
        let dotted = (prefix + keys).joined(separator: ".")
        guard let first = keys.first, let existing = tree[first] else {
            throw IOError(file, "unknown key \(dotted) (known here: \(tree.keys.sorted().joined(separator: ", ")))")
        }
        if keys.count > 1 {
            guard var subtree = existing as? [String: Any] else { throw IOError(file, "key \((prefix + [first]).joined(separator: ".")) is not a section") }
            try set(value, at: Array(keys.dropFirst()), in: &subtree, file: file, prefix: prefix + [first])
            tree[first] = subtree
        } else if let mapping = value as? [String: Any] {
            guard var subtree = existing as? [String: Any] else { throw IOError(file, "key \(dotted) takes a single value, not a mapping") }
            try merge(mapping, into: &subtree, path: prefix + [first], file: file)
            tree[first] = subtree
        } else {
            if let section = existing as? [String: Any] {
                throw IOError(file, "key \(dotted) is a section; give its keys (\(section.keys.sorted().joined(separator: ", ")))")
            }
            tree[first] = jsonCompatible(value)
        }
    }

    /// YAML scalars as JSON values (Yams gives Int, Double, Bool, String, arrays, mappings).
    static func jsonCompatible(_ value: Any) -> Any {
        switch value {
        case let array as [Any]: return array.map(jsonCompatible)
        case let mapping as [String: Any]: return mapping.mapValues(jsonCompatible)
        case is Int, is Double, is Bool, is String: return value
        default: return "\(value)"
        }
    }

    static func decode(_ tree: [String: Any], file: String) throws -> TrainingConfiguration {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            let data = try JSONSerialization.data(withJSONObject: tree)
            return try decoder.decode(TrainingConfiguration.self, from: data)
        } catch let DecodingError.typeMismatch(type, context) {
            throw IOError(file, "key \(snakePath(context.codingPath)) has the wrong type: expected \(describe(type))")
        } catch let DecodingError.dataCorrupted(context) {
            throw IOError(file, "key \(snakePath(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(type, context) {
            throw IOError(file, "key \(snakePath(context.codingPath)) is empty: expected \(describe(type))")
        }
    }

    static func snakePath(_ path: [CodingKey]) -> String {
        path.map { key in
            if let index = key.intValue { return "[\(index)]" }
            return key.stringValue.reduce(into: "") { out, c in
                if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
            }
        }.joined(separator: ".")
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        default: "\(type)"
        }
    }
}

/// A configuration value decoded from JSON with booleans and numbers kept apart, emitted as
/// block-style YAML with sorted keys (scalar lists in flow style).
enum ConfigurationValue: Decodable {
    case bool(Bool), integer(Int), number(Double), string(String)
    case list([ConfigurationValue]), mapping([String: ConfigurationValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([ConfigurationValue].self) { self = .list(value) }
        else { self = .mapping(try container.decode([String: ConfigurationValue].self)) }
    }

    /// The value as YAML lines at `indent` (a mapping) or inline (a scalar or scalar list).
    func yaml(indent: Int) -> String {
        switch self {
        case .mapping(let entries):
            let pad = String(repeating: "  ", count: indent)
            return entries.keys.sorted().map { key -> String in
                let value = entries[key]!
                if case .mapping = value { return "\(pad)\(key):\n" + value.yaml(indent: indent + 1) }
                return "\(pad)\(key): \(value.yaml(indent: indent + 1))\n"
            }.joined()
        case .list(let items): return "[" + items.map { $0.yaml(indent: indent) }.joined(separator: ", ") + "]"
        case .bool(let value): return value ? "true" : "false"
        case .integer(let value): return String(value)
        case .number(let value): return "\(value)"
        case .string(let value):
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(escaped)\""
        }
    }
}
