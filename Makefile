# FGASeg.swift — the commands the README documents. Every target installs what it needs first.
#
#   make demo    install native deps, build (release) and run the end-to-end demo
#   make test    install native deps, build, and run the whole test suite (what CI runs)
#   make bench   release benchmarks (see DESIGN.md §7)

SWIFT ?= swift
RELEASE_BIN = $(shell $(SWIFT) build -c release --show-bin-path)

.PHONY: deps build release test unit-tests mpi-tests train-tests slurm-tests warnings linkage demo bench clean

deps:
	@Launch/setup

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# Release builds (products and test targets) must be free of warnings from our own sources.
warnings: deps
	@ci/check-warnings

# fgaseg-segment, fgaseg-export and fgaseg-prepare must not link MPI (after `make warnings` built them).
linkage: warnings
	@ci/check-linkage

# Unit tests run optimised (the model tests train small networks); -enable-testing keeps
# @testable imports working in a release build. The build command is ci/check-warnings' own, so
# after `make warnings` nothing is rebuilt (a plain `swift test` would rebuild everything).
unit-tests: deps
	SWIFT=$(SWIFT) ci/swiftpm build -c release --build-tests -Xswiftc -enable-testing
	SWIFT=$(SWIFT) ci/swiftpm test -c release -Xswiftc -enable-testing --skip-build --no-parallel

mpi-tests: deps
	@ci/mpi-tests

# fgaseg-train/fgaseg-eval under mpirun: SIGTERM + exact resume, kill -9 safety, distributed eval.
train-tests: deps
	@ci/train-tests

# A real single-node Slurm: sbatch, pre-emption (USR1), requeue and resume.
slurm-tests: deps
	@ci/slurm-tests

test: warnings linkage unit-tests mpi-tests train-tests slurm-tests

# The demo: 2 ranks train the tiny model on the built-in scenes (loss falls, an evaluation runs,
# checkpoints are written), then fgaseg-segment segments three new scenes (overlay PNGs).
DEMO_OUT ?= output/demo
demo: release
	Launch/mpirun-local -n 2 "$(RELEASE_BIN)/fgaseg-train" --config Configs/demo.yaml --output-dir $(DEMO_OUT) --force
	"$(RELEASE_BIN)/fgaseg-prepare" --demo val --count 3 --write-images $(DEMO_OUT)/scenes
	"$(RELEASE_BIN)/fgaseg-segment" $(DEMO_OUT)/scenes/images/*.png --classes "sky, grass, water, sand, brick wall, snow" \
		--checkpoint $(DEMO_OUT)/model_0000300.h5 --out $(DEMO_OUT)/segmentation
	@echo "demo done: training log $(DEMO_OUT)/metrics.jsonl, evaluations $(DEMO_OUT)/eval/, overlays $(DEMO_OUT)/segmentation/"

clean:
	$(SWIFT) package clean
