import Foundation
import IO

/// How a dataset's stored label values become contiguous class ids (spec §9).
public enum LabelMapping: Sendable, Equatable {
    /// Values are already class ids; each value in `ignored` means "ignore".
    case contiguous(ignored: Set<UInt16>)
    /// COCO-Stuff `stuffthingmaps` PNGs (value = COCO category id − 1, 0…181, 255 unlabeled): the
    /// 171 used values map to their rank, the 11 unused ids and 255 to ignore.
    case cocoStuffRaw

    /// The 182 → 171 table of the package's `coco_stuff_182_to_171.tsv`: entry v is the train id
    /// of stored value v, or nil for an unused id.
    public static let cocoStuffTable: [UInt16?] = {
        guard let url = Bundle.module.url(forResource: "coco_stuff_182_to_171", withExtension: "tsv", subdirectory: "classnames"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            fatalError("the package resource coco_stuff_182_to_171.tsv is missing")
        }
        var table = [UInt16?](repeating: nil, count: 182)
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: "\t")
            guard fields.count >= 2, let value = Int(fields[0]), value < 182 else { continue }
            table[value] = UInt16(fields[1]).flatMap { $0 == 255 ? nil : $0 }
        }
        return table
    }()

    /// Maps stored `values` in place to class ids or ``ignoreLabel``; a value that is neither a
    /// class id below `classCount` nor an ignore value is an error naming `context`.
    public func apply(to values: inout Raster<UInt16>, classCount: Int, context: String) throws {
        switch self {
        case .contiguous(let ignored):
            for i in values.samples.indices {
                let value = values.samples[i]
                if ignored.contains(value) { values.samples[i] = ignoreLabel; continue }
                guard Int(value) < classCount else {
                    throw IOError(context, "label value \(value) at pixel \(i) is outside the class range 0..<\(classCount) (ignore: \(ignored.sorted()))")
                }
            }
        case .cocoStuffRaw:
            let table = Self.cocoStuffTable
            for i in values.samples.indices {
                let value = Int(values.samples[i])
                if value == 255 { values.samples[i] = ignoreLabel; continue }
                guard value < table.count else {
                    throw IOError(context, "COCO-Stuff label value \(value) at pixel \(i) is neither 0…181 nor 255")
                }
                values.samples[i] = table[value] ?? ignoreLabel
            }
        }
    }
}
