# The ferris-usage image, the one the chart deploys (ghcr.io/ferrislabs/ferris-usage:<the chart's appVersion>).
#   With a registry:  docker build --build-arg REVISION=$(git rev-parse HEAD) -t ghcr.io/ferrislabs/ferris-usage:0.1.0 .
#   Without one:      scripts/build-image.sh builds this same file with buildah: the runtime stage on a Debian 12 base
#                     made from Debian's packages (RUNTIME_BASE), the build stage replaced by the same build run there.
# Stage build: the release binary (Swift's standard library linked in) and librdkafka >= 2.3 as scripts/setup.sh builds
# it on Debian 12. Stage runtime: a slim Debian 12 with the shared libraries the binary loads and the user 10001. The
# image: the runtime with the build's output, run as uid and gid 10001.
ARG SWIFT_VERSION=6.3
ARG RUNTIME_BASE=docker.io/library/debian:bookworm-slim

FROM docker.io/library/swift:${SWIFT_VERSION}-bookworm AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh --build-only
COPY Package.swift ./
COPY Sources Sources
# The usage API's server code is generated from docs/openapi.yaml (Sources/Services/UsageAPI/openapi.yaml links to it).
COPY docs/openapi.yaml docs/openapi.yaml
COPY benchmarks benchmarks
COPY Tests Tests
COPY scripts/build-image.sh scripts/build-image.sh
RUN scripts/build-image.sh --stage /out

FROM ${RUNTIME_BASE} AS runtime
# libpq (PostgreSQL); libcurl (the FOCUS export's S3 client, the usage API's key set); what the build stage's
# librdkafka links (OpenSSL, SASL, zstd, lz4, zlib, curl); CA certificates for TLS to Kafka, PostgreSQL, S3 and OIDC.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libpq5 libssl3 libsasl2-2 libzstd1 liblz4-1 zlib1g libcurl4 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ferris \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin ferris

FROM runtime
COPY --from=build /out/lib/ /usr/local/lib/
COPY --from=build /out/ferris-usage /usr/local/bin/ferris-usage
COPY topologies /etc/ferris-usage/topologies
RUN ldconfig
# VERSION is the chart's appVersion (scripts/build-image.sh checks it); REVISION the commit built.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="ferris-usage" \
      org.opencontainers.image.description="Exact, billable hourly usage totals for ferrisDX platform instances" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/ferrislabs/ferris-usage" \
      org.opencontainers.image.revision="${REVISION}"
USER 10001:10001
EXPOSE 9090 8080
ENTRYPOINT ["/usr/local/bin/ferris-usage"]
CMD ["run"]
