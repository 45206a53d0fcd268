import Foundation

/// Turning class names into CLIP prompts (FGAseg's code: one template, first synonym only).
public enum Prompts {
    /// FGAseg/CAT-Seg's template.
    public static let defaultTemplate = "A photo of a {} in the scene"

    /// The first synonym of a comma-separated name list (ADE-847 style: "door, doorway" → "door").
    public static func firstSynonym(_ name: String) -> String {
        String(name.components(separatedBy: ", ").first ?? name).trimmingCharacters(in: .whitespaces)
    }

    /// `template` with `{}` replaced by the first synonym of `className`.
    public static func prompt(for className: String, template: String = defaultTemplate) -> String {
        template.replacingOccurrences(of: "{}", with: firstSynonym(className))
    }
}
