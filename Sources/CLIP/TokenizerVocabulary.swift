import Foundation
import IO

/// The vocabulary and merge ranks of a byte-level BPE tokenizer (CLIP's), from the files users
/// have: a Hugging Face folder (`vocab.json` + `merges.txt`, or only `tokenizer.json` as current
/// `transformers` saves it), OpenAI's `bpe_simple_vocab_16e6.txt.gz`,
/// or a byte-level vocabulary with no merges built in code (for the tiny demo model).
public struct TokenizerVocabulary: Sendable {
    /// Token string (byte-level unicode, `</w>` marking a word end) → id.
    public let encoder: [String: Int32]
    /// Merge rank of each pair "a b" (lower merges first).
    public let mergeRanks: [String: Int]
    public let startOfText: Int32
    public let endOfText: Int32

    public var count: Int { encoder.count }

    init(encoder: [String: Int32], merges: [(String, String)]) throws {
        self.encoder = encoder
        var ranks: [String: Int] = [:]
        for (rank, pair) in merges.enumerated() { ranks[pair.0 + " " + pair.1] = rank }
        mergeRanks = ranks
        guard let sot = encoder["<|startoftext|>"], let eot = encoder["<|endoftext|>"] else {
            throw IOError("tokenizer vocabulary", "has no <|startoftext|> / <|endoftext|> tokens")
        }
        (startOfText, endOfText) = (sot, eot)
    }

    /// The tokenizer of a CLIP folder: `vocab.json` + `merges.txt`, else `tokenizer.json`, else
    /// OpenAI's `bpe_simple_vocab_16e6.txt.gz` (as the official FGA-seg and CAT-Seg code ship it).
    public static func huggingFace(folder: String) throws -> TokenizerVocabulary {
        let files = FileManager.default
        if !files.fileExists(atPath: folder + "/vocab.json") {
            if files.fileExists(atPath: folder + "/tokenizer.json") { return try tokenizerJSON(path: folder + "/tokenizer.json") }
            if files.fileExists(atPath: folder + "/bpe_simple_vocab_16e6.txt.gz") { return try openAI(gzipPath: folder + "/bpe_simple_vocab_16e6.txt.gz") }
            throw IOError(folder, "no CLIP tokenizer: expected vocab.json + merges.txt, tokenizer.json, or bpe_simple_vocab_16e6.txt.gz")
        }
        let vocabPath = folder + "/vocab.json", mergesPath = folder + "/merges.txt"
        guard let vocabData = FileManager.default.contents(atPath: vocabPath) else { throw IOError(vocabPath, "cannot read the file") }
        guard let json = try? JSONSerialization.jsonObject(with: vocabData) as? [String: Any] else {
            throw IOError(vocabPath, "not a JSON object of token → id")
        }
        var encoder: [String: Int32] = [:]
        for (token, id) in json {
            guard let number = id as? NSNumber else { throw IOError(vocabPath, "token \(token) has a non-numeric id") }
            encoder[token] = number.int32Value
        }
        guard let mergesText = try? String(contentsOfFile: mergesPath, encoding: .utf8) else {
            throw IOError(mergesPath, "cannot read the file as UTF-8")
        }
        return try TokenizerVocabulary(encoder: encoder, merges: parseMerges(mergesText, context: mergesPath))
    }

    /// Reads a Hugging Face fast-tokenizer file: `model.vocab` (token → id), `model.merges` (as
    /// "a b" strings or [a, b] pairs) and `added_tokens` (the special tokens).
    public static func tokenizerJSON(path: String) throws -> TokenizerVocabulary {
        guard let data = FileManager.default.contents(atPath: path) else { throw IOError(path, "cannot read the file") }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let model = root["model"] as? [String: Any],
              let vocabulary = model["vocab"] as? [String: Any], let mergeList = model["merges"] as? [Any]
        else { throw IOError(path, "not a tokenizer.json with model.vocab and model.merges") }
        var encoder: [String: Int32] = [:]
        for (token, id) in vocabulary {
            guard let number = id as? NSNumber else { throw IOError(path, "model.vocab: token \(token) has a non-numeric id") }
            encoder[token] = number.int32Value
        }
        for case let added as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
            if let content = added["content"] as? String, let id = added["id"] as? NSNumber { encoder[content] = id.int32Value }
        }
        var merges: [(String, String)] = []
        for (index, entry) in mergeList.enumerated() {
            if let text = entry as? String, case let parts = text.split(separator: " "), parts.count == 2 {
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = entry as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else {
                throw IOError(path, "model.merges[\(index)] is neither \"a b\" nor [a, b]")
            }
        }
        return try TokenizerVocabulary(encoder: encoder, merges: merges)
    }

    /// Reads OpenAI's gzip-compressed merges file (`bpe_simple_vocab_16e6.txt.gz`) and builds the
    /// vocabulary the way OpenAI's tokenizer does: 256 byte tokens, the same with `</w>`, the first
    /// 48,894 merges, then `<|startoftext|>` and `<|endoftext|>` (49,408 tokens).
    public static func openAI(gzipPath: String) throws -> TokenizerVocabulary {
        guard let data = FileManager.default.contents(atPath: gzipPath) else { throw IOError(gzipPath, "cannot read the file") }
        let text = String(decoding: try Gzip.decompress([UInt8](data), context: gzipPath), as: UTF8.self)
        let merges = Array(try parseMerges(text, context: gzipPath).prefix(49152 - 256 - 2))
        var tokens = ByteLevel.alphabet
        tokens += ByteLevel.alphabet.map { $0 + "</w>" }
        tokens += merges.map { $0.0 + $0.1 }
        tokens += ["<|startoftext|>", "<|endoftext|>"]
        let encoder = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($0.element, Int32($0.offset)) })
        return try TokenizerVocabulary(encoder: encoder, merges: merges)
    }

    /// A vocabulary of the 256 byte tokens, the same with `</w>`, and the two special tokens
    /// (514 ids, no merges): every string tokenises to its UTF-8 bytes. For the tiny demo model.
    public static func byteLevel() -> TokenizerVocabulary {
        let tokens = ByteLevel.alphabet + ByteLevel.alphabet.map { $0 + "</w>" } + ["<|startoftext|>", "<|endoftext|>"]
        let encoder = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($0.element, Int32($0.offset)) })
        return try! TokenizerVocabulary(encoder: encoder, merges: [])
    }

    /// Parses merge lines "a b", skipping blank lines and a first line that holds the "#version"
    /// header (OpenAI's file starts it with the file name: `"bpe_simple_vocab_16e6.txt#version: 0.2`).
    private static func parseMerges(_ text: String, context: String) throws -> [(String, String)] {
        var merges: [(String, String)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || (number == 0 && line.contains("#version")) { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { throw IOError(context, "line \(number + 1) is not a merge \"a b\": \(line)") }
            merges.append((String(parts[0]), String(parts[1])))
        }
        return merges
    }
}

/// GPT-2/CLIP's reversible mapping of the 256 byte values to printable unicode characters.
enum ByteLevel {
    /// The byte characters in OpenAI's vocabulary order: printable bytes first, then the others.
    static let alphabet: [String] = {
        let printable = Array(33...126) + Array(161...172) + Array(174...255)
        var characters = printable
        var next = 0
        for byte in 0..<256 where !printable.contains(byte) {
            characters.append(256 + next)
            next += 1
        }
        return characters.map { String(UnicodeScalar(UInt32($0))!) }
    }()

    /// Character for each byte value, indexed by the byte.
    static let characterOfByte: [String] = {
        let printable = Array(33...126) + Array(161...172) + Array(174...255)
        var table = [String](repeating: "", count: 256)
        var next = 0
        for byte in 0..<256 {
            if printable.contains(byte) {
                table[byte] = String(UnicodeScalar(UInt32(byte))!)
            } else {
                table[byte] = String(UnicodeScalar(UInt32(256 + next))!)
                next += 1
            }
        }
        return table
    }()
}
