import CLIP
import Foundation
import NN
import Tensor
import Testing

/// The layouts of Hugging Face CLIP folders made by Fixtures/make_hf_folder_fixtures.py with
/// transformers: each loads to the same model, or tokenises as transformers does, as the
/// reference folder (tiny-clip/: config.json + model.safetensors).
@Suite struct HuggingFaceFolderTests {
    static let fixtures = Bundle.module.resourcePath! + "/Fixtures"

    @Test(arguments: ["int64", "bin"]) func folderLoadsTheSameWeights(layout: String) throws {
        let reference = try CLIPModel.load(folder: Self.fixtures + "/tiny-clip")
        let model = try CLIPModel.load(folder: Self.fixtures + "/hf-folders/" + layout)
        let expected = Dictionary(uniqueKeysWithValues: reference.namedParameters().map { ($0.name, $0.tensor.scalars) })
        for (name, tensor) in model.namedParameters() { #expect(tensor.scalars == expected[name], "\(name)") }
    }

    @Test func tokenizerJSONOnlyFolderTokenisesAsTransformers() throws {
        let tokenizer = CLIPTokenizer(vocabulary: try TokenizerVocabulary.huggingFace(folder: Self.fixtures + "/hf-folders/tokenizer-json"))
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/hf-folders/tokenizer-json-ids.json"))
        let fixture = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let strings = try #require(fixture["strings"] as? [String]), ids = try #require(fixture["ids"] as? [[Int]])
        #expect(strings.count >= 2000)
        let mismatches = zip(strings, ids).filter { text, expected in tokenizer.encode(text).ids.map(Int.init) != expected }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(2))")
    }

    @Test func folderWithoutTokenizerNamesTheFilesItLooksFor() throws {
        let error = #expect(throws: (any Error).self) { try TokenizerVocabulary.huggingFace(folder: Self.fixtures + "/hf-folders/bin") }
        #expect("\(error!)".contains("vocab.json + merges.txt, tokenizer.json, or bpe_simple_vocab_16e6.txt.gz"))
    }
}
