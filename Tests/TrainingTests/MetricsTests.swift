import Foundation
import Testing
@testable import Training

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

    /// CRC-32C test vector, and an event file whose records check out and hold the logged tag.
    @Test func tensorBoardEventsAreValidTFRecords() throws {
        #expect(crc32c(Array("123456789".utf8)) == 0xE306_9283)
        let folder = temporaryFolder("events")
        let writer = try TensorBoardWriter(folder: folder)
        writer.add(scalars: [("loss/total", 0.25)], step: 7)
        let bytes = [UInt8](FileManager.default.contents(atPath: writer.path)!)
        var offset = 0, records = [[UInt8]]()
        func uint32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        while offset < bytes.count {
            let length = (0..<8).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
            #expect(uint32(offset + 8) == maskedCRC32C(Array(bytes[offset..<(offset + 8)])))
            let data = Array(bytes[(offset + 12)..<(offset + 12 + length)])
            #expect(uint32(offset + 12 + length) == maskedCRC32C(data))
            records.append(data)
            offset += 16 + length
        }
        #expect(records.count == 2)
        #expect(String(decoding: records[0], as: UTF8.self).contains("brain.Event:2"))
        #expect(String(decoding: records[1], as: UTF8.self).contains("loss/total"))
        // step 7 is field 2 as a varint: 0x10 0x07; simple_value 0.25 as field 2, wire type 5.
        #expect(records[1].contains(0x10) && records[1].firstIndex(of: 0x15).map { Array(records[1][($0 + 1)...($0 + 4)]) } == [0, 0, 0x80, 0x3E])
    }
}
