import Foundation
import IO
import Testing
@testable import Training
@testable import Inference

@Suite struct MetricsTests {
    /// A hand-computed case: 3 classes, ignored pixels excluded, class 2 absent from the ground truth.
    @Test func confusionMatrixMetricsMatchDetectron2Definitions() {
        var matrix = ConfusionMatrix(classCount: 3)
        matrix.add(predicted: [0, 0, 1, 1, 1, 2, 0, 2], labels: [0, 0, 1, 1, 0, 1, 255, -1])
        // class 0: gt 3, pred 2 (non-ignored), tp 2 → IoU 2/3; class 1: gt 3, pred 3, tp 2 → IoU 2/4.
        let m = matrix.metrics
        #expect(abs(m.perClassIoU[0]! - 200.0 / 3) < 1e-9 && abs(m.perClassIoU[1]! - 50) < 1e-9 && m.perClassIoU[2] == nil)
        #expect(abs(m.mIoU - (200.0 / 3 + 50) / 2) < 1e-9)
        #expect(abs(m.pACC - 400.0 / 6) < 1e-9 && abs(m.mACC - 400.0 / 6) < 1e-9)
        #expect(abs(m.fwIoU - (0.5 * 200.0 / 3 + 0.5 * 50)) < 1e-9)
    }

    /// CRC-32C test vector, and an event file whose records check out and hold a scalar, an image
    /// and a text value with their TensorBoard fields.
    @Test func tensorBoardEventsAreValidTFRecords() throws {
        #expect(crc32c(Array("123456789".utf8)) == 0xE306_9283)
        let folder = temporaryFolder("events")
        let writer = try TensorBoardWriter(folder: folder)
        writer.add(scalars: [("loss/total", 0.25)], step: 7)
        var image = Raster<UInt8>(width: 5, height: 3, channels: 3)
        for y in 0..<3 { for x in 0..<5 { for c in 0..<3 { image[y, x, c] = UInt8(40 * x + 10 * y + c) } } }
        try writer.add(image: image, tag: "eval/sample_0", step: 8)
        writer.add(text: "model:\n  clip: tiny — ünïcode", tag: "config", step: 9)
        let records = try EventFile.records(at: writer.path)
        #expect(records.count == 4)
        #expect(String(decoding: try EventFile.bytes(records[0], 3).first ?? [], as: UTF8.self) == "brain.Event:2")
        let values = try EventFile.summaryValues(at: writer.path)
        #expect(values.map(\.tag) == ["loss/total", "eval/sample_0", "config"] && values.map(\.step) == [7, 8, 9])
        // simple_value (field 2, fixed32) = 0.25
        #expect(try EventFile.integer(values[0].value, 2).map { Float(bitPattern: UInt32($0)) } == 0.25)
        // Summary.Image: height, width, colorspace 3 (RGB), PNG bytes that decode to the image.
        let picture = try #require(try EventFile.bytes(values[1].value, 4).first)
        #expect(try EventFile.integer(picture, 1) == 3 && EventFile.integer(picture, 2) == 5 && EventFile.integer(picture, 3) == 3)
        #expect(try PNG.decode(try #require(try EventFile.bytes(picture, 4).first)) == image)
        // Text: a DT_STRING (7) tensor holding the text, metadata naming the text plugin.
        let tensor = try #require(try EventFile.bytes(values[2].value, 8).first)
        #expect(try EventFile.integer(tensor, 1) == 7)
        #expect(String(decoding: try #require(try EventFile.bytes(tensor, 8).first), as: UTF8.self) == "model:\n  clip: tiny — ünïcode")
        let metadata = try #require(try EventFile.bytes(values[2].value, 9).first)
        let plugin = try #require(try EventFile.bytes(metadata, 1).first)
        #expect(try EventFile.bytes(plugin, 1).first.map { String(decoding: $0, as: UTF8.self) } == "text")
    }
}
