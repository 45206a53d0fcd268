import Foundation
import Testing
@testable import IO

/// A smooth synthetic RGB scene (gradients and a disc), which JPEG compresses well.
func syntheticImage(width: Int, height: Int, channels: Int = 3) -> Raster<UInt8> {
    var image = Raster<UInt8>(width: width, height: height, channels: channels)
    for y in 0..<height {
        for x in 0..<width {
            let inside = (x - width / 2) * (x - width / 2) + (y - height / 2) * (y - height / 2) < (width * width) / 16
            for c in 0..<channels {
                let base = x * 160 / max(1, width - 1) + c * 20 + y * 30 / max(1, height - 1)
                image[y, x, c] = UInt8(inside ? 255 - base / 2 : base)
            }
        }
    }
    return image
}

func psnr(_ a: Raster<UInt8>, _ b: Raster<UInt8>) -> Double {
    let squared = zip(a.samples, b.samples).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }
    let mse = squared / Double(a.samples.count)
    return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
}

@Suite struct ImageCodecTests {
    @Test(arguments: [1, 3])
    func jpegRoundTripStaysWithinPSNRBound(channels: Int) throws {
        let image = syntheticImage(width: 96, height: 64, channels: channels)
        let encoded = try JPEG.encode(image, quality: 92)
        #expect(encoded.starts(with: [0xFF, 0xD8]))
        let header = try encoded.withUnsafeBytes { try JPEG.info($0) }
        #expect(header.width == 96 && header.height == 64 && header.channels == channels)
        let decoded = try JPEG.decode(encoded, channels: channels)
        #expect(decoded.width == 96 && decoded.height == 64 && decoded.channels == channels)
        #expect(psnr(image, decoded) > 32, "PSNR \(psnr(image, decoded)) dB")
        // A gray file decodes to RGB on request with equal channels.
        if channels == 1 {
            let rgb = try JPEG.decode(encoded, channels: 3)
            #expect(rgb.samples.enumerated().allSatisfy { $0.element == decoded.samples[$0.offset / 3] })
        }
    }

    @Test func truncatedOrCorruptJPEGIsAnErrorNotACrash() throws {
        let encoded = try JPEG.encode(syntheticImage(width: 64, height: 64), quality: 90)
        let truncated = Array(encoded.prefix(encoded.count / 2))
        let error = #expect(throws: IOError.self) { try JPEG.decode(truncated) }
        #expect(error?.description.contains("Premature end of JPEG file") == true, "\(String(describing: error))")
        #expect(throws: IOError.self) { try JPEG.decode(Array(encoded.prefix(10))) }
        #expect(throws: IOError.self) { try JPEG.decode([UInt8](repeating: 7, count: 1000)) }
        #expect(throws: IOError.self) { try JPEG.decode([]) }
        // A decode buffer that is too small is reported, not overrun.
        var small = [UInt8](repeating: 0, count: 100)
        let tooSmall = #expect(throws: IOError.self) {
            try encoded.withUnsafeBytes { data in try small.withUnsafeMutableBufferPointer { _ = try JPEG.decode(data, into: $0) } }
        }
        #expect(tooSmall?.description.contains("too small") == true)
    }

    @Test(arguments: [1, 3, 4])
    func pngRoundTripIsExact(channels: Int) throws {
        let image = syntheticImage(width: 37, height: 23, channels: channels)
        let encoded = try PNG.encode(image)
        #expect(encoded.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(try PNG.decode(encoded, mode: .samples) == image)
    }

    @Test func palettePNGKeepsIndicesAndExpandsToColours() throws {
        var labels = Raster<UInt8>(width: 20, height: 10, channels: 1)
        for i in labels.samples.indices { labels.samples[i] = UInt8(i % 5) }
        let palette: [(UInt8, UInt8, UInt8)] = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 99, 199)]
        let encoded = try PNG.encode(labels, palette: palette)
        #expect(try PNG.decode(encoded, mode: .samples) == labels)
        let rgb = try PNG.decode(encoded, mode: .rgb)
        #expect(rgb.channels == 3)
        for i in labels.samples.indices {
            let colour = palette[Int(labels.samples[i])]
            #expect([rgb.samples[3 * i], rgb.samples[3 * i + 1], rgb.samples[3 * i + 2]] == [colour.0, colour.1, colour.2])
        }
    }

    @Test func grayPNGExpandsToRGB() throws {
        let gray = syntheticImage(width: 8, height: 8, channels: 1)
        let rgb = try PNG.decode(try PNG.encode(gray), mode: .rgb)
        #expect(rgb.samples == gray.samples.flatMap { [$0, $0, $0] })
    }

    @Test func truncatedOrCorruptPNGIsAnErrorNotACrash() throws {
        let encoded = try PNG.encode(syntheticImage(width: 64, height: 64))
        let truncated = #expect(throws: IOError.self) { try PNG.decode(Array(encoded.prefix(encoded.count - 40))) }
        #expect(truncated?.description.contains("truncated") == true, "\(String(describing: truncated))")
        let signature = #expect(throws: IOError.self) { try PNG.decode([UInt8](repeating: 1, count: 100)) }
        #expect(signature?.description == "PNG data: not a PNG file (bad signature)")
        var corrupt = encoded
        corrupt[corrupt.count / 2] ^= 0xFF
        #expect(throws: IOError.self) { try PNG.decode(corrupt) }
        #expect(throws: IOError.self) { try PNG.encode(Raster<UInt8>(width: 2, height: 2, channels: 2)) }
    }

    /// A PNG whose header claims 100000 × 100000 pixels (69 bytes of file): refused before any
    /// pixel buffer exists, naming the claimed size and the limit.
    @Test func pngHeaderBeyondThePixelBudgetIsRefused() throws {
        let claimed = try withClaimedPNGSize(PNG.encode(syntheticImage(width: 4, height: 4)), width: 100_000, height: 100_000)
        let error = #expect(throws: IOError.self) { try PNG.decode(claimed) }
        #expect(error?.description.contains("100000x100000") == true && error?.description.contains("268435456") == true, "\(String(describing: error))")
        // A custom limit applies too; the default admits the same image.
        let small = try PNG.encode(syntheticImage(width: 20, height: 20))
        #expect(throws: IOError.self) { try PNG.decode(small, limits: ImageLimits(maxPixels: 399)) }
        #expect(try PNG.decode(small, limits: ImageLimits(maxPixels: 400)).width == 20)
    }

    /// A JPEG whose frame header claims 65500 × 65500 pixels: refused before decoding.
    @Test func jpegHeaderBeyondThePixelBudgetIsRefused() throws {
        var bytes = try JPEG.encode(syntheticImage(width: 16, height: 16))
        let frame = try #require((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        for (offset, value) in [(5, 65500), (7, 65500)] {  // SOF0: marker, length(2), precision, height(2), width(2)
            bytes[frame + offset] = UInt8(value >> 8)
            bytes[frame + offset + 1] = UInt8(value & 0xFF)
        }
        let error = #expect(throws: IOError.self) { try decodeRGBImage(bytes) }
        #expect(error?.description.contains("65500x65500") == true, "\(String(describing: error))")
    }

    /// A four-component (CMYK) JPEG is an error that says CMYK.
    @Test func cmykJPEGIsNamed() throws {
        var bytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xC0, 0x00, 20, 8, 0x00, 0x08, 0x00, 0x08, 4]
        for component in 1...4 { bytes += [UInt8(component), 0x11, 0x00] }
        bytes += [0xFF, 0xDA, 0x00, 14, 4]
        for component in 1...4 { bytes += [UInt8(component), 0x00] }
        bytes += [0x00, 0x3F, 0x00] + [UInt8](repeating: 0, count: 64) + [0xFF, 0xD9]
        let error = #expect(throws: IOError.self) { try JPEG.decode(bytes) }
        #expect(error?.description.contains("CMYK") == true, "\(String(describing: error))")
    }
}

/// `png` with its IHDR width and height replaced (and the chunk's CRC recomputed).
func withClaimedPNGSize(_ png: [UInt8], width: UInt32, height: UInt32) -> [UInt8] {
    var bytes = png
    // Signature (8), IHDR length (4), "IHDR" (4), then width and height, big-endian.
    for (offset, value) in [(16, width), (20, height)] {
        for k in 0..<4 { bytes[offset + k] = UInt8((value >> (24 - 8 * UInt32(k))) & 0xFF) }
    }
    let crc = bytes[12..<29].withUnsafeBytes { crc32($0) }
    for k in 0..<4 { bytes[29 + k] = UInt8((crc >> (24 - 8 * UInt32(k))) & 0xFF) }
    return bytes
}
