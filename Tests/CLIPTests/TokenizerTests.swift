import Foundation
import Testing
@testable import CLIP

/// `../shared` beside the project: the CLIP BPE vocabulary is read from there in tests only.
let sharedFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../../shared").standardized.path

enum OpenAITokenizer {
    static let vocabulary: TokenizerVocabulary = try! TokenizerVocabulary.openAI(
        gzipPath: sharedFolder + "/clip/bpe_simple_vocab_16e6.txt.gz")
    static let tokenizer = CLIPTokenizer(vocabulary: vocabulary)
}

struct TokenizerFixture: Decodable {
    let strings: [String]
    let ids: [[Int32]]

    static let load: TokenizerFixture = {
        let url = Bundle.module.url(forResource: "tokenizer", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(TokenizerFixture.self, from: Data(contentsOf: url))
    }()
}

@Suite struct TokenizerTests {
    @Test func openAIVocabularyHasCLIPsLayout() {
        let vocabulary = OpenAITokenizer.vocabulary
        #expect(vocabulary.count == 49408)
        #expect(vocabulary.startOfText == 49406 && vocabulary.endOfText == 49407)
        #expect(vocabulary.mergeRanks.count == 48894)
    }

    @Test func matchesTransformersOnEveryFixtureString() {
        let fixture = TokenizerFixture.load
        #expect(fixture.strings.count >= 2000)
        var mismatches: [String] = []
        for (text, expected) in zip(fixture.strings, fixture.ids) {
            let (ids, _) = OpenAITokenizer.tokenizer.encode(text)
            if ids != expected { mismatches.append("\(text.debugDescription): \(ids) vs transformers \(expected)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(3))")
    }

    @Test func truncationKeepsEndOfTextLast() {
        let (ids, truncated) = OpenAITokenizer.tokenizer.encode(String(repeating: "word ", count: 200))
        #expect(ids.count == 77 && truncated)
        #expect(ids[0] == 49406 && ids[76] == 49407)
        #expect(!OpenAITokenizer.tokenizer.encode("a photo of a cat").truncated)
    }

    @Test func huggingFaceFolderGivesTheSameTokens() throws {
        let folder = NSTemporaryDirectory() + "fgaseg-tokenizer-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let vocabulary = OpenAITokenizer.vocabulary
        let json = try JSONSerialization.data(withJSONObject: vocabulary.encoder.mapValues { Int($0) })
        try json.write(to: URL(fileURLWithPath: folder + "/vocab.json"))
        let merges = vocabulary.mergeRanks.sorted { $0.value < $1.value }.map(\.key)
        try ("#version: 0.2\n" + merges.joined(separator: "\n") + "\n").write(toFile: folder + "/merges.txt", atomically: true, encoding: .utf8)
        let hf = CLIPTokenizer(vocabulary: try TokenizerVocabulary.huggingFace(folder: folder))
        for text in TokenizerFixture.load.strings.prefix(300) {
            #expect(hf.encode(text).ids == OpenAITokenizer.tokenizer.encode(text).ids, "\(text)")
        }
    }

    @Test func byteLevelVocabularyEncodesUTF8Bytes() {
        let tokenizer = CLIPTokenizer(vocabulary: .byteLevel())
        #expect(tokenizer.vocabulary.count == 514)
        let (ids, _) = tokenizer.encode("Cat é")
        // "cat" → c, a, t</w>; "é" → two bytes, the last with </w>.
        #expect(ids.count == 2 + 3 + 2)
        #expect(ids.first == 512 && ids.last == 513)
    }

    @Test func promptsUseTheFirstSynonym() {
        #expect(Prompts.prompt(for: "door, doorway, double door") == "A photo of a door in the scene")
        #expect(Prompts.prompt(for: "sky-other") == "A photo of a sky-other in the scene")
    }
}
