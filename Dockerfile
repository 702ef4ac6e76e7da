# syntax=docker/dockerfile:1.7
# The callsync image: one static binary (musl, rustls + ring, no OpenSSL) on distroless/static,
# running as the distroless "nonroot" user 65532, as the chart's restricted security context
# expects (runAsNonRoot, readOnlyRootFilesystem: the binary writes no files).
#
#   docker build -t ghcr.io/callsync/callsync:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/callsync/callsync:0.1.0 .
#
# Not built on the project's machines (no container engine there); see docs/install.md.

# Same toolchain family as development (Rust 2024 edition; rust-version 1.89 in Cargo.toml).
FROM rust:1.95-bookworm AS build
ARG TARGETARCH
# ring compiles a little C and assembly: musl-gcc links it statically.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN case "$TARGETARCH" in \
      amd64|"") echo x86_64-unknown-linux-musl ;; \
      arm64) echo aarch64-unknown-linux-musl ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac > /rust-target \
 && rustup target add "$(cat /rust-target)"
WORKDIR /src
# The whole source tree minus what .dockerignore leaves out: Cargo.toml may name benches and
# tests, which must exist for the manifest to load.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(cat /rust-target)" \
 && CC="musl-gcc" cargo build --release --locked --bin callsync --target "$target" \
 && cp "target/$target/release/callsync" /callsync \
 && /callsync --version

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.source="https://github.com/callsync/callsync" \
      org.opencontainers.image.description="callsync: keeps the contacts of AI outbound-calling tasks at providers equal to Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /callsync /usr/local/bin/callsync
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/callsync"]
CMD ["controller"]
