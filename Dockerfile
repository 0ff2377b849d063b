# syntax=docker/dockerfile:1
# meeting-service container image: a static binary and CA certificates on `scratch`, run as
# UID/GID 65532 (non-root). Build with Docker (BuildKit) or buildah:
#
#   docker build -t meeting-service:dev .
#   docker run --rm -p 50051:50051 meeting-service:dev --dev --listen 0.0.0.0:50051
#
# Without registry access (no rust image), build the binary on the host and use
# Dockerfile.prebuilt instead (see .ci/image-check.sh and docs/helm.md).

# Rust version of the builder; keep at or above Cargo.toml's rust-version.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
# TARGETARCH is set by BuildKit (amd64, arm64); plain builds default to amd64.
ARG TARGETARCH=amd64
COPY . .
# A fully static glibc binary (+crt-static), so that the final image needs no libc. --target
# keeps RUSTFLAGS off build scripts and proc-macros, which must stay dynamic. Only the service
# package of the workspace, with its default `dev` feature: the image runs `--dev` (above,
# .ci/image-check.sh); `--no-default-features` would leave the emulator out.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    case "${TARGETARCH}" in \
      amd64) target=x86_64-unknown-linux-gnu ;; \
      arm64) target=aarch64-unknown-linux-gnu ;; \
      *) echo "unsupported TARGETARCH ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
    && RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked -p meeting-service --target "${target}" \
    && install -D -m 0755 "target/${target}/release/meeting-service" /rootfs/usr/local/bin/meeting-service \
    && if readelf --program-headers /rootfs/usr/local/bin/meeting-service | grep -q INTERP; then \
         echo "meeting-service is not statically linked" >&2; exit 1; \
       fi
# The whole filesystem of the image, modes included: the binary, the CA bundle (rustls' platform
# verifier reads it) and an empty, world-writable /tmp (1777, as in distroless; dev mode writes
# its emulated tenant's secret there, the service itself writes nothing).
RUN install -D -m 0644 /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ca-certificates.crt \
    && install -d -m 1777 /rootfs/tmp

FROM scratch
COPY --from=build /rootfs /
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
LABEL org.opencontainers.image.title="meeting-service" \
      org.opencontainers.image.description="gRPC gateway that creates Microsoft Teams online meetings through Microsoft Graph" \
      org.opencontainers.image.licenses="Apache-2.0"
# Numeric, so that Kubernetes' runAsNonRoot can verify it without an /etc/passwd.
USER 65532:65532
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/meeting-service"]
