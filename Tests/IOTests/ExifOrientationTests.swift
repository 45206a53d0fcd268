import Testing
@testable import IO

@Suite struct ExifOrientationTests {
    /// A JPEG with an APP1 EXIF segment (big-endian TIFF, IFD0 with tag 0x0112 = `orientation`).
    func jpeg(orientation: UInt8, littleEndian: Bool) throws -> [UInt8] {
        let image = Raster<UInt8>(width: 4, height: 2, channels: 3, filledWith: 100)
        var bytes = try JPEG.encode(image, quality: 95)
        let tiff: [UInt8] = littleEndian
            ? [0x49, 0x49, 0x2A, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, orientation, 0, 0, 0, 0, 0, 0, 0]
            : [0x4D, 0x4D, 0, 0x2A, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0]
        let body: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0] + tiff
        let length = body.count + 2
        bytes.insert(contentsOf: [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + body, at: 2)
        return bytes
    }

    @Test func readsTheOrientationTagInBothByteOrders() throws {
        for orientation in [1, 3, 6, 8] as [UInt8] {
            #expect(ExifOrientation.of(try jpeg(orientation: orientation, littleEndian: false)) == Int(orientation))
            #expect(ExifOrientation.of(try jpeg(orientation: orientation, littleEndian: true)) == Int(orientation))
        }
        #expect(ExifOrientation.of(try JPEG.encode(Raster(width: 2, height: 2, channels: 3), quality: 90)) == 1)
        #expect(try JPEG.decode(try jpeg(orientation: 6, littleEndian: true)).width == 4)  // still a valid JPEG
    }

    /// Orientation 6 (rotate 90° clockwise to display) and 3 (180°) on a 3 × 2 image.
    @Test func transformsToDisplayOrientation() {
        let image = Raster<UInt8>(width: 3, height: 2, channels: 1, samples: [1, 2, 3, 4, 5, 6])
        #expect(ExifOrientation.apply(6, to: image) == Raster(width: 2, height: 3, channels: 1, samples: [4, 1, 5, 2, 6, 3]))
        #expect(ExifOrientation.apply(3, to: image).samples == [6, 5, 4, 3, 2, 1])
        #expect(ExifOrientation.apply(8, to: image).samples == [3, 6, 2, 5, 1, 4])
        #expect(ExifOrientation.apply(2, to: image).samples == [3, 2, 1, 6, 5, 4])
    }
}
