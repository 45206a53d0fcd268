import Data
import Foundation
import IO
import Inference

/// Opens the sample sources a configuration names.
public enum DataSources {
    /// The source of `section` (`demo`, `shards` or `folder`) and the indices to use (the first
    /// `count` when `count` > 0). With `toleratingBadSamples` (`data.skip_bad_samples`), shards
    /// with damaged index entries open and those samples throw when read, to be skipped.
    public static func open(_ section: TrainingConfiguration.SourceSection, demoSplit: DemoScenes.Split, seed: UInt64 = 0,
                            toleratingBadSamples: Bool = false) throws -> SampleSource {
        switch section.kind {
        case "demo":
            guard section.count > 0 else { throw ConfigurationError(key: "data.*.count", source: "configuration", "a demo source needs count > 0") }
            return DemoScenes(split: demoSplit, count: section.count, size: section.imageSize, seed: seed)
        case "shards":
            return try ShardSet(paths: try ShardSet.paths(in: section.path), toleratingBadSamples: toleratingBadSamples)
        case "folder":
            guard let dataset = DatasetName(rawValue: section.dataset) else {
                throw ConfigurationError(key: "data.*.dataset", source: "configuration",
                                         "unknown dataset '\(section.dataset)'; choose one of \(DatasetName.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return try DirectorySource(root: section.root.isEmpty ? DatasetName.defaultRoot : section.root, dataset: dataset)
        default:
            throw ConfigurationError(key: "data.*.kind", source: "configuration", "unknown source kind '\(section.kind)' (demo, shards or folder)")
        }
    }

    /// The number of samples of `source` that `section` uses.
    public static func usedCount(_ source: SampleSource, _ section: TrainingConfiguration.SourceSection) -> Int {
        section.kind != "demo" && section.count > 0 ? min(section.count, source.count) : source.count
    }
}
