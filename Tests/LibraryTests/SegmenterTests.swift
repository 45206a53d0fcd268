import FGASeg
import Foundation
import Testing

/// The package used as a client uses it: `import FGASeg` only, a checkpoint on disk, images
/// written by `fgaseg-prepare`, and the same images through `fgaseg-segment` for comparison.
@Suite(.serialized) struct SegmenterTests {
    /// The repository root.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

    /// The folder holding the release tools (next to the test bundle).
    static func tool(_ name: String) throws -> String {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // XCTest bundles nest the executable (…/FGASegPackageTests.xctest/…); climb to the bin folder.
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path), folder.pathComponents.count > 1 {
            folder.deleteLastPathComponent()
        }
        let path = folder.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw IOError(name, "not found beside the test binary \(CommandLine.arguments[0]); build the products first (swift build -c release)")
        }
        return path
    }

    /// Runs `tool` with `arguments`; returns its standard output, failing on a non-zero exit.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.tool(tool))
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["FGASEG_THREADS": "1"]) { $1 }
        let output = Pipe(), errors = Pipe()
        (process.standardOutput, process.standardError) = (output, errors)
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(tool) \(arguments.joined(separator: " ")): \(problems)")
        return text
    }

    /// A fresh folder with demo scenes (`images/*.png`) and a checkpoint of the demo model
    /// (seeded random weights: what is compared is the path from file to label map, not accuracy).
    static func workspace() throws -> (folder: String, checkpoint: String, images: [String]) {
        let folder = NSTemporaryDirectory() + "fgaseg-library-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try run("fgaseg-prepare", ["--demo", "val", "--count", "2", "--write-images", folder + "/scenes"])
        let configuration = try ConfigurationLoader.load(path: root + "/Configs/demo.yaml")
        let (model, _) = try ModelBuilder.model(configuration)
        let checkpoint = folder + "/model.h5"
        try Checkpoint.write(model: model, optimizer: nil,
                             state: CheckpointState(iteration: 0, optimizerStep: 0, skippedSteps: 0, worldSize: 1,
                                                    configuration: try ConfigurationLoader.yaml(configuration)),
                             to: checkpoint)
        let images = try FileManager.default.contentsOfDirectory(atPath: folder + "/scenes/images").sorted().map { folder + "/scenes/images/" + $0 }
        return (folder, checkpoint, images)
    }

    /// The README's example runs, and its label map is byte for byte the one `fgaseg-segment`
    /// writes for the same image, classes and checkpoint; with the sliding window too.
    @Test func libraryAndCommandLineAgreeByteForByte() throws {
        let (folder, checkpoint, images) = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let classes = ["sky", "grass", "water", "sand", "brick wall", "snow"]
        let image = try #require(images.first)
        let result = try segmentAndDescribe(imageAt: image, checkpoint: checkpoint, classes: classes)
        let decoded = try Segmenter.readImage(at: image)
        #expect(result.width == decoded.width && result.height == decoded.height && result.labels.count == decoded.width * decoded.height)
        #expect(abs(result.classFractions.map(\.fraction).reduce(0, +) - 1) < 1e-9)

        let stem = ((image as NSString).lastPathComponent as NSString).deletingPathExtension
        for slidingWindow in [false, true] {
            let out = folder + "/cli-\(slidingWindow)"
            try Self.run("fgaseg-segment", [image, "--classes", classes.joined(separator: ", "), "--checkpoint", checkpoint, "--out", out]
                         + (slidingWindow ? ["--sliding-window"] : []))
            let cli = try #require(FileManager.default.contents(atPath: "\(out)/\(stem)_labels.png"))
            let library = try Segmenter(checkpoint: checkpoint)
                .segment(decoded, classes: classes, options: Segmenter.Options(slidingWindow: slidingWindow))
            #expect(try library.labelPNG() == [UInt8](cli), "sliding window \(slidingWindow)")
            if !slidingWindow {
                #expect(try library.labelPNG() == [UInt8](try #require(FileManager.default.contents(atPath: image + ".segmented_labels.png"))))
            }
        }
    }

    /// One vocabulary serves many images; probabilities come back on request and agree with the labels.
    @Test func vocabularyIsEncodedOnceAndProbabilitiesOnRequest() throws {
        let (folder, checkpoint, images) = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let segmenter = try Segmenter(checkpoint: checkpoint)
        let vocabulary = try segmenter.vocabulary(["sky", "grass, lawn", "water"])
        #expect(vocabulary.embeddings.shape == [3, segmenter.configuration.model.architecture.decoder.textWidth])
        for path in images {
            let image = try Segmenter.readImage(at: path)
            let plain = try segmenter.segment(image, vocabulary: vocabulary)
            let kept = try segmenter.segment(image, vocabulary: vocabulary, options: Segmenter.Options(keepProbabilities: true))
            #expect(plain.probabilities == nil && plain.labels == kept.labels)
            let probabilities = try #require(kept.probabilities)
            #expect(probabilities.shape == [1, 3, image.height, image.width])
            #expect(probabilities.argmax(axis: 1) == kept.labels)
        }
    }

    /// Options the model cannot honour and empty class lists are errors that name the option.
    @Test func unusableRequestsAreNamedErrors() throws {
        let (folder, checkpoint, images) = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let segmenter = try Segmenter(checkpoint: checkpoint)
        let image = try Segmenter.readImage(at: try #require(images.first))
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        #expect(message { _ = try segmenter.segment(image, classes: []) }.contains("the class list is empty"))
        #expect(message { _ = try segmenter.segment(image, classes: ["sky", " "]) }.contains("classes[1]"))
        #expect(message { _ = try segmenter.segment(image, classes: ["sky"], options: Segmenter.Options(fastTopK: 4)) }.contains("fastTopK"))
        #expect(message { _ = try segmenter.segment(image, classes: ["sky"], options: Segmenter.Options(sizeDivisibility: 0)) }.contains("sizeDivisibility"))
        #expect(message { _ = try Segmenter.readImage(at: folder + "/missing.png") }.contains("missing.png"))
        #expect(message { _ = try Segmenter(checkpoint: folder + "/missing.h5") }.contains("missing.h5"))
    }

    /// The README's "Use from Swift" section shows exactly the example this target compiles.
    @Test func readmeShowsTheCompiledExample() throws {
        func between(_ text: String, _ begin: String, _ end: String) throws -> String {
            let start = try #require(text.range(of: begin)), stop = try #require(text.range(of: end, range: start.upperBound..<text.endIndex))
            return String(text[start.upperBound..<stop.lowerBound]).trimmingCharacters(in: .newlines)
        }
        let source = try String(contentsOfFile: Self.root + "/Tests/LibraryTests/ReadmeExample.swift", encoding: .utf8)
        let readme = try String(contentsOfFile: Self.root + "/README.md", encoding: .utf8)
        let section = try between(readme, "## Use from Swift", "\n## ")
        let shown = try between(section, "```swift\n", "```")
        let example = try between(source, "// README-EXAMPLE-BEGIN\n", "// README-EXAMPLE-END")
        #expect(shown == "import FGASeg\n\n" + example)
    }
}
