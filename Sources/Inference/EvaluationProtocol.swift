/// How an evaluation ran: recorded in its JSON and named in the log, because the quick path
/// during training and `fgaseg-eval`'s default protocol give different numbers (by ~0.5–2 mIoU).
public struct EvaluationProtocol: Equatable, Sendable, CustomStringConvertible {
    /// The class aggregation's pooling of the class axis (2 while training, 1 for inference).
    public var classPooling: Int
    /// Spec §8's sliding window (`true`) or the quick path (one resized crop).
    public var slidingWindow: Bool
    /// The side of the model's input crop in pixels.
    public var inputSize: Int
    /// The number of classes T evaluated.
    public var classes: Int

    public init(classPooling: Int, slidingWindow: Bool, inputSize: Int, classes: Int) {
        (self.classPooling, self.slidingWindow, self.inputSize, self.classes) = (classPooling, slidingWindow, inputSize, classes)
    }

    /// `fgaseg-eval`'s default for `inputSize` and `classes`: sliding window, class pooling 1.
    public static func standard(inputSize: Int, classes: Int) -> EvaluationProtocol {
        EvaluationProtocol(classPooling: 1, slidingWindow: true, inputSize: inputSize, classes: classes)
    }

    public var description: String {
        "\(slidingWindow ? "sliding window" : "quick path"), class pooling \(classPooling), \(inputSize) px, \(classes) classes"
    }

    /// The `protocol` object of an evaluation's JSON (snake_case keys).
    public var json: [String: Any] {
        ["class_pooling": classPooling, "sliding_window": slidingWindow, "input_size": inputSize, "classes": classes]
    }
}
