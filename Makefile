# FGASeg.swift — the commands the README documents. Every target installs what it needs first.
#
#   make demo    install native deps, build (release) and run the end-to-end demo
#   make test    install native deps, build, and run the whole test suite (what CI runs)
#   make bench   release benchmarks (see DESIGN.md §7)

SWIFT ?= swift
RELEASE_BIN = $(shell $(SWIFT) build -c release --show-bin-path)

.PHONY: deps build release test unit-tests mpi-tests warnings demo bench clean

deps:
	@Launch/setup

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# Release build must be free of warnings from our own sources.
warnings: deps
	@ci/check-warnings

# Unit tests run optimised (the model tests train small networks); -enable-testing keeps
# @testable imports working in a release build.
unit-tests: deps
	$(SWIFT) test -c release -Xswiftc -enable-testing --no-parallel

mpi-tests: deps
	@ci/mpi-tests

test: warnings unit-tests mpi-tests

demo: release
	Launch/mpirun-local -n 2 "$(RELEASE_BIN)/fgaseg-mpi-selftest" ddp

clean:
	$(SWIFT) package clean
