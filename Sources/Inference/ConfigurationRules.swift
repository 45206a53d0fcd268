import Data
import Model

/// The range and choice of every configuration value, checked when a configuration is loaded so
/// that a bad value is a named error before anything runs, never a trap deep in training. Checks
/// that need the CLIP model or the world size (crop size vs patch size, batch vs ranks) follow in
/// ``ModelBuilder/validate(_:clip:)`` and the trainer.
enum ConfigurationRules {
    /// One check: the dotted key, a function returning the problem (if any), and the key whose
    /// source the message cites (the key itself, or the one that made it required).
    struct Rule {
        let key: String
        var sourceKey: String?
        let problem: (TrainingConfiguration) -> String?

        init(key: String, sourceKey: String? = nil, problem: @escaping (TrainingConfiguration) -> String?) {
            (self.key, self.sourceKey, self.problem) = (key, sourceKey, problem)
        }
    }

    /// Throws a ``ConfigurationError`` listing every rule `configuration` breaks; each problem's
    /// source is looked up in `sources` (dotted key → file:line or `--set …`).
    static func check(_ configuration: TrainingConfiguration, sources: [String: String], fallbackSource: String) throws {
        let problems = rules.compactMap { rule in
            rule.problem(configuration).map {
                ConfigurationError.Problem(key: rule.key, source: sources[rule.sourceKey ?? rule.key] ?? fallbackSource, message: $0)
            }
        }
        if !problems.isEmpty { throw ConfigurationError(problems) }
    }

    // MARK: rule builders

    static func atLeast<Value: Comparable>(_ key: String, _ path: KeyPath<TrainingConfiguration, Value>, _ minimum: Value,
                                           _ meaning: String = "") -> Rule {
        Rule(key: key) { c in
            c[keyPath: path] >= minimum ? nil : "\(c[keyPath: path]) is below the minimum \(minimum)\(meaning.isEmpty ? "" : " (\(meaning))")"
        }
    }

    static func within<Value: Comparable>(_ key: String, _ path: KeyPath<TrainingConfiguration, Value>,
                                          _ range: ClosedRange<Value>, _ meaning: String = "") -> Rule {
        Rule(key: key) { c in
            range.contains(c[keyPath: path]) ? nil
                : "\(c[keyPath: path]) is outside \(range.lowerBound)…\(range.upperBound)\(meaning.isEmpty ? "" : " (\(meaning))")"
        }
    }

    static func oneOf(_ key: String, _ path: KeyPath<TrainingConfiguration, String>, _ choices: [String]) -> Rule {
        Rule(key: key) { c in
            choices.contains(c[keyPath: path]) ? nil : "'\(c[keyPath: path])' is not one of \(choices.joined(separator: ", "))"
        }
    }

    static func eachAtLeast<Value: Comparable>(_ key: String, _ path: KeyPath<TrainingConfiguration, [Value]>, count: Int,
                                               _ minimum: Value) -> Rule {
        Rule(key: key) { c in
            let values = c[keyPath: path]
            if values.count != count { return "\(values) has \(values.count) entries; expected \(count)" }
            return values.allSatisfy { $0 >= minimum } ? nil : "\(values) has an entry below the minimum \(minimum)"
        }
    }

    static func source(_ key: String, _ path: KeyPath<TrainingConfiguration, TrainingConfiguration.SourceSection>) -> [Rule] {
        [oneOf("\(key).kind", path.appending(path: \.kind), ["demo", "shards", "folder"]),
         atLeast("\(key).count", path.appending(path: \.count), 0, "0 = every sample"),
         atLeast("\(key).image_size", path.appending(path: \.imageSize), 8),
         Rule(key: "\(key).count", sourceKey: "\(key).kind") { c in
             let s = c[keyPath: path]
             return s.kind == "demo" && s.count == 0 ? "a demo source needs count > 0 scenes" : nil
         },
         Rule(key: "\(key).path", sourceKey: "\(key).kind") { c in
             let s = c[keyPath: path]
             return s.kind == "shards" && s.path.isEmpty ? "a shards source needs the shard folder" : nil
         },
         Rule(key: "\(key).dataset") { c in
             let s = c[keyPath: path]
             guard s.kind == "folder", DatasetName(rawValue: s.dataset) == nil else { return nil }
             return "'\(s.dataset)' is not one of \(DatasetName.allCases.map(\.rawValue).joined(separator: ", "))"
         }]
    }

    // MARK: the rules

    static var rules: [Rule] {
        let a = \TrainingConfiguration.model.architecture, d = a.appending(path: \.decoder)
        var rules: [Rule] = [
            Rule(key: "model.clip") { $0.model.clip.isEmpty ? "empty: give `tiny` or a Hugging Face CLIP folder" : nil },
            Rule(key: "model.prompt_template") { $0.model.promptTemplate.contains("{}") ? nil : "'\($0.model.promptTemplate)' has no {} for the class name" },
            atLeast("model.class_chunk", \.model.classChunk, 0, "0 = all classes at once"),
            within("model.memory_budget_gb", \.model.memoryBudgetGb, 0...1e6, "0 = recompute every class"),
            atLeast("model.init_seed", \.model.initSeed, 0),
            eachAtLeast("model.architecture.guidance_blocks", a.appending(path: \.guidanceBlocks), count: 2, 0),
            eachAtLeast("model.architecture.guidance_channels", a.appending(path: \.guidanceChannels), count: 2, 1),
            atLeast("model.architecture.p2t_heads", a.appending(path: \.p2tHeads), 1),
            atLeast("model.architecture.p2t_layers", a.appending(path: \.p2tLayers), 0),
            atLeast("model.architecture.t2p_weight", a.appending(path: \.t2pWeight), 0),
            eachAtLeast("model.architecture.auxiliary_weights", a.appending(path: \.auxiliaryWeights), count: 3, 0),
        ]
        let decoderMinimums: [(String, KeyPath<CostAggregationDecoder.Configuration, Int>, Int)] = [
            ("text_width", \.textWidth, 1), ("image_channels", \.imageChannels, 1), ("hidden", \.hidden, 1),
            ("text_guidance", \.textGuidance, 0), ("appearance_guidance", \.appearanceGuidance, 0), ("layers", \.layers, 1),
            ("heads", \.heads, 1), ("resolution", \.resolution, 1), ("window", \.window, 1), ("pooling", \.pooling, 1),
            ("pad_length", \.padLength, 1), ("local_kernel", \.localKernel, 1), ("top_k", \.topK, 1),
        ]
        rules += decoderMinimums.map { atLeast("model.architecture.decoder.\($0.0)", d.appending(path: $0.1), $0.2) }
        rules += [
            eachAtLeast("model.architecture.decoder.decoder_dims", d.appending(path: \.decoderDims), count: 2, 1),
            eachAtLeast("model.architecture.decoder.decoder_guidance_dims", d.appending(path: \.decoderGuidanceDims), count: 2, 1),
            eachAtLeast("model.architecture.decoder.decoder_guidance_projections", d.appending(path: \.decoderGuidanceProjections), count: 2, 0),
            Rule(key: "model.architecture.decoder.local_kernel") { $0.model.architecture.decoder.localKernel % 2 == 1 ? nil : "must be odd (a centred window)" },
        ]
        rules += source("data.train", \.data.train) + source("data.test", \.data.test)
        rules += [
            within("data.short_edge", \.data.shortEdge, 1...16384),
            within("data.max_size", \.data.maxSize, 1...65536),
            within("data.crop_size", \.data.cropSize, 1...8192),
            within("data.workers", \.data.workers, 0...256, "0 = load on the training thread"),
            within("data.prefetch", \.data.prefetch, 1...1024),
            atLeast("solver.ims_per_batch", \.solver.imsPerBatch, 1),
            atLeast("solver.ims_per_rank", \.solver.imsPerRank, 1),
            atLeast("solver.max_iter", \.solver.maxIter, 1),
            atLeast("solver.base_lr", \.solver.baseLr, 0),
            atLeast("solver.clip_lr_multiplier", \.solver.clipLrMultiplier, 0),
            atLeast("solver.weight_decay", \.solver.weightDecay, 0),
            atLeast("solver.weight_decay_norm", \.solver.weightDecayNorm, 0),
            oneOf("solver.lr_scheduler", \.solver.lrScheduler, ["cosine", "poly", "constant"]),
            Rule(key: "solver.poly_power") { $0.solver.polyPower > 0 ? nil : "\($0.solver.polyPower) must be positive" },
            atLeast("solver.warmup_iters", \.solver.warmupIters, 0),
            within("solver.warmup_factor", \.solver.warmupFactor, 0...1),
            atLeast("solver.clip_grad_norm", \.solver.clipGradNorm, 0, "0 = no clipping"),
            Rule(key: "solver.betas") { c in
                c.solver.betas.count == 2 && c.solver.betas.allSatisfy({ $0 >= 0 && $0 < 1 }) ? nil : "\(c.solver.betas) must be two numbers in [0, 1)"
            },
            Rule(key: "solver.eps") { $0.solver.eps > 0 ? nil : "\($0.solver.eps) must be positive" },
            atLeast("solver.max_nonfinite_steps", \.solver.maxNonfiniteSteps, 0),
            atLeast("test.eval_period", \.test.evalPeriod, 0, "0 = no evaluation during training"),
            atLeast("test.max_images", \.test.maxImages, 0, "0 = every image"),
            atLeast("checkpoint.period", \.checkpoint.period, 1),
            atLeast("checkpoint.keep", \.checkpoint.keep, 0, "0 = keep every checkpoint"),
            within("distributed.bucket_mb", \.distributed.bucketMb, 1...4096),
            oneOf("distributed.overlap", \.distributed.overlap, ["auto", "on", "off"]),
            oneOf("distributed.transport", \.distributed.transport, ["auto", "shared", "mpi"]),
            atLeast("distributed.verify_every", \.distributed.verifyEvery, 0, "0 = only at start-up"),
            atLeast("distributed.watchdog_seconds", \.distributed.watchdogSeconds, 0, "0 = automatic"),
            Rule(key: "output_dir") { $0.outputDir.isEmpty ? "empty: give a folder" : nil },
            atLeast("log_period", \.logPeriod, 1),
            atLeast("seed", \.seed, 0),
            within("threads", \.threads, 0...4096, "0 = from FGASEG_THREADS or the CPUs available"),
        ]
        return rules
    }
}
