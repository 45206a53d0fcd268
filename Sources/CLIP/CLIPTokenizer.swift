import Foundation
import Synchronization

/// CLIP's byte-level BPE tokenizer, matching `transformers.CLIPTokenizer`: NFC normalisation,
/// whitespace runs collapsed to one space, lower-casing; the pre-split into contractions, letter
/// runs, single digits and runs of other symbols; byte-level BPE with `</w>` word ends; SOT/EOT
/// around at most `contextLength − 2` tokens.
public final class CLIPTokenizer: Sendable {
    /// CLIP's text context.
    public static let contextLength = 77

    public let vocabulary: TokenizerVocabulary
    private let cache = Mutex<[String: [Int32]]>([:])

    public init(vocabulary: TokenizerVocabulary) {
        self.vocabulary = vocabulary
    }

    /// Token ids of `text` with SOT and EOT, truncated to `contextLength` (EOT kept last);
    /// `truncated` tells whether tokens were dropped.
    public func encode(_ text: String, contextLength: Int = CLIPTokenizer.contextLength) -> (ids: [Int32], truncated: Bool) {
        let tokens = bytePairTokens(text)
        let kept = tokens.prefix(contextLength - 2)
        return ([vocabulary.startOfText] + kept + [vocabulary.endOfText], kept.count < tokens.count)
    }

    /// Token ids of `text` without the added SOT and EOT. As in `transformers`, the special tokens
    /// written in `text` are split out before normalisation and BPE, so "cat.<|endoftext|>" ends
    /// in the EOT id even though it follows punctuation.
    public func bytePairTokens(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            let next = [("<|startoftext|>", vocabulary.startOfText), ("<|endoftext|>", vocabulary.endOfText)]
                .compactMap { token, id in rest.range(of: token).map { ($0, id) } }
                .min { $0.0.lowerBound < $1.0.lowerBound }
            ids += ordinaryTokens(String(rest[..<(next?.0.lowerBound ?? rest.endIndex)]))
            guard let (range, id) = next else { break }
            ids.append(id)
            rest = rest[range.upperBound...]
        }
        return ids
    }

    /// BPE ids of text that holds no literal special token. One that appears only after
    /// lower-casing ("<|EndOfText|>") is ordinary text, as in `transformers`.
    private func ordinaryTokens(_ text: String) -> [Int32] {
        Self.preTokenize(Self.normalize(text)).flatMap { piece -> [Int32] in
            if let cached = cache.withLock({ $0[piece] }) { return cached }
            let word = piece.utf8.map { ByteLevel.characterOfByte[Int($0)] }
            let ids = merge(word).map { vocabulary.encoder[$0] ?? vocabulary.endOfText }
            cache.withLock { $0[piece] = ids }
            return ids
        }
    }

    /// NFC, whitespace runs → one space, lower case (the normaliser of HF's CLIP tokenizer).
    static func normalize(_ text: String) -> String {
        let composed = text.precomposedStringWithCanonicalMapping
        var result = String.UnicodeScalarView()
        var inWhitespace = false
        for scalar in composed.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !inWhitespace { result.append(" ") }
                inWhitespace = true
            } else {
                inWhitespace = false
                // Per-scalar full lower-case mapping (no context rules, like Rust's char::to_lowercase).
                result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(result)
    }

    /// Splits like `'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`, dropping whitespace
    /// (special tokens are split out before, in ``bytePairTokens(_:)``).
    static func preTokenize(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var pieces: [String] = []
        var i = 0
        func piece(_ range: Range<Int>) -> String {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[range])
            return String(view)
        }
        func matches(_ literal: String, at index: Int) -> Bool {
            let literalScalars = Array(literal.unicodeScalars)
            return index + literalScalars.count <= scalars.count && Array(scalars[index..<(index + literalScalars.count)]) == literalScalars
        }
        while i < scalars.count {
            let scalar = scalars[i]
            if scalar.properties.isWhitespace { i += 1; continue }
            if scalar == "'", let contraction = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].first(where: { matches($0, at: i) }) {
                pieces.append(contraction)
                i += contraction.unicodeScalars.count
                continue
            }
            var end = i + 1
            if isLetter(scalar) {
                while end < scalars.count && isLetter(scalars[end]) { end += 1 }
            } else if !isNumber(scalar) {
                while end < scalars.count, !isLetter(scalars[end]), !isNumber(scalars[end]), !scalars[end].properties.isWhitespace { end += 1 }
            }
            pieces.append(piece(i..<end))
            i = end
        }
        return pieces
    }

    private static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    private static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    /// Applies the merges to one pre-token (a list of byte characters), lowest rank first.
    private func merge(_ characters: [String]) -> [String] {
        guard !characters.isEmpty else { return [] }
        var word = characters
        word[word.count - 1] += "</w>"
        while word.count > 1 {
            var best: (rank: Int, index: Int)? = nil
            for index in 0..<(word.count - 1) {
                if let rank = vocabulary.mergeRanks[word[index] + " " + word[index + 1]], rank < (best?.rank ?? .max) {
                    best = (rank, index)
                }
            }
            guard let best else { break }
            // Merge every occurrence of the best pair, left to right.
            let (first, second) = (word[best.index], word[best.index + 1])
            var merged: [String] = []
            var index = 0
            while index < word.count {
                if index < word.count - 1 && word[index] == first && word[index + 1] == second {
                    merged.append(first + second)
                    index += 2
                } else {
                    merged.append(word[index])
                    index += 1
                }
            }
            word = merged
        }
        return word
    }
}
