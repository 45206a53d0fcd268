import Foundation
import IO
import Tensor
import Testing
@testable import Data

@Suite struct AugmentationTests {
    /// Labels that encode each pixel's position: (y·W + x) mod 60000.
    func positional(width: Int, height: Int) -> DecodedSample {
        let labels = Raster<UInt16>(width: width, height: height, channels: 1, samples: (0..<(width * height)).map { UInt16($0) })
        return DecodedSample(name: "p", image: patternImage(width: width, height: height), labels: labels)
    }

    @Test func resizeFollowsResizeShortestEdge() {
        let augmentation = TrainingAugmentation()
        #expect(augmentation.resizedSize(width: 640, height: 480) == (512, 384))
        #expect(augmentation.resizedSize(width: 427, height: 640) == (384, 576))
        #expect(augmentation.resizedSize(width: 4000, height: 500) == (1333, 167))  // long edge capped
    }

    /// Without resizing or jitter, the output is exactly the crop window of the input (mirrored
    /// when flipped), and labels stay aligned with the image.
    @Test func cropAndFlipGeometryIsExact() {
        let augmentation = TrainingAugmentation(shortEdge: 30, cropSize: 20, colorJitter: nil)
        let sample = positional(width: 40, height: 30)
        var flips = Set<Bool>(), origins = Set<Int>()
        for seed in 0..<40 {
            var random = RandomGenerator(seed: UInt64(seed))
            let (image, labels, g) = augmentation.apply(sample, using: &random)
            #expect(g.resizedWidth == 40 && g.resizedHeight == 30 && g.cropWidth == 20 && g.cropHeight == 20)
            #expect(g.cropX >= 0 && g.cropX <= 20 && g.cropY >= 0 && g.cropY <= 10)
            flips.insert(g.flipped); origins.insert(g.cropY * 100 + g.cropX)
            for y in 0..<20 { for x in 0..<20 {
                let sx = g.cropX + (g.flipped ? 19 - x : x), sy = g.cropY + y
                #expect(labels[y, x, 0] == UInt16(sy * 40 + sx))
                #expect(image[y, x, 0] == sample.image[sy, sx, 0] && image[y, x, 1] == sample.image[sy, sx, 1])
            } }
        }
        #expect(flips.count == 2 && origins.count > 20)
    }

    @Test func smallImagesArePaddedWithGreyAndIgnore() {
        let augmentation = TrainingAugmentation(shortEdge: 30, cropSize: 36, colorJitter: nil, flip: false)
        var random = RandomGenerator(seed: 1)
        let (image, labels, g) = augmentation.apply(positional(width: 40, height: 30), using: &random)
        #expect(image.width == 36 && image.height == 36 && g.cropHeight == 30)
        for x in 0..<36 {
            #expect(labels[35, x, 0] == ignoreLabel && labels[30, x, 0] == ignoreLabel && labels[29, x, 0] == UInt16(29 * 40 + g.cropX + x))
            #expect(image[33, x, 1] == TrainingAugmentation.imagePadValue)
        }
    }

    @Test func labelsResizeByNearestNeighbour() {
        let labels = Raster<UInt16>(width: 4, height: 2, channels: 1, samples: [0, 1, 2, 3, 4, 5, 6, 7])
        #expect(labels.resizedNearest(width: 8, height: 4).samples == [0, 0, 1, 1, 2, 2, 3, 3, 0, 0, 1, 1, 2, 2, 3, 3,
                                                                         4, 4, 5, 5, 6, 6, 7, 7, 4, 4, 5, 5, 6, 6, 7, 7])
        #expect(labels.resizedNearest(width: 2, height: 1).samples == [5, 7])  // Pillow NEAREST gives [[5, 7]]
        // Bilinear on a constant image stays constant; down-scaling by 2 averages pixel pairs.
        let flat = Raster<UInt8>(width: 9, height: 7, channels: 3, filledWith: 77)
        #expect(flat.resizedBilinear(width: 4, height: 11).samples.allSatisfy { $0 == 77 })
        // Values from Pillow 13 `Image.resize(..., BILINEAR)` on the same arrays.
        let ramp = Raster<UInt8>(width: 4, height: 1, channels: 1, samples: [0, 100, 200, 40])
        #expect(ramp.resizedBilinear(width: 2, height: 1).samples == [71, 117])
        let grid = Raster<UInt8>(width: 9, height: 7, channels: 1, samples: (0..<63).map { UInt8($0 * 37 % 256) })
        let pillow: [UInt8] = [61, 116, 150, 110, 69, 145, 126, 91, 121, 143, 103, 125, 155, 120, 101, 177, 136, 96, 130, 185]
        let ours = grid.resizedBilinear(width: 5, height: 4).samples
        #expect(zip(ours, pillow).allSatisfy { abs(Int($0) - Int($1)) <= 1 }, "\(ours)")  // Pillow rounds in fixed point
    }

    /// Brightness ±32 then contrast ×[0.5, 1.5] on a grey image (saturation and hue cannot change
    /// grey) keeps every value in [⌊96·0.5⌋, ⌊160·1.5⌋], and does change it for some seeds.
    @Test func colourJitterStaysInItsRanges() {
        let jitter = ColorJitter()
        var changed = 0
        for seed in 0..<200 {
            var random = RandomGenerator(seed: UInt64(seed))
            var image = Raster<UInt8>(width: 4, height: 4, channels: 3, filledWith: 128)
            jitter.apply(to: &image, using: &random)
            #expect(image.samples.allSatisfy { $0 >= 48 && $0 <= 240 }, "seed \(seed): \(image.samples[0])")
            #expect(Set(image.samples).count == 1)
            if image.samples[0] != 128 { changed += 1 }
        }
        #expect(changed > 100)
        // HSV conversion round trip on saturated colours is exact up to OpenCV's 8-bit quantisation.
        for (r, g, b) in [(255, 0, 0), (10, 200, 30), (40, 60, 250), (200, 200, 10), (90, 90, 90)] as [(UInt8, UInt8, UInt8)] {
            let (h, s, v) = rgbToHSV(r, g, b)
            let back = hsvToRGB(h, s, v)
            #expect(abs(Int(back.0) - Int(r)) <= 3 && abs(Int(back.1) - Int(g)) <= 3 && abs(Int(back.2) - Int(b)) <= 3, "\((r, g, b)) → \(back)")
        }
    }
}
