import Data
import Model

/// Everything a training or evaluation run needs, as read from a YAML config (snake_case keys,
/// e.g. `solver.base_lr`). Every field has a default (the paper's ViT-B/16 recipe where one
/// exists), so a config file states only what differs; unknown keys are errors
/// (``ConfigurationLoader``).
public struct TrainingConfiguration: Codable, Equatable, Sendable {
    public struct ModelSection: Codable, Equatable, Sendable {
        public init() {}
        /// `tiny` (a random-weight CLIP-shaped model with a byte-level vocabulary, for the demo and
        /// tests) or a Hugging Face CLIP folder (`config.json`, `model.safetensors`, `vocab.json`, `merges.txt`).
        public var clip = "tiny"
        /// FGAseg's own hyper-parameters (spec §3; defaults: ViT-B/16).
        public var architecture = FGAsegModel.Configuration()
        /// Prompt template; `{}` is replaced by the class name's first synonym.
        public var promptTemplate = "A photo of a {} in the scene"
        /// Classes per chunk of the per-class decoder in training, and of the spatial aggregation's
        /// recomputation in backward (0 = all at once, activations kept). Same gradients, a
        /// fraction of the memory (spec §6, DESIGN §7).
        public var classChunk = 0
        /// With `class_chunk` > 0: the live tensor memory per rank (GB, 10⁹ bytes) the training step
        /// may use. The spatial aggregation keeps the activations of as many classes as fit (a
        /// multiple of `class_chunk`, chosen by one probe step at start and logged) and recomputes
        /// only the others in backward. 0 recomputes every class (least memory). Peak RSS is about
        /// 0.7 GB above the live tensors (allocator cache, code, loader).
        public var memoryBudgetGb = 7.0
        /// Seed of the new modules' initialisation (and of the tiny CLIP).
        public var initSeed: Int = 0
    }

    /// Where samples come from.
    public struct SourceSection: Codable, Equatable, Sendable {
        public init() {}
        /// `demo` (generated scenes), `shards` (an `fgaseg-prepare` folder) or `folder` (a dataset in
        /// detectron2's layout, read directly).
        public var kind = "demo"
        /// `shards`: the shard folder.
        public var path = ""
        /// `folder`: a dataset name (`coco-stuff-train`, `ade20k-150`, …).
        public var dataset = ""
        /// `folder`: the datasets root (empty: `$DETECTRON2_DATASETS`, else `./datasets`).
        public var root = ""
        /// `demo`: number of scenes. Other kinds: use only the first `count` samples (0 = all).
        public var count = 0
        /// `demo`: scene size in pixels.
        public var imageSize = 80

        /// `count` demo scenes.
        public static func demo(count: Int) -> SourceSection {
            var section = SourceSection()
            section.count = count
            return section
        }
    }

    public struct DataSection: Codable, Equatable, Sendable {
        public init() {}
        public var train = SourceSection.demo(count: 400)
        public var test = SourceSection.demo(count: 40)
        /// Spec §7 augmentation.
        public var shortEdge = 384
        public var maxSize = 1333
        public var cropSize = 384
        public var colorJitter = true
        public var flip = true
        /// Loader threads per rank and batches prepared ahead.
        public var workers = 2
        public var prefetch = 4
        public var skipBadSamples = false
    }

    public struct SolverSection: Codable, Equatable, Sendable {
        public init() {}
        /// Global batch (detectron2's IMS_PER_BATCH). Must equal world size × ims_per_rank ×
        /// the number of accumulated micro-batches.
        public var imsPerBatch = 8
        /// Images per rank per micro-batch.
        public var imsPerRank = 1
        public var maxIter = 80_000
        public var baseLr = 2e-4
        /// Learning-rate multiplier of the trainable CLIP parameters (q/v projections).
        public var clipLrMultiplier = 0.01
        public var weightDecay = 1e-4
        /// Weight decay of LayerNorm/GroupNorm/BatchNorm parameters.
        public var weightDecayNorm = 0.0
        /// `cosine`, `poly` or `constant`.
        public var lrScheduler = "cosine"
        public var polyPower = 0.9
        public var warmupIters = 0
        public var warmupFactor = 0.001
        /// Global L2 gradient-norm clip (0 = off).
        public var clipGradNorm = 0.01
        public var betas = [0.9, 0.999]
        public var eps = 1e-8
        /// Steps with a non-finite loss are skipped; more than this many in a run stop it.
        public var maxNonfiniteSteps = 20
    }

    public struct TestSection: Codable, Equatable, Sendable {
        public init() {}
        /// Evaluate every this many iterations (0 = never during training).
        public var evalPeriod = 5000
        /// The spec §8 sliding-window protocol (fgaseg-eval); training uses the quick path.
        public var slidingWindow = false
        /// Evaluate only the first `maxImages` images (0 = all).
        public var maxImages = 0
    }

    public struct CheckpointSection: Codable, Equatable, Sendable {
        public init() {}
        /// Write a checkpoint every this many iterations (and at the end).
        public var period = 5000
        /// Keep the newest `keep` checkpoints.
        public var keep = 3
    }

    public struct DistributedSection: Codable, Equatable, Sendable {
        public init() {}
        public var bucketMb = 25
        /// `auto` (overlap only when ranks span several hosts), `on` or `off`.
        public var overlap = "auto"
        /// How gradients travel: `shared` (memory shared by the ranks of each host, hierarchical
        /// across hosts; not with overlap), `mpi` (bucketed MPI all-reduces) or `auto` (shared
        /// unless overlapping).
        public var transport = "auto"
        /// Compare replica checksums every this many iterations (0 = only at start-up).
        public var verifyEvery = 0
        /// Abort the job, naming the ranks that did not arrive, when a collective takes longer
        /// than this many seconds. 0 = automatic: 5 × the slowest step (or evaluated image) so
        /// far, and at least 300 s.
        public var watchdogSeconds = 0.0
    }

    public var model = ModelSection()
    public var data = DataSection()
    public var solver = SolverSection()
    public var test = TestSection()
    public var checkpoint = CheckpointSection()
    public var distributed = DistributedSection()
    /// Where checkpoints, logs and evaluation results go.
    public var outputDir = "output"
    /// Print a progress line and log metrics every this many iterations.
    public var logPeriod = 20
    /// Seed of the data order and augmentation.
    public var seed: Int = 0
    /// Kernel and BLAS threads per rank (0 = all cores divided by the ranks on this host).
    public var threads = 0

    public init() {}
}

