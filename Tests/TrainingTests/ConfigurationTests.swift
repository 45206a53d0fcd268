import Distributed
import Foundation
import Yams
import IO
import Model
import Testing
@testable import Training
@testable import Inference

@Suite struct ConfigurationTests {
    /// Every key of the paper config is honoured: the resolved schedule, periods and the learning
    /// rate of each parameter group at several iterations (the tiny model stands in for CLIP,
    /// which CI does not have; the solver is the paper's).
    @Test func paperRecipeIsHonoured() throws {
        let paper = try ConfigurationLoader.load(path: configsFolder + "/fgaseg_vitb16_coco-stuff.yaml")
        #expect(paper.solver.imsPerBatch == 8 && paper.solver.imsPerRank == 1 && paper.solver.maxIter == 80_000)
        #expect(paper.solver.baseLr == 2e-4 && paper.solver.clipLrMultiplier == 0.01 && paper.solver.weightDecay == 1e-4)
        #expect(paper.solver.clipGradNorm == 0.01 && paper.solver.lrScheduler == "cosine" && paper.solver.betas == [0.9, 0.999])
        #expect(paper.test.evalPeriod == 5000 && paper.checkpoint.period == 5000 && paper.data.cropSize == 384)
        #expect(paper.model.architecture.guidanceBlocks == [3, 7] && paper.model.architecture.decoder.resolution == 24)
        #expect(paper.model.classChunk == 16 && paper.model.memoryBudgetGb == 7)
        let large = try ConfigurationLoader.load(path: configsFolder + "/fgaseg_vitl14_coco-stuff.yaml")
        #expect(large.model.architecture.guidanceBlocks == [7, 15] && large.model.architecture.decoder.textWidth == 768 && large.data.cropSize == 336)
        let catSeg = try ConfigurationLoader.load(path: configsFolder + "/catseg_vitb16_coco-stuff.yaml")
        #expect(catSeg.model.architecture.p2tLayers == 0 && catSeg.model.architecture.t2pWeight == 0)
        #expect(catSeg.model.architecture.decoder.fusion == .none && catSeg.solver.imsPerBatch == 4 && catSeg.data.cropSize == 384)
        let catSegLarge = try ConfigurationLoader.load(path: configsFolder + "/catseg_vitl14_coco-stuff.yaml")
        #expect(catSegLarge.model.architecture.p2tLayers == 0 && catSegLarge.model.architecture.decoder.fusion == .none)
        #expect(catSegLarge.model.architecture.guidanceBlocks == [7, 15] && catSegLarge.model.architecture.decoder.textWidth == 768 && catSegLarge.data.cropSize == 336)

        let demo = try ConfigurationLoader.load(path: configsFolder + "/demo.yaml")
        var recipe = paper
        (recipe.model, recipe.data.cropSize, recipe.data.shortEdge) = (demo.model, demo.data.cropSize, demo.data.shortEdge)
        recipe.outputDir = temporaryFolder("paper")
        let trainer = try Trainer(configuration: recipe, world: SingleProcessCommunicator(), resume: false)
        #expect(trainer.accumulateSteps == 8)  // one rank accumulates the 8-image global batch
        for (iteration, factor) in [(0, 1.0), (20_000, 0.5 * (1 + cos(Double.pi / 4))), (40_000, 0.5), (79_999, 0.5 * (1 + cos(Double.pi * 79_999 / 80_000)))] {
            let rates = Dictionary(uniqueKeysWithValues: trainer.learningRates(at: iteration).map { ($0.name, $0.rate) })
            let clip = rates["clip.vision_model.encoder.layers.0.self_attn.q_proj.weight"]!
            let decoder = rates.first { !$0.key.hasPrefix("clip.") }!.value
            #expect(abs(decoder / (2e-4 * factor) - 1) < 1e-6 && abs(clip / (2e-6 * factor) - 1) < 1e-6, "iteration \(iteration): \(decoder), \(clip)")
        }
        // Only q/v projection weights of CLIP train; norms have no weight decay, the rest 1e-4.
        let names = trainer.flat.entries.map(\.name)
        #expect(names.filter { $0.hasPrefix("clip.") }.allSatisfy { $0.hasSuffix("q_proj.weight") || $0.hasSuffix("v_proj.weight") })
        let noDecay = Set(zip(trainer.flat.entries, trainer.optimizer.segments).filter { $1.group.weightDecay == 0 }.map(\.0.name))
        let decayed = zip(trainer.flat.entries, trainer.optimizer.segments).filter { $1.group.weightDecay != 0 }
        #expect(decayed.allSatisfy { $1.group.weightDecay == Float(1e-4) })
        // The normalisation layers: GroupNorms of every DoubleConv (`double_conv.1/.4`) and of the
        // T2P projector (`vis.1.1`, `vis.3.1`), LayerNorms of P2Tformer and both aggregation blocks.
        let norm = /(norm[12]?|guidance_norm|double_conv\.[14]|vis\.[13]\.1)\.(weight|bias)$/
        #expect(noDecay.count == 46 && noDecay.allSatisfy { $0.contains(norm) }, "\(noDecay.sorted())")
        #expect(decayed.allSatisfy { !$0.0.name.contains(norm) })
    }

    @Test func unknownKeysAndWrongTypesNameTheKeyAndFile() throws {
        let folder = temporaryFolder("config")
        let path = folder + "/bad.yaml"
        for (text, key, fragment, line) in [("solver:\n  base_lrr: 0.1\n", "solver.base_lrr", "unknown key", 2),
                                            ("solver:\n  max_iter: many\n", "solver.max_iter", "has the wrong type: expected an integer", 2),
                                            ("data:\n  train:\n    kind: [1, 2]\n", "data.train.kind", "has the wrong type", 3),
                                            ("test: 3\n", "test", "is a section", 1)] {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let error = try #require(throws: ConfigurationError.self) { try ConfigurationLoader.load(path: path) }
            #expect(error.problems.first?.key == key && error.problems.first?.source == "\(path):\(line)", "\(error)")
            #expect("\(error)".contains(fragment), "\(fragment) ⟵ \(error)")
        }
        let unknown = try #require(throws: ConfigurationError.self) { try ConfigurationLoader.load(path: nil, overrides: ["solver.nope=1"]) }
        #expect(unknown.problems.first?.source == "--set solver.nope=1")
    }

    /// Values that used to trap or train nothing are refused at load with the dotted key and the
    /// file line (or the `--set` argument) that gave them.
    @Test(arguments: [("solver:\n  ims_per_rank: 0\n", "solver.ims_per_rank", 2),
                      ("checkpoint:\n  period: 0\n", "checkpoint.period", 2),
                      ("data:\n  workers: -1\n", "data.workers", 2),
                      ("model:\n  architecture:\n    decoder:\n      window: 0\n", "model.architecture.decoder.window", 4),
                      ("solver:\n  base_lr: 0.1\n  max_iter: -5\n", "solver.max_iter", 3),
                      ("solver:\n  max_iter: 3.7\n", "solver.max_iter", 2),
                      ("solver:\n  max_iter: .nan\n", "solver.max_iter", 2),
                      ("solver:\n  base_lr: .inf\n", "solver.base_lr", 2),
                      ("solver:\n  betas: [0.9, .nan]\n", "solver.betas", 2),
                      ("seed: -1\n", "seed", 1),
                      ("distributed:\n  overlap: sometimes\n", "distributed.overlap", 2),
                      ("data:\n  test:\n    kind: folder\n    dataset: nowhere\n", "data.test.dataset", 4),
                      ("data:\n  test:\n    kind: shards\n", "data.test.path", 3)])
    func outOfRangeValuesNameKeyAndLine(text: String, key: String, line: Int) throws {
        let path = temporaryFolder("range") + "/bad.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let error = try #require(throws: ConfigurationError.self) { try ConfigurationLoader.load(path: path) }
        #expect(error.problems.map(\.key) == [key] && error.problems[0].source == "\(path):\(line)", "\(error)")
        guard !key.hasPrefix("data.test") else { return }  // those need two keys
        let value = String(text.split(separator: ":").last!.trimmingCharacters(in: .whitespacesAndNewlines))
        let override = "\(key)=\(value)"
        let fromSet = try #require(throws: ConfigurationError.self) { try ConfigurationLoader.load(path: configsFolder + "/demo.yaml", overrides: [override]) }
        #expect(fromSet.problems.map(\.key) == [key] && fromSet.problems[0].source == "--set \(override)", "\(fromSet)")
    }

    /// Every problem of a file is reported at once.
    @Test func everyProblemIsReported() throws {
        let path = temporaryFolder("many") + "/bad.yaml"
        try "solver:\n  ims_per_rank: 0\n  eps: 0\nlog_period: 0\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = try #require(throws: ConfigurationError.self) { try ConfigurationLoader.load(path: path) }
        #expect(Set(error.problems.map(\.key)) == ["solver.ims_per_rank", "solver.eps", "log_period"])
    }

    /// Architecture values that do not fit the CLIP grid are errors naming the key, before any
    /// layer is built (a pooling window larger than the class maps used to trap in avg_pool2d).
    @Test func poolingLargerThanTheGridIsNamed() throws {
        var configuration = try ConfigurationLoader.load(path: configsFolder + "/demo.yaml")
        configuration.model.architecture.decoder.pooling = configuration.model.architecture.decoder.resolution + 1
        do {
            _ = try ModelBuilder.model(configuration)
            Issue.record("a pooling window larger than the grid was accepted")
        } catch let error as ConfigurationError {
            #expect(error.problems.first?.key == "model.architecture.decoder.pooling", "\(error)")
        }
    }

    /// Nested aliases that would expand to 10⁹ values, deep nesting, oversized files and duplicate
    /// keys are refused before any value is built.
    @Test func hostileYAMLIsRefused() throws {
        let path = temporaryFolder("yaml") + "/bomb.yaml"
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...8 {
            bomb += "b\(level): &b\(level) [" + Array(repeating: level == 1 ? "*a" : "*b\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect(bomb.utf8.count < 500)
        for (text, fragment) in [(bomb, "expands to more than"),
                                 ("solver: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n", "nested"),
                                 ("# " + String(repeating: "x", count: 2 << 20) + "\n", "above the"),
                                 ("solver:\n  max_iter: 1\n  max_iter: 2\n", "duplicated key")] {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let error = try #require(throws: ConfigurationError.self) { try ConfigurationLoader.load(path: path) }
            #expect("\(error)".contains(fragment) && "\(error)".contains(path), "\(fragment) ⟵ \(error)")
        }
    }

    /// The memory plan's keys are checked before anything runs, and the error names the key.
    @Test(arguments: ["model.class_chunk=-2", "model.memory_budget_gb=-1", "model.memory_budget_gb=1e20"])
    func memoryPlanKeysAreValidated(override: String) throws {
        let key = String(override.split(separator: "=")[0])
        let error = try #require(throws: ConfigurationError.self) { try demoConfiguration(output: temporaryFolder("invalid"), overrides: [override]) }
        #expect(error.problems.map(\.key) == [key])
        // A configuration built in code is checked when the model is built.
        var configuration = try demoConfiguration(output: temporaryFolder("invalid"))
        if key == "model.class_chunk" { configuration.model.classChunk = -2 } else { configuration.model.memoryBudgetGb = -1 }
        #expect { try Trainer(configuration: configuration, world: SingleProcessCommunicator(), resume: false) } throws: { error in
            (error as? ConfigurationError)?.problems.map(\.key) == [key]
        }
    }

    @Test func overridesApplyAndTheResolvedConfigRoundTrips() throws {
        let configuration = try ConfigurationLoader.load(path: configsFolder + "/demo.yaml",
                                                         overrides: ["solver.max_iter=17", "model.architecture.decoder.fast=true", "data.train.count=12"])
        #expect(configuration.solver.maxIter == 17 && configuration.model.architecture.decoder.fast && configuration.data.train.count == 12)
        #expect(configuration.solver.baseLr == 0.004)  // from the file
        let yaml = try ConfigurationLoader.yaml(configuration)
        #expect(try ConfigurationLoader.decode(yaml: yaml, source: "saved") == configuration)
    }

    /// The paper config as written (through Yams' emitter) is the committed fixture, and PyYAML
    /// (fixture script, YAML 1.1), Yams and our loader read every value back with its type:
    /// integers as integers, floats such as `eps: 1.0e-08` as floats (issue #20), strings as strings.
    @Test func writtenYAMLReadsBackWithTheSameTypes() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/config_yaml").path
        let configuration = try ConfigurationLoader.load(path: configsFolder + "/fgaseg_vitb16_coco-stuff.yaml")
        let written = try ConfigurationLoader.yaml(configuration)
        if let path = ProcessInfo.processInfo.environment["FGASEG_WRITE_CONFIG_YAML"] { try written.write(toFile: path, atomically: true, encoding: .utf8) }
        #expect(written == (try String(contentsOfFile: fixtures + "/paper.yaml", encoding: .utf8)),
                "the written YAML changed: regenerate with FGASEG_WRITE_CONFIG_YAML=\(fixtures)/paper.yaml and make_config_yaml_fixture.py")
        #expect(try ConfigurationLoader.decode(yaml: written, source: "written") == configuration)
        #expect(written.contains("eps: 1.0e-08"))

        let pyyaml = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixtures + "/paper.pyyaml.json"))) as? [String: [String: Any]])
        func leaves(_ node: Yams.Node, _ prefix: String) -> [(String, Yams.Node)] {
            if let mapping = node.mapping {
                return mapping.flatMap { key, value in leaves(value, prefix.isEmpty ? key.string ?? "" : prefix + "." + (key.string ?? "")) }
            }
            return [(prefix, node)]
        }
        func kind(_ node: Yams.Node) -> String {
            if let sequence = node.sequence { return "list[" + Set(sequence.map(kind)).sorted().joined(separator: ",") + "]" }
            if node.bool != nil && node.tag.description == Tag.Name.bool.rawValue { return "bool" }
            if node.int != nil && node.tag.description == Tag.Name.int.rawValue { return "int" }
            if node.float != nil && node.tag.description == Tag.Name.float.rawValue { return "float" }
            return "str"
        }
        let parsed = try #require(try Yams.compose(yaml: written))
        let ours = leaves(parsed, "")
        #expect(ours.count == pyyaml.count && ours.count > 50)
        for (key, node) in ours {
            let python = try #require(pyyaml[key], "\(key) missing from PyYAML's reading")
            #expect(kind(node) == python["type"] as? String, "\(key): Yams reads \(kind(node)), PyYAML \(python["type"] ?? "?")")
            switch python["value"] {
            case let number as NSNumber where python["type"] as? String == "float": #expect(node.float == number.doubleValue, "\(key)")
            case let number as NSNumber where python["type"] as? String == "int": #expect(node.int == number.intValue, "\(key)")
            case let text as String: #expect(node.string == text, "\(key)")
            default: break
            }
        }
    }
}
