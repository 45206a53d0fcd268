/// Configuration values that cannot be used: each problem names the dotted key (e.g.
/// `solver.max_iter`), where its value came from (`file.yaml:12`, `--set solver.max_iter=-5`, the
/// defaults or a checkpoint's saved config) and what was expected. All problems found are reported
/// together.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public struct Problem: Sendable, Equatable {
        /// Dotted snake_case key; empty for the document as a whole.
        public var key: String
        /// Where the value came from.
        public var source: String
        public var message: String

        public init(key: String, source: String, message: String) {
            (self.key, self.source, self.message) = (key, source, message)
        }
    }

    public var problems: [Problem]

    public init(_ problems: [Problem]) { self.problems = problems }

    public init(key: String, source: String, _ message: String) {
        self.init([Problem(key: key, source: source, message: message)])
    }

    public var description: String {
        problems.map { $0.key.isEmpty ? "\($0.source): \($0.message)" : "\($0.source): \($0.key): \($0.message)" }
            .joined(separator: "\n")
    }
}
