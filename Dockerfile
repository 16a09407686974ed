# spanguard's container image: `docker build -t spanguard:dev .` from the repository root.
# Build stage: the Rust binary, with the eBPF probe's kernel half compiled by clang (build.rs).
FROM rust:1-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang llvm libbpf-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin spanguard

# Run stage: the binary and ONNX Runtime's shared library (from the onnxruntime wheel, as scripts/setup does),
# which `ort` loads at run time for the graph detector.
FROM python:3.12-slim-bookworm
RUN pip install --no-cache-dir onnxruntime \
 && ln -s "$(python -c 'import glob, os, onnxruntime; print(sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so*")))[0])')" /usr/local/lib/libonnxruntime.so \
 && useradd --system --uid 10001 spanguard
ENV ORT_DYLIB_PATH=/usr/local/lib/libonnxruntime.so
COPY --from=build /src/target/release/spanguard /usr/local/bin/spanguard
COPY examples/spanguard.yaml /etc/spanguard/spanguard.yaml
# OTLP gRPC, OTLP HTTP, /metrics and /healthz.
EXPOSE 4317 4318 8888
# The pipeline needs no privilege; only the eBPF probe does (see examples/k8s/probe-daemonset.yaml).
USER 10001
ENTRYPOINT ["spanguard"]
CMD ["run", "--config", "/etc/spanguard/spanguard.yaml"]
