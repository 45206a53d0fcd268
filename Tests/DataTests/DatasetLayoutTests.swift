import Foundation
import IO
import Testing
@testable import Data

/// A temporary folder removed when the value is released.
final class TemporaryFolder {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "fgaseg-data-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ relative: String) -> String {
        let full = (path as NSString).appendingPathComponent(relative)
        try! FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return full
    }
}

/// Writes `data` to `path` (test set-up; failure stops the test).
func writeFile(_ path: String, _ data: Data) {
    precondition(FileManager.default.createFile(atPath: path, contents: data), "cannot write \(path)")
}

/// A small RGB test image whose pixels encode their position.
func patternImage(width: Int, height: Int, seed: Int = 0) -> Raster<UInt8> {
    var image = Raster<UInt8>(width: width, height: height, channels: 3)
    for y in 0..<height { for x in 0..<width {
        image[y, x, 0] = UInt8((x * 7 + seed) % 256); image[y, x, 1] = UInt8((y * 5 + seed) % 256); image[y, x, 2] = UInt8((x + y) % 256)
    } }
    return image
}

/// Writes one sample of `dataset` under `root` with stored label values `stored`; returns the
/// JPEG bytes written.
@discardableResult
func writeSample(root: TemporaryFolder, dataset: DatasetName, stem: String, stored: Raster<UInt16>) throws -> [UInt8] {
    let layout = dataset.layout
    let jpeg = try JPEG.encode(patternImage(width: stored.width, height: stored.height), quality: 95)
    writeFile(root.file("\(layout.imageDirectory)/\(stem).jpg"), Data(jpeg))
    let labelPath = root.file("\(layout.labelDirectory)/\(stem).\(layout.labelExtension)")
    if layout.labelExtension == "tif" {
        try TIFF.writeLabels(stored, path: labelPath, bitsPerSample: 16)
    } else {
        let bytes = Raster<UInt8>(width: stored.width, height: stored.height, channels: 1, samples: stored.samples.map { UInt8($0) })
        writeFile(labelPath, Data(try PNG.encode(bytes)))
    }
    return jpeg
}

@Suite struct DatasetLayoutTests {
    /// Every layout: stored values → class ids, value by value, and the image bytes as written.
    @Test(arguments: DatasetName.allCases.filter { $0 != .cocoStuffTrainRaw && $0 != .cocoStuffValRaw })
    func readsEachLayout(dataset: DatasetName) throws {
        let root = TemporaryFolder()
        let classCount = ClassNames.names(dataset.layout.vocabulary).count
        guard case .contiguous(let ignored) = dataset.layout.mapping else { Issue.record("\(dataset)"); return }
        // Stored values: class ids spread over the whole range, then each ignore value.
        let ids = (0..<24).map { UInt16($0 * (classCount - 1) / 23) }
        var values = ids + ignored.sorted()
        values += [UInt16](repeating: ids[1], count: 32 - values.count)
        let stored = Raster<UInt16>(width: 8, height: 4, channels: 1, samples: values)
        let jpeg = try writeSample(root: root, dataset: dataset, stem: "b", stored: stored)
        try writeSample(root: root, dataset: dataset, stem: "a", stored: Raster(width: 8, height: 4, channels: 1, filledWith: 0))
        let source = try DirectorySource(root: root.path, dataset: dataset)
        #expect(source.count == 2)
        #expect(source.classNames.count == classCount)
        let sample = try source.sample(at: 1)  // sorted: a, b
        #expect(sample.name == "b.jpg")
        #expect(sample.imageBytes == jpeg)
        let expected = values.map { ignored.contains($0) ? ignoreLabel : $0 }
        #expect(sample.labels.samples == expected)
        let decoded = try source.decodedSample(at: 1)
        #expect(decoded.image == (try JPEG.decode(jpeg)))
    }

    /// COCO-Stuff raw annotations: every value 0…181 and 255 maps by train_id = v − #(unused < v).
    @Test func cocoStuffRawMappingFollowsTheRankRule() throws {
        let unused: Set<Int> = [11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90]
        let root = TemporaryFolder()
        let values = (0..<182).map { UInt16($0) } + [255, 255]
        let stored = Raster<UInt16>(width: 23, height: 8, channels: 1, samples: values)
        try writeSample(root: root, dataset: .cocoStuffValRaw, stem: "000000000139", stored: stored)
        let sample = try DirectorySource(root: root.path, dataset: .cocoStuffValRaw).sample(at: 0)
        for (v, mapped) in zip(values, sample.labels.samples) {
            let v = Int(v)
            let expected = v == 255 || unused.contains(v) ? ignoreLabel : UInt16(v - unused.filter { $0 < v }.count)
            #expect(mapped == expected, "value \(v)")
        }
        #expect(sample.labels.samples[0] == 0 && sample.labels.samples[10] == 10 && sample.labels.samples[12] == 11)
        #expect(sample.labels.samples[91] == 80 && sample.labels.samples[181] == 170)
        // Spot checks from spec §9 against the shipped table.
        #expect(LabelMapping.cocoStuffTable[91] == 80 && LabelMapping.cocoStuffTable[11] == nil)
    }

    @Test func badSamplesAreErrorsNamingTheFileAndIndex() throws {
        let root = TemporaryFolder()
        let good = Raster<UInt16>(width: 8, height: 6, channels: 1, filledWith: 3)
        try writeSample(root: root, dataset: .ade20k150, stem: "a", stored: good)
        // b: truncated JPEG
        let jpeg = try writeSample(root: root, dataset: .ade20k150, stem: "b", stored: good)
        writeFile(root.file("ADEChallengeData2016/images/validation/b.jpg"), Data(jpeg.prefix(jpeg.count / 2)))
        // c: label map of the wrong size
        try writeSample(root: root, dataset: .ade20k150, stem: "c", stored: good)
        let small = Raster<UInt8>(width: 5, height: 6, channels: 1, filledWith: 1)
        writeFile(root.file("ADEChallengeData2016/annotations_detectron2/validation/c.png"), Data(try PNG.encode(small)))
        // d: label value 200 outside 0..<150
        try writeSample(root: root, dataset: .ade20k150, stem: "d", stored: Raster(width: 8, height: 6, channels: 1, filledWith: 200))
        // e: image missing
        try writeSample(root: root, dataset: .ade20k150, stem: "e", stored: good)
        try FileManager.default.removeItem(atPath: root.file("ADEChallengeData2016/images/validation/e.jpg"))

        let source = try DirectorySource(root: root.path, dataset: .ade20k150)
        #expect(try source.decodedSample(at: 0).labels.samples.allSatisfy { $0 == 3 })
        let expectations: [(Int, String)] = [(1, "b.jpg"), (2, "is 8x6 but its label map is 5x6"), (3, "label value 200"), (4, "e.jpg")]
        for (index, fragment) in expectations {
            do {
                _ = try source.decodedSample(at: index)
                Issue.record("sample \(index) should fail")
            } catch {
                let message = "\(error)"
                #expect(message.contains(fragment), "\(message)")
                #expect(message.contains("sample \(index)"), "\(message)")
            }
        }
        #expect(throws: IOError.self) { try DirectorySource(root: root.path, dataset: .cocoStuffVal) }
        // f: an image without a label file is listed, not silently dropped.
        writeFile(root.file("ADEChallengeData2016/images/validation/f.jpg"), Data(jpeg))
        #expect(try DirectorySource(root: root.path, dataset: .ade20k150).unlabeledImages == ["f.jpg"])
    }
}
