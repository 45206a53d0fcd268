import Foundation

/// The datasets FGAseg trains and evaluates on, in detectron2's layout under
/// `$DETECTRON2_DATASETS` (spec §9; the paths of the FGA-seg / CAT-Seg registration scripts).
public enum DatasetName: String, CaseIterable, Sendable, Codable {
    case cocoStuffTrain = "coco-stuff-train"
    case cocoStuffVal = "coco-stuff-val"
    /// The same splits read from the raw `stuffthingmaps` annotations (values 0…181).
    case cocoStuffTrainRaw = "coco-stuff-train-raw"
    case cocoStuffValRaw = "coco-stuff-val-raw"
    case ade20k150 = "ade20k-150"
    case ade20k847 = "ade20k-847"
    case pascalContext59 = "pascal-context-59"
    case pascalContext459 = "pascal-context-459"
    case pascalVOC20 = "pascal-voc-20"

    /// Where the images and labels live and how labels map to class ids.
    public var layout: DatasetLayout {
        switch self {
        case .cocoStuffTrain: .init("coco-stuff/images/train2017", "coco-stuff/annotations_detectron2/train2017", "png", .cocoStuff171, .contiguous(ignored: [255]))
        case .cocoStuffVal: .init("coco-stuff/images/val2017", "coco-stuff/annotations_detectron2/val2017", "png", .cocoStuff171, .contiguous(ignored: [255]))
        case .cocoStuffTrainRaw: .init("coco-stuff/images/train2017", "coco-stuff/annotations/train2017", "png", .cocoStuff171, .cocoStuffRaw)
        case .cocoStuffValRaw: .init("coco-stuff/images/val2017", "coco-stuff/annotations/val2017", "png", .cocoStuff171, .cocoStuffRaw)
        case .ade20k150: .init("ADEChallengeData2016/images/validation", "ADEChallengeData2016/annotations_detectron2/validation", "png", .ade20k150, .contiguous(ignored: [255]))
        case .ade20k847: .init("ADE20K_2021_17_01/images_detectron2/validation", "ADE20K_2021_17_01/annotations_detectron2/validation", "tif", .ade20k847, .contiguous(ignored: [65535]))
        case .pascalContext59: .init("VOCdevkit/VOC2010/JPEGImages", "VOCdevkit/VOC2010/annotations_detectron2/pc59_val", "png", .pascalContext59, .contiguous(ignored: [255]))
        // The registration says ignore 459; LabelMap − 1 stored as uint16 turns "unlabeled" into 65535.
        case .pascalContext459: .init("VOCdevkit/VOC2010/JPEGImages", "VOCdevkit/VOC2010/annotations_detectron2/pc459_val", "tif", .pascalContext459, .contiguous(ignored: [459, 65535]))
        case .pascalVOC20: .init("VOCdevkit/VOC2012/JPEGImages", "VOCdevkit/VOC2012/annotations_detectron2/val", "png", .pascalVOC20, .contiguous(ignored: [255]))
        }
    }

    /// The datasets' root: `$DETECTRON2_DATASETS`, else `./datasets` (detectron2's default).
    public static var defaultRoot: String { ProcessInfo.processInfo.environment["DETECTRON2_DATASETS"] ?? "datasets" }
}

/// Folders (relative to the datasets root), label file extension, class list and label mapping.
public struct DatasetLayout: Sendable, Equatable {
    public var imageDirectory: String
    public var labelDirectory: String
    /// `png` (8-bit) or `tif` (8/16-bit).
    public var labelExtension: String
    public var vocabulary: ClassNames.Vocabulary
    public var mapping: LabelMapping

    init(_ imageDirectory: String, _ labelDirectory: String, _ labelExtension: String,
         _ vocabulary: ClassNames.Vocabulary, _ mapping: LabelMapping) {
        (self.imageDirectory, self.labelDirectory, self.labelExtension) = (imageDirectory, labelDirectory, labelExtension)
        (self.vocabulary, self.mapping) = (vocabulary, mapping)
    }
}
