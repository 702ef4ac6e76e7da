# syntax=docker/dockerfile:1.7
# The callsync image, built from source: one static binary (glibc linked statically with
# crt-static; rustls + ring, no OpenSSL) on an empty base, with the CA bundle for providers' TLS
# and passwd/group entries for the non-root user 65532 ("nonroot", distroless' UID), which the
# chart's restricted security context runs as (runAsNonRoot, readOnlyRootFilesystem: the binary
# writes no files).
#
#   docker build -t ghcr.io/callsync/callsync:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/callsync/callsync:0.1.0 .
#
# The final stage is the same as packaging/Containerfile's (tests/image.rs compares them). The
# project's machines cannot pull the rust base image, so there scripts/build-image.sh builds
# the binary the same way on the host and packages it with packaging/Containerfile; tests/image.rs
# builds that image and runs its binary from the unpacked root.

# Same toolchain family as development (Rust 2024 edition; rust-version 1.89 in Cargo.toml).
FROM rust:1.95-bookworm AS build
ARG TARGETARCH
ARG REVISION=unknown
# jemalloc (the binary's allocator) is built for one page size and aborts on a kernel with larger
# pages. arm64 kernels use 4, 16 or 64 KiB pages, so arm64 builds for 64 KiB (lg 16), which runs
# on all three; amd64 kernels use 4 KiB.
RUN case "$TARGETARCH" in \
      amd64|"") echo x86_64-unknown-linux-gnu > /rust-target; echo 12 > /jemalloc-lg-page ;; \
      arm64) echo aarch64-unknown-linux-gnu > /rust-target; echo 16 > /jemalloc-lg-page ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac
WORKDIR /src
# The whole source tree minus what .dockerignore leaves out (.git among it, hence REVISION):
# Cargo.toml may name benches and tests, which must exist for the manifest to load.
COPY . .
# build.rs embeds REVISION for `callsync version` and the callsync_build_info metric.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(cat /rust-target)" \
 && CALLSYNC_GIT_COMMIT="$REVISION" RUSTFLAGS="-C target-feature=+crt-static" \
    JEMALLOC_SYS_WITH_LG_PAGE="$(cat /jemalloc-lg-page)" \
    cargo build --release --locked --bin callsync --target "$target" \
 && cp "target/$target/release/callsync" /callsync \
 && /callsync version

FROM scratch
ARG VERSION=unknown
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=https://github.com/callsync/callsync
LABEL org.opencontainers.image.title="callsync" \
      org.opencontainers.image.description="callsync: keeps the contacts of AI outbound-calling tasks at providers equal to Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY packaging/passwd /etc/passwd
COPY packaging/group /etc/group
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /callsync /usr/local/bin/callsync
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/callsync"]
CMD ["controller"]
