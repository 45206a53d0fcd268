import Yams

/// Writes a configuration as YAML through Yams' emitter (libyaml): block mappings with sorted
/// snake_case keys, scalar lists in flow style, strings double-quoted. Every value keeps its Swift
/// type when read back by Yams, by PyYAML (YAML 1.1) or by a YAML 1.2 reader: integers stay
/// integers, and every float carries a decimal point and a signed exponent where it has one
/// (`1.0e-08`, not `1e-08`, which YAML 1.1 reads as a string).
enum ConfigurationYAML {
    static func text(_ configuration: TrainingConfiguration) throws -> String {
        try Yams.serialize(node: node(configuration), indent: 2, width: -1, allowUnicode: true)
    }

    /// The YAML node of a configuration value: a struct's stored properties (by their Codable
    /// names, converted to snake_case like `JSONEncoder.KeyEncodingStrategy.convertToSnakeCase`),
    /// a scalar, a raw-value enum (its raw value) or a list. The loader's round-trip tests
    /// (`decode(yaml(c)) == c`) check that these names are the Codable ones.
    static func node(_ value: Any) -> Node {
        switch value {
        case let flag as Bool: return Node(flag ? "true" : "false", Tag(.bool))
        case let integer as Int: return Node(String(integer), Tag(.int))
        case let number as Double: return Node(floatText(number), Tag(.float))
        case let number as Float: return Node(floatText(number), Tag(.float))
        case let string as String: return Node(string, Tag(.str), .doubleQuoted)
        case let choice as any RawRepresentable:  // String-backed enums such as CostFusion
            return node(choice.rawValue)
        default:
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .collection {
                return Node(mirror.children.map { node($0.value) }, Tag(.seq), .flow)
            }
            let pairs = mirror.children.compactMap { child in child.label.map { (snakeCase($0), child.value) } }
                .sorted { $0.0 < $1.0 }
                .map { (Node($0.0, Tag(.str), .plain), node($0.1)) }
            return Node(pairs, Tag(.map), .block)
        }
    }

    /// Swift's shortest round-tripping decimal text, with a decimal point in the mantissa
    /// (`1e-08` → `1.0e-08`) and YAML's spellings of infinity and NaN.
    static func floatText<Number: BinaryFloatingPoint & CustomStringConvertible>(_ number: Number) -> String {
        if number.isNaN { return ".nan" }
        if number.isInfinite { return number.sign == .minus ? "-.inf" : ".inf" }
        let text = number.description
        guard let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return text.contains(".") ? text : text + ".0" }
        let mantissa = text[..<e], exponent = text[text.index(after: e)...]
        let signedExponent = exponent.first == "-" || exponent.first == "+" ? String(exponent) : "+" + exponent
        return (mantissa.contains(".") ? String(mantissa) : mantissa + ".0") + "e" + signedExponent
    }

    /// `camelCase` → `camel_case`, as `JSONEncoder`'s `convertToSnakeCase` does it (a run of
    /// capitals is one word; digits do not start a word).
    static func snakeCase(_ key: String) -> String {
        let characters = Array(key)
        var out = ""
        for (index, character) in characters.enumerated() {
            if character.isUppercase, index > 0 {
                let previousIsLower = !characters[index - 1].isUppercase
                let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
                if previousIsLower || nextIsLower { out += "_" }
            }
            out += character.lowercased()
        }
        return out
    }
}
