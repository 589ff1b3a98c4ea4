# Almanac — build, test and benchmark entry points. `make test` is what CI runs.
SWIFT ?= swift

.PHONY: deps build test browser-test run bench clean

## Install the system packages the build needs (liblmdb-dev, pkg-config, tzdata).
deps:
	@tools/install-deps.sh

## Debug build of every target.
build: deps
	$(SWIFT) build --build-tests

## The whole test suite, from a fresh machine that has only Swift (the journal contract also
## runs against a throwaway PostgreSQL server, installed and started by the script). The
## three-node cluster test runs release builds of `almanac` (a thousand runs a second).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) build -c release --product almanac
	ALMANAC_CLUSTER_BINARY="$$($(SWIFT) build -c release --show-bin-path)/almanac" \
		tools/postgres-test-server.sh run $(SWIFT) test
	tools/schemathesis.sh
	tools/browser-test.sh

## The web UI in headless Chromium (also part of `test`); screenshots in .build/browser-screenshots.
browser-test: deps
	tools/browser-test.sh

## The server on http://127.0.0.1:8080 with its journal in ./data; options in ARGS.
run: deps
	$(SWIFT) build -c release --product almanac
	.build/release/almanac serve $(ARGS)

## Release benchmarks; figures go to docs/benchmarks.md.
bench: deps
	$(SWIFT) build -c release --product bench-journal
	.build/release/bench-journal

clean:
	rm -rf .build
