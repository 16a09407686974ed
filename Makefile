# The two commands of the README. Both install what a fresh machine lacks first (scripts/setup).
.PHONY: setup demo run test lint fuzz bench

setup:
	@scripts/setup

# The main job: the embedded demo (pipeline on loopback, live workload, both detectors, both attacks; no external
# service), built with the quick `demo` profile (Cargo.toml). Options: make demo ARGS="--forward http://jaeger:4317".
# On a fresh clone the build is most of the wait, so ONNX Runtime (all the demo needs from PyPI) installs
# alongside it; `make test` installs the rest.
demo:
	@scripts/setup system
	@scripts/setup runtime > .setup.log 2>&1 & setup=$$!; \
	cargo build --profile demo --bin spanguard; built=$$?; \
	wait $$setup; installed=$$?; cat .setup.log; rm -f .setup.log; \
	[ $$built = 0 ] && [ $$installed = 0 ]
	eval "$$(scripts/env)" && cargo run --profile demo --bin spanguard -- demo $(ARGS)

# spanguard as a pass-through hop on the standard OTLP ports (Ctrl-C to stop).
run: setup
	eval "$$(scripts/env)" && cargo run --release -- run --config examples/passthrough.yaml

# Every test of the workspace, with ONNX Runtime and the Python SDK from .venv.
test: setup
	eval "$$(scripts/env)" && cargo test --workspace --all-targets

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	@command -v cargo-machete > /dev/null || cargo install --locked cargo-machete
	cargo machete

# Every fuzz target for SECS seconds (default 60); nightly toolchain, cargo-fuzz installed if absent.
fuzz: setup
	eval "$$(scripts/env)" && scripts/fuzz $(or $(SECS),60)

# The three-way throughput benchmark (BENCHMARKS.md): direct, pass-through, detectors.
bench: setup
	eval "$$(scripts/env)" && cargo run --release --bin spanguard -- bench --duration 15s --warmup 10s
