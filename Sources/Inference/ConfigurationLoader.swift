import Foundation
import IO

/// Reads ``TrainingConfiguration`` from YAML: the file's keys are laid over the defaults, then
/// `--set key.path=value` overrides, then every value is checked (``ConfigurationRules``). Unknown
/// keys, values of the wrong type and values out of range are a ``ConfigurationError`` naming the
/// dotted key and where the value came from (file and line, or the `--set` argument). Files are
/// read with ``BoundedYAML``'s limits.
public enum ConfigurationLoader {
    /// Loads `path` (nil: defaults only) and applies `overrides` (`a.b=value`, value in YAML syntax).
    public static func load(path: String?, overrides: [String] = []) throws -> TrainingConfiguration {
        var tree = try defaultTree()
        var sources = [String: String]()
        if let path {
            let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
            guard size <= BoundedYAML.maxBytes else {
                throw ConfigurationError(key: "", source: path, "\(size) bytes is above the config file limit of \(BoundedYAML.maxBytes)")
            }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(key: "", source: path, "cannot read the config file (missing, unreadable or not UTF-8)")
            }
            try merge(document: BoundedYAML.parse(text, source: path), into: &tree, sources: &sources, source: path)
        }
        for override in overrides {
            let source = "--set \(override)"
            guard let equals = override.firstIndex(of: "="), equals != override.startIndex else {
                throw ConfigurationError(key: "", source: source, "expected key.path=value")
            }
            let keys = override[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let valueText = String(override[override.index(after: equals)...])
            let value = (try? BoundedYAML.parse(valueText, source: source).root) ?? valueText
            try set(value, at: keys, in: &tree, sources: &sources, source: { _ in source })
        }
        let configuration = try decode(tree, sources: sources, fallbackSource: path ?? "defaults")
        try ConfigurationRules.check(configuration, sources: sources, fallbackSource: path ?? "defaults")
        return configuration
    }

    /// The configuration as YAML (snake_case keys), as saved into the output folder and checkpoints
    /// (``ConfigurationYAML``).
    public static func yaml(_ configuration: TrainingConfiguration) throws -> String {
        try ConfigurationYAML.text(configuration)
    }

    /// Decodes a configuration saved by ``yaml(_:)`` (e.g. from a checkpoint); `source` names it in errors.
    public static func decode(yaml text: String, source: String) throws -> TrainingConfiguration {
        var tree = try defaultTree()
        var sources = [String: String]()
        let document = try BoundedYAML.parse(text, source: source)
        guard document.root is [String: Any] else { throw ConfigurationError(key: "", source: source, "the saved config is not a mapping") }
        try merge(document: document, into: &tree, sources: &sources, source: source)
        let configuration = try decode(tree, sources: sources, fallbackSource: source)
        try ConfigurationRules.check(configuration, sources: sources, fallbackSource: source)
        return configuration
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

    /// Lays a parsed document over `tree`; each key's source is `source:line`.
    static func merge(document: BoundedYAML.Document, into tree: inout [String: Any], sources: inout [String: String], source: String) throws {
        guard let root = document.root else { return }
        guard let mapping = root as? [String: Any] else {
            throw ConfigurationError(key: "", source: source, "the top level must be a mapping of keys")
        }
        let locate = { (dotted: String) in document.lines[dotted].map { "\(source):\($0)" } ?? source }
        for (key, value) in mapping.sorted(by: { $0.key < $1.key }) {
            try set(value, at: [key], in: &tree, sources: &sources, source: locate)
        }
    }

    /// Sets `value` at `keys` (below the section `prefix`) and records each leaf's source; the keys
    /// must exist in the default tree, and mappings merge key by key. `source` gives the origin of a
    /// dotted key for messages.
    static func set(_ value: Any, at keys: [String], in tree: inout [String: Any], sources: inout [String: String],
                    source: (String) -> String, prefix: [String] = []) throws {
        let dotted = (prefix + keys).joined(separator: ".")
        guard let first = keys.first, let existing = tree[first] else {
            throw ConfigurationError(key: dotted, source: source(dotted),
                                     "unknown key (known here: \(tree.keys.sorted().joined(separator: ", ")))")
        }
        let here = (prefix + [first]).joined(separator: ".")
        if keys.count > 1 {
            guard var subtree = existing as? [String: Any] else {
                throw ConfigurationError(key: here, source: source(dotted), "not a section")
            }
            try set(value, at: Array(keys.dropFirst()), in: &subtree, sources: &sources, source: source, prefix: prefix + [first])
            tree[first] = subtree
        } else if let mapping = value as? [String: Any] {
            guard var subtree = existing as? [String: Any] else {
                throw ConfigurationError(key: dotted, source: source(dotted), "takes a single value, not a mapping")
            }
            for (key, entry) in mapping.sorted(by: { $0.key < $1.key }) {
                try set(entry, at: [key], in: &subtree, sources: &sources, source: source, prefix: prefix + [first])
            }
            tree[first] = subtree
        } else {
            if let section = existing as? [String: Any] {
                throw ConfigurationError(key: dotted, source: source(dotted),
                                         "is a section; give its keys (\(section.keys.sorted().joined(separator: ", ")))")
            }
            if let problem = nonFinite(value) ?? notAnInteger(value, key: dotted) {
                throw ConfigurationError(key: dotted, source: source(dotted), problem)
            }
            tree[first] = jsonCompatible(value)
            sources[dotted] = source(dotted)
        }
    }

    /// A message when `value` is or contains a NaN or infinite number (no key accepts one).
    static func nonFinite(_ value: Any) -> String? {
        switch value {
        case let number as Double where !number.isFinite: return "\(number) is not a finite number"
        case let array as [Any]: return array.lazy.compactMap(nonFinite).first
        default: return nil
        }
    }

    /// A message when `key` holds integers and `value` is or contains a fractional number (which
    /// the JSON decoder would reject without naming the key).
    static func notAnInteger(_ value: Any, key: String) -> String? {
        guard integerKeys.contains(key) else { return nil }
        switch value {
        case let number as Double where number.rounded() != number: return "has the wrong type: expected an integer, got \(number)"
        case let array as [Any]: return array.lazy.compactMap { notAnInteger($0, key: key) }.first
        default: return nil
        }
    }

    /// Dotted snake_case keys whose values are integers or lists of integers, read off the
    /// configuration's stored properties.
    static let integerKeys: Set<String> = {
        var keys = Set<String>()
        func visit(_ value: Any, path: [String]) {
            switch value {
            case is Int, is [Int]: keys.insert(path.joined(separator: "."))
            default:
                for child in Mirror(reflecting: value).children {
                    guard let label = child.label else { continue }
                    visit(child.value, path: path + [snakeCase(label)])
                }
            }
        }
        visit(TrainingConfiguration(), path: [])
        return keys
    }()

    /// `maxIter` → `max_iter`.
    static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { out, c in
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
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

    /// Decodes the merged tree; a type error names the key and its source.
    static func decode(_ tree: [String: Any], sources: [String: String], fallbackSource: String) throws -> TrainingConfiguration {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        func problem(_ path: [CodingKey], _ message: String) -> ConfigurationError {
            let key = snakePath(path), section = snakePath(path.filter { $0.intValue == nil })
            return ConfigurationError(key: key, source: sources[section] ?? fallbackSource, message)
        }
        do {
            let data = try JSONSerialization.data(withJSONObject: tree)
            return try decoder.decode(TrainingConfiguration.self, from: data)
        } catch let DecodingError.typeMismatch(type, context) {
            throw problem(context.codingPath, "has the wrong type: expected \(describe(type))")
        } catch let DecodingError.dataCorrupted(context) {
            throw problem(context.codingPath, context.debugDescription)
        } catch let DecodingError.valueNotFound(type, context) {
            throw problem(context.codingPath, "is empty: expected \(describe(type))")
        }
    }

    static func snakePath(_ path: [CodingKey]) -> String {
        path.map { key in
            if let index = key.intValue { return "\(index)" }
            return snakeCase(key.stringValue)
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
