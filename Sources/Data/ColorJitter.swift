import IO
import Tensor

/// SSD photometric distortion on 8-bit RGB (spec §7; MaskFormer's `ColorAugSSDTransform`): each
/// step applies with probability ½ — brightness +U(−32, 32); then contrast → saturation → hue or
/// saturation → hue → contrast (order chosen with ½). Contrast ×U(0.5, 1.5); saturation scales
/// the HSV S channel ×U(0.5, 1.5); hue adds randint(−18, 18) to H (OpenCV's 0…179 scale) mod 180.
/// After each step values are clipped to 0…255 and truncated to integers, as NumPy's
/// `astype(uint8)` does.
public struct ColorJitter: Sendable, Equatable {
    public var brightnessDelta: Float = 32
    public var contrastRange: ClosedRange<Float> = 0.5...1.5
    public var saturationRange: ClosedRange<Float> = 0.5...1.5
    public var hueDelta = 18

    public init() {}

    /// Distorts `image` [H, W, 3] in place.
    public func apply(to image: inout Raster<UInt8>, using random: inout RandomGenerator) {
        precondition(image.channels == 3, "colour jitter needs RGB")
        if random.coin() { affine(&image, alpha: 1, beta: random.uniform(-brightnessDelta...brightnessDelta)) }
        let contrastFirst = random.coin()
        if contrastFirst, random.coin() { affine(&image, alpha: random.uniform(contrastRange), beta: 0) }
        if random.coin() { let factor = random.uniform(saturationRange); hsv(&image) { $1 = truncatedClip($1 * factor) } }
        if random.coin() {
            let shift = Float(Int(random.next() % UInt64(2 * hueDelta + 1)) - hueDelta)
            hsv(&image) { h, _ in h = Float((Int(h) + Int(shift) + 180) % 180) }
        }
        if !contrastFirst, random.coin() { affine(&image, alpha: random.uniform(contrastRange), beta: 0) }
    }

    private func affine(_ image: inout Raster<UInt8>, alpha: Float, beta: Float) {
        image.samples.withUnsafeMutableBufferPointer { samples in
            for i in samples.indices { samples[i] = UInt8(truncatedClip(Float(samples[i]) * alpha + beta)) }
        }
    }

    /// Converts to 8-bit HSV (OpenCV's scale), lets `body` change (H, S), converts back.
    private func hsv(_ image: inout Raster<UInt8>, _ body: (inout Float, inout Float) -> Void) {
        image.samples.withUnsafeMutableBufferPointer { samples in
            for p in stride(from: 0, to: samples.count, by: 3) {
                var (h, s, v) = rgbToHSV(samples[p], samples[p + 1], samples[p + 2])
                body(&h, &s)
                let (r, g, b) = hsvToRGB(h, s, v)
                (samples[p], samples[p + 1], samples[p + 2]) = (r, g, b)
            }
        }
    }
}

/// clip(x, 0, 255) truncated toward zero.
@inline(__always) func truncatedClip(_ x: Float) -> Float { min(255, max(0, x)).rounded(.towardZero) }

/// OpenCV's 8-bit RGB → HSV: H in 0…179 (degrees / 2), S and V in 0…255.
func rgbToHSV(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> (Float, Float, Float) {
    let (rf, gf, bf) = (Float(r), Float(g), Float(b))
    let v = max(rf, gf, bf), low = min(rf, gf, bf), diff = v - low
    let s = v == 0 ? 0 : (diff * 255 / v).rounded()
    var h: Float = 0
    if diff > 0 {
        if v == rf { h = 60 * (gf - bf) / diff } else if v == gf { h = 120 + 60 * (bf - rf) / diff } else { h = 240 + 60 * (rf - gf) / diff }
        if h < 0 { h += 360 }
    }
    return (Float(Int((h / 2).rounded()) % 180), s, v)
}

/// OpenCV's 8-bit HSV → RGB.
func hsvToRGB(_ h: Float, _ s: Float, _ v: Float) -> (UInt8, UInt8, UInt8) {
    let saturation = s / 255, value = v / 255
    let sector = (h * 2) / 60
    let i = Int(sector.rounded(.down)) % 6, f = sector - sector.rounded(.down)
    let p = value * (1 - saturation), q = value * (1 - saturation * f), t = value * (1 - saturation * (1 - f))
    let (r, g, b): (Float, Float, Float)
    switch i {
    case 0: (r, g, b) = (value, t, p)
    case 1: (r, g, b) = (q, value, p)
    case 2: (r, g, b) = (p, value, t)
    case 3: (r, g, b) = (p, q, value)
    case 4: (r, g, b) = (t, p, value)
    default: (r, g, b) = (value, p, q)
    }
    func byte(_ x: Float) -> UInt8 { UInt8(min(255, max(0, (x * 255).rounded()))) }
    return (byte(r), byte(g), byte(b))
}

extension RandomGenerator {
    /// True with probability ½.
    mutating func coin() -> Bool { next() & 1 == 1 }
    /// Uniform in `range`.
    mutating func uniform(_ range: ClosedRange<Float>) -> Float { range.lowerBound + (range.upperBound - range.lowerBound) * nextUniform() }
}
