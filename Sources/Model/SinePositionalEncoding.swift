import Foundation
import Tensor

/// DETR's normalised sine positional encoding of an `height × width` grid (spec §3.5):
/// `featuresPerAxis` features for the row coordinate, then as many for the column coordinate.
/// For row r (1-based) the coordinate is r / (height + 1e-6) · 2π; feature i uses frequency
/// 10000^(2⌊i/2⌋ / featuresPerAxis), sine for even i and cosine for odd i.
/// Returns [height·width, 2·featuresPerAxis], positions in row-major order.
public func sinePositionalEncoding(height: Int, width: Int, featuresPerAxis: Int) -> Tensor {
    let channels = 2 * featuresPerAxis
    let out = Tensor(uninitializedShape: [height * width, channels])
    func feature(_ coordinate: Double, _ i: Int) -> Float {
        let frequency = pow(10000.0, 2 * Double(i / 2) / Double(featuresPerAxis))
        let value = coordinate / frequency
        return Float(i % 2 == 0 ? sin(value) : cos(value))
    }
    for r in 0..<height {
        let y = Double(Float(r + 1) / (Float(height) + 1e-6) * Float(2 * Double.pi))
        for c in 0..<width {
            let x = Double(Float(c + 1) / (Float(width) + 1e-6) * Float(2 * Double.pi))
            let row = out.pointer + (r * width + c) * channels
            for i in 0..<featuresPerAxis {
                row[i] = feature(y, i)
                row[featuresPerAxis + i] = feature(x, i)
            }
        }
    }
    return out
}
