// The `FGASeg` module: one import for code that uses the package as a library.
//
//     import FGASeg
//     let segmenter = try Segmenter(checkpoint: "model_0080000.h5")
//
// It re-exports the inference layer (Segmenter, model loading, configurations, rendering) and the
// layers its API speaks in: tensors, images and codecs, the model and CLIP. The dataset layer is
// a separate `import Data` (its module name would shadow Foundation's `Data` type), as are
// `Distributed` and the training layer.
@_exported import CLIP
@_exported import Inference
@_exported import IO
@_exported import Model
@_exported import Tensor
