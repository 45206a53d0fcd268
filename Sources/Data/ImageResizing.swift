import IO

extension Raster where Sample == UInt8 {
    /// Resamples to `width` × `height` with Pillow's `BILINEAR` filter (the one detectron2's
    /// `ResizeTransform` uses for images): a triangle filter whose support widens with the
    /// down-scaling factor, so shrinking averages instead of aliasing. Separable, float accumulation.
    public func resizedBilinear(width outWidth: Int, height outHeight: Int) -> Raster<UInt8> {
        precondition(outWidth > 0 && outHeight > 0, "resize to \(outWidth)x\(outHeight)")
        if outWidth == width && outHeight == height { return self }
        let horizontal = ResamplingWeights(input: width, output: outWidth)
        let vertical = ResamplingWeights(input: height, output: outHeight)
        let c = channels
        var rows = [Float](repeating: 0, count: height * outWidth * c)
        var out = Raster<UInt8>(width: outWidth, height: outHeight, channels: c)
        let rowLength = outWidth * c
        samples.withUnsafeBufferPointer { source in
            rows.withUnsafeMutableBufferPointer { rows in
                horizontal.weights.withUnsafeBufferPointer { weights in
                    for y in 0..<height {
                        let input = source.baseAddress! + y * width * c, output = rows.baseAddress! + y * rowLength
                        for x in 0..<outWidth {
                            let (start, taps) = (horizontal.starts[x], horizontal.counts[x])
                            let w = weights.baseAddress! + x * horizontal.stride
                            for channel in 0..<c {
                                var sum: Float = 0
                                for k in 0..<taps { sum += Float(input[(start + k) * c + channel]) * w[k] }
                                output[x * c + channel] = sum
                            }
                        }
                    }
                }
            }
        }
        var accumulator = [Float](repeating: 0, count: rowLength)
        rows.withUnsafeBufferPointer { rows in
            out.samples.withUnsafeMutableBufferPointer { output in
                accumulator.withUnsafeMutableBufferPointer { sum in
                    for y in 0..<outHeight {
                        sum.update(repeating: 0)
                        for k in 0..<vertical.counts[y] {
                            let weight = vertical.weights[y * vertical.stride + k]
                            let row = rows.baseAddress! + (vertical.starts[y] + k) * rowLength
                            for i in 0..<rowLength { sum[i] += row[i] * weight }
                        }
                        let destination = output.baseAddress! + y * rowLength
                        for i in 0..<rowLength { destination[i] = UInt8(min(255, max(0, sum[i] + 0.5))) }
                    }
                }
            }
        }
        return out
    }
}

extension Raster {
    /// Nearest-neighbour resampling (Pillow's `NEAREST`, which detectron2 uses for label maps):
    /// output pixel x takes input pixel ⌊(x + ½)·in/out⌋.
    public func resizedNearest(width outWidth: Int, height outHeight: Int) -> Raster<Sample> {
        precondition(outWidth > 0 && outHeight > 0, "resize to \(outWidth)x\(outHeight)")
        if outWidth == width && outHeight == height { return self }
        let columns = (0..<outWidth).map { min(width - 1, Int((Double($0) + 0.5) * Double(width) / Double(outWidth))) }
        var out = Raster<Sample>(width: outWidth, height: outHeight, channels: channels)
        samples.withUnsafeBufferPointer { source in
            out.samples.withUnsafeMutableBufferPointer { output in
                for y in 0..<outHeight {
                    let sy = min(height - 1, Int((Double(y) + 0.5) * Double(height) / Double(outHeight)))
                    for x in 0..<outWidth {
                        for c in 0..<channels {
                            output[(y * outWidth + x) * channels + c] = source[(sy * width + columns[x]) * channels + c]
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Pillow-style triangle-filter taps for resampling `input` samples to `output` along one axis:
/// output sample i is Σ_k weights[i·stride + k] · input[starts[i] + k] for k < counts[i].
struct ResamplingWeights {
    private(set) var starts: [Int] = []
    private(set) var counts: [Int] = []
    private(set) var weights: [Float] = []
    let stride: Int

    init(input: Int, output: Int) {
        let scale = Double(input) / Double(output)
        let filterScale = max(scale, 1)
        let support = filterScale  // bilinear support 1, widened when down-scaling
        stride = Int(support.rounded(.up)) * 2 + 2
        weights = [Float](repeating: 0, count: output * stride)
        for i in 0..<output {
            let center = (Double(i) + 0.5) * scale
            let low = max(0, Int(center - support + 0.5))
            let high = min(input, Int(center + support + 0.5))
            let taps = (low..<high).map { max(0, 1 - abs((Double($0) - center + 0.5) / filterScale)) }
            let total = taps.reduce(0, +)
            starts.append(low)
            counts.append(taps.count)
            for (k, w) in taps.enumerated() { weights[i * stride + k] = Float(total > 0 ? w / total : 0) }
        }
    }
}
