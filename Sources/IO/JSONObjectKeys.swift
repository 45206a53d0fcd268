import Foundation

/// The keys of a JSON document's top-level object, read without building values, so that
/// duplicates (which `JSONSerialization` silently collapses to the last one) can be refused.
enum JSONObjectKeys {
    /// The first top-level key that occurs twice in `json` (UTF-8), or nil when all are distinct or
    /// the text is not an object. Nested objects are skipped; escapes in keys are decoded.
    static func firstDuplicate(in json: Data) -> String? {
        let bytes = [UInt8](json)
        var index = 0
        func skipWhitespace() { while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 } }
        /// Reads a string starting at its opening quote; returns its raw bytes (with escapes) or nil.
        func readString() -> [UInt8]? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            let start = index
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\\"): index += 2
                case UInt8(ascii: "\""): index += 1; return Array(bytes[start..<index])
                default: index += 1
                }
            }
            return nil
        }
        /// Skips one value (string, number, literal, object or array).
        func skipValue() -> Bool {
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""): guard readString() != nil else { return false }; if depth == 0 { return true }; continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return true }  // the end of the enclosing object: an empty value, left to the caller
                    depth -= 1
                    if depth == 0 { index += 1; return true }
                case UInt8(ascii: ","): if depth == 0 { return true }
                default: break
                }
                index += 1
            }
            return depth == 0
        }
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        var seen = Set<[UInt8]>()
        while true {
            skipWhitespace()
            guard let rawKey = readString() else { return nil }
            // Compare decoded keys, so `"a"` and `"\u0061"` count as the same name.
            let key = (try? JSONSerialization.jsonObject(with: Data(rawKey), options: .fragmentsAllowed)) as? String
                ?? String(decoding: rawKey, as: UTF8.self)
            if !seen.insert(Array(key.utf8)).inserted { return key }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            skipWhitespace()
            guard skipValue() else { return nil }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { return nil }
            index += 1
        }
    }
}
