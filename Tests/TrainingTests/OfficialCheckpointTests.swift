import CLIP
import Foundation
import IO
import Model
import Tensor
import Testing
import Training
@testable import Inference

/// Checkpoints of the official FGA-seg model and of CAT-Seg (real ViT-B/16 and, for CAT-Seg,
/// ViT-L/14@336 widths, written by Fixtures/official/make_official_fixture.py and
/// make_catseg_fixture.py with the official code) load through the PyTorch reader and the name
/// translation with the configuration files in Configs/, and segment the fixture photo as the
/// official `forward` did: quick path (with detectron2's padding to 32) and sliding window.
@Suite(.serialized) struct OfficialCheckpointTests {
    static let fixtures = Bundle.module.resourcePath! + "/Fixtures/official"
    static let sharedFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared").standardized.path

    /// A CLIP folder as the official repository provides it: the CLIP sizes and OpenAI's BPE file.
    static func clipFolder(_ sizes: CLIPConfiguration) throws -> String {
        let folder = temporaryFolder("official-clip")
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(sizes).write(to: URL(fileURLWithPath: folder + "/config.json"))
        try FileManager.default.copyItem(atPath: sharedFolder + "/clip/bpe_simple_vocab_16e6.txt.gz", toPath: folder + "/bpe_simple_vocab_16e6.txt.gz")
        return folder
    }

    /// The configuration file of a fixture's architecture: the paper's ViT-B/16, or CAT-Seg's
    /// (no P2Tformer, no T2P branch, no local cost) at ViT-B/16 or ViT-L/14@336.
    static func configuration(_ fixture: String) throws -> TrainingConfiguration {
        let file = ["official_vitb16": "fgaseg_vitb16", "official_fast_vitb16": "fgaseg_vitb16",
                    "catseg_vitb16": "catseg_vitb16", "catseg_vitl14": "catseg_vitl14"][fixture]!
        var configuration = try ConfigurationLoader.load(path: configsFolder + "/\(file)_coco-stuff.yaml")
        configuration.model.clip = try clipFolder(fixture.hasSuffix("vitl14") ? .vitL14at336 : .vitB16)
        return configuration
    }

    @Test(arguments: ["official_vitb16", "catseg_vitb16", "catseg_vitl14"])
    func checkpointMatchesTheOfficialOutputs(fixture: String) throws {
        let configuration = try Self.configuration(fixture)
        defer { try? FileManager.default.removeItem(atPath: configuration.model.clip) }
        let loaded = try ModelStore.load(Self.fixtures + "/\(fixture).pth", configuration: configuration)
        let reference = try Safetensors.read(path: Self.fixtures + "/\(fixture)_outputs.safetensors")
        let names = try #require(try JSONSerialization.jsonObject(with: Data(reference.metadata["classes"]!.utf8)) as? [String])
        #expect(reference.metadata["template"] == configuration.model.promptTemplate)
        let prompts = ModelBuilder.prompts(names, tokenizer: loaded.tokenizer, template: configuration.model.promptTemplate)
        let embeddings = noGrad { loaded.model.classEmbeddings(prompts) }
        try namesTranslateBothWays(loaded.model, checkpoint: Self.fixtures + "/\(fixture).pth")
        let image = try decodeRGBImage([UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/photo.png"))))
        // The model's input is the crop size (336 for ViT-L/14); the sliding window's tiles stay 384².
        let predictor = SegmentationPredictor(model: loaded.model, inputSize: configuration.data.cropSize, sizeDivisibility: 32)
        for (path, sliding) in [("quick", false), ("sliding", true)] {
            let ours = predictor.probabilities(image, classes: embeddings, slidingWindow: sliding)
            let theirs = try #require(reference.tensors[path])
            #expect(ours.shape == [1] + theirs.shape)
            var largest: Float = 0, worst: Float = 0
            for i in 0..<theirs.count {
                largest = max(largest, abs(theirs.pointer[i]))
                worst = max(worst, abs(ours.pointer[i] - theirs.pointer[i]))
            }
            #expect(worst <= 1e-4 * largest, "\(path): max |difference| \(worst), largest |value| \(largest)")
            // The label maps: equal wherever the official top two probabilities differ by more
            // than 1e-5 (the random model's classes are close, so such ties are common), and at
            // ≥ 99.9% of all pixels.
            let (t, pixels) = (theirs.shape[0], theirs.count / theirs.shape[0])
            var differing = 0, differingOutsideTies = 0, ties = 0
            for p in 0..<pixels {
                var best = (0, -Float.infinity), second = -Float.infinity, ourBest = (0, -Float.infinity)
                for c in 0..<t {
                    let value = theirs.pointer[c * pixels + p], mine = ours.pointer[c * pixels + p]
                    if value > best.1 { second = best.1; best = (c, value) } else if value > second { second = value }
                    if mine > ourBest.1 { ourBest = (c, mine) }
                }
                let tie = best.1 - second <= 1e-5
                if tie { ties += 1 }
                if best.0 != ourBest.0 {
                    differing += 1
                    if !tie { differingOutsideTies += 1 }
                }
            }
            print("\(fixture) \(path) path: max |difference| \(worst) (largest |value| \(largest)); labels differ at \(differing) of \(pixels) pixels, \(ties) ties within 1e-5")
            #expect(differingOutsideTies == 0, "\(path): \(differingOutsideTies) pixels labelled differently where the official top two differ by more than 1e-5")
            #expect(differing * 1000 <= pixels, "\(path): labels differ at \(differing) of \(pixels) pixels")
        }
    }

    /// The fast decoder with K = 16 < T = 150 (99 classes rejected) on an image smaller than the
    /// 96² prediction (so the official crop applies): the official model's quick path applies σ
    /// once more to the decoder's probabilities (spec §11), so this compares σ of ours, cropped and
    /// resized the same way, with its output; and the classes its sliding window rejects.
    @Test func fastDecoderMatchesTheOfficialOne() throws {
        var configuration = try Self.configuration("official_fast_vitb16")
        defer { try? FileManager.default.removeItem(atPath: configuration.model.clip) }
        configuration.model.architecture.decoder.fast = true
        let loaded = try ModelStore.load(Self.fixtures + "/official_fast_vitb16.pth", configuration: configuration)
        let reference = try Safetensors.read(path: Self.fixtures + "/official_fast_vitb16_outputs.safetensors")
        let names = try #require(try JSONSerialization.jsonObject(with: Data(reference.metadata["classes"]!.utf8)) as? [String])
        let embeddings = noGrad { loaded.model.classEmbeddings(ModelBuilder.prompts(names, tokenizer: loaded.tokenizer, template: configuration.model.promptTemplate)) }
        let image = try decodeRGBImage([UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/photo_small.png"))))
        let (h, w) = (image.height, image.width)
        let ours = noGrad {
            let padded = SegmentationPredictor.normalized(image).padded([(0, 0), (0, 0), (0, (32 - h % 32) % 32), (0, (32 - w % 32) % 32)])
            let input = padded.bilinearResized(to: (384, 384), alignCorners: false)
            let probabilities = loaded.model.fastProbabilities(input, classes: embeddings, topK: 16).sigmoid()
            return SegmentationPredictor.officialCrop(probabilities, imageSize: (h, w), applies: true).bilinearResized(to: (h, w), alignCorners: false)
        }
        let theirs = try #require(reference.tensors["quick"])
        #expect(ours.shape == [1] + theirs.shape)
        let plane = h * w
        func rejected(_ tensor: Tensor) -> [Int] {
            (0..<names.count).filter { c in (0..<plane).allSatisfy { tensor.pointer[c * plane + $0] == 0.5 } }
        }
        let rejectedByThem = rejected(theirs)
        #expect(rejectedByThem.count == 99)
        #expect(rejected(ours) == rejectedByThem)
        var worst: Float = 0
        for i in 0..<theirs.count { worst = max(worst, abs(ours.pointer[i] - theirs.pointer[i])) }
        #expect(worst <= 1e-4, "max |difference| \(worst)")
        print("official_fast_vitb16 quick path: \(rejectedByThem.count) of \(names.count) classes rejected by both; max |difference| \(worst)")
        // The sliding window runs 5 crops as one batch, so a class survives where it is among the
        // top 16 of any pixel of any crop. Its values are not comparable (the official averages
        // σ(probabilities) over the crops, this package the probabilities), its rejected set is.
        let sliding = SegmentationPredictor(model: loaded.model, inputSize: 384, fastTopK: 16)
            .probabilities(image, classes: embeddings, slidingWindow: true)
        let theirsSliding = try #require(reference.tensors["sliding"])
        let rejectedSliding = (0..<names.count).filter { c in (0..<plane).allSatisfy { theirsSliding.pointer[c * plane + $0] == 0.5 } }
        #expect(!rejectedSliding.isEmpty)
        #expect((0..<names.count).filter { c in (0..<plane).allSatisfy { sliding.pointer[c * plane + $0] == 0 } } == rejectedSliding)
        print("official_fast_vitb16 sliding window: \(rejectedSliding.count) of \(names.count) classes rejected by both")
    }

    /// A checkpoint that does not fit the configured model is one error naming every missing tensor.
    @Test func mismatchedArchitectureIsReportedByName() throws {
        var configuration = try Self.configuration("official_vitb16")
        defer { try? FileManager.default.removeItem(atPath: configuration.model.clip) }
        configuration.model.architecture.decoder.fast = true
        let error = #expect(throws: IOError.self) { try ModelStore.load(Self.fixtures + "/official_vitb16.pth", configuration: configuration) }
        let text = error?.description ?? ""
        #expect(text.contains("(6 problem(s))"), "\(text)")
        for head in 0..<3 { #expect(text.contains("missing decoder.head_auxi_\(head).weight")) }
        #expect(throws: IOError.self) { try ModelStore.load(Self.fixtures + "/official_vitb16.pth") }
    }

    /// Ours → official gives exactly the official checkpoint's floating-point names and shapes
    /// (with the Swin masks), and official → ours gives back every tensor of the model unchanged.
    func namesTranslateBothWays(_ model: FGAsegModel, checkpoint path: String) throws {
        let official = OfficialFGAsegLayout.official(model: model)
        let checkpoint = try PyTorchCheckpoint(path: path)
        var expected: [String: [Int]] = [:]
        for (name, view) in checkpoint.tensors where name.hasPrefix("model.") && view.storage.dtype != .int64 {
            expected[String(name.dropFirst("model.".count))] = view.shape
        }
        #expect(official.mapValues(\.shape) == expected)
        let (back, unknown) = OfficialFGAsegLayout.ours(from: official)
        #expect(unknown.isEmpty, "\(unknown)")
        let ours = model.namedParameters() + model.namedBuffers()
        #expect(Set(back.keys) == Set(ours.map(\.name)))
        for (name, tensor) in ours {
            #expect(back[name]?.shape == tensor.shape && back[name]?.scalars == tensor.scalars, "\(name)")
        }
    }
}
