# sealq's container image: one static binary in an otherwise empty image.
#
# Two ways to build it, one runtime stage:
#   docker build -t sealq .          compiles in the builder stage below, from
#                                    a pinned official Rust image (needs a
#                                    container registry);
#   docker/build-image.sh [TAG]      compiles on the host (static glibc) and
#                                    builds the stages after the "runtime
#                                    stages" line below, with the builder
#                                    stage replaced by the host's binaries
#                                    (needs no base image at all).
# The builder's only output is /out: the two static binaries and an empty
# data directory. Everything from the "runtime stages" line on is shared.

FROM rust:1.95.0-bookworm AS builder
WORKDIR /src
COPY . .
RUN set -eu; \
    triple="$(uname -m)-unknown-linux-gnu"; \
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked \
        --profile container --target "$triple" --bin sealq --example compose-client; \
    mkdir -p /out/data; \
    cp "target/$triple/container/sealq" /out/sealq; \
    cp "target/$triple/container/examples/compose-client" /out/compose-client

# ---- runtime stages (docker/build-image.sh uses everything from here on) ----

# The example client of docker/compose.yaml: an SDK round trip through an
# SSE-KMS queue and its dead-letter queue, then exit 0.
FROM scratch AS client
COPY --from=builder /out/compose-client /compose-client
USER 65532:65532
ENTRYPOINT ["/compose-client"]

# sealq itself (the default target).
FROM scratch AS sealq
ARG SEALQ_VERSION=0.1.0
ARG SEALQ_SOURCE=https://github.com/sealq/sealq
LABEL org.opencontainers.image.title="sealq" \
      org.opencontainers.image.description="A local Amazon SQS emulator whose queues really encrypt (SSE-SQS and SSE-KMS through a KMS emulator on the same port)" \
      org.opencontainers.image.source="${SEALQ_SOURCE}" \
      org.opencontainers.image.version="${SEALQ_VERSION}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY --from=builder /out/sealq /sealq
# Empty and owned by the image's user, so a named volume mounted here (which
# Docker fills from the image, ownership included) is writable without root.
COPY --from=builder --chown=65532:65532 /out/data /data
USER 65532:65532
# sealq listens on 0.0.0.0:9324 by default; SEALQ_PORT moves both the server
# and the health check below.
EXPOSE 9324
# No shell or curl in the image: the binary asks its own health endpoint.
HEALTHCHECK --interval=500ms --timeout=2s --retries=3 CMD ["/sealq", "health"]
ENTRYPOINT ["/sealq"]
CMD ["serve"]
