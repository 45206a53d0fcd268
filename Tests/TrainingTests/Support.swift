import Foundation
import TestSupport
import Training
@testable import Inference

/// The repository's Configs/ folder.
let configsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Configs").standardized.path

/// A fresh temporary folder path (created; removed when the tests end).
func temporaryFolder(_ name: String) -> String { scratchFolder(name) }

/// The demo configuration, shortened for tests, writing into `output`.
func demoConfiguration(output: String, overrides: [String] = []) throws -> TrainingConfiguration {
    var configuration = try ConfigurationLoader.load(path: configsFolder + "/demo.yaml", overrides: [
        "data.workers=1", "data.prefetch=2", "log_period=1", "threads=1",
    ] + overrides)
    configuration.outputDir = output
    return configuration
}
