import Foundation

/// The class-name lists of the training and evaluation sets, shipped with the package
/// (one name per line, contiguous-id order, as the FGAseg/CAT-Seg JSON files list them).
public enum ClassNames {
    public enum Vocabulary: String, CaseIterable, Sendable {
        case cocoStuff171 = "coco_stuff_171"
        case ade20k150 = "ade20k_150"
        case ade20k847 = "ade20k_847"
        case pascalContext59 = "pascal_context_59"
        case pascalContext459 = "pascal_context_459"
        case pascalVOC20 = "pascal_voc_20"

        /// The command-line name, e.g. `ade20k-150`.
        public var commandLineName: String { rawValue.replacingOccurrences(of: "_", with: "-") }
    }

    /// The names of `vocabulary`, in class-id order.
    public static func names(_ vocabulary: Vocabulary) -> [String] {
        guard let url = Bundle.module.url(forResource: vocabulary.rawValue, withExtension: "txt", subdirectory: "classnames"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            fatalError("the package's class-name list \(vocabulary.rawValue).txt is missing from its resources")
        }
        return text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }
}
