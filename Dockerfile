# ferris-usage container image. Build: docker build -t ferris-usage .
# Stage 1 builds the release binary with librdkafka >= 2.3 the way scripts/setup.sh does on Debian 12 (bookworm);
# stage 2 is a slim runtime with the Swift runtime, librdkafka and libpq, running as an unprivileged user.
ARG SWIFT_VERSION=6.3

FROM swift:${SWIFT_VERSION}-bookworm AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh --build-only
COPY Package.swift ./
COPY Sources Sources
# The usage API's server code is generated from docs/openapi.yaml (Sources/UsageAPI/openapi.yaml links to it).
COPY docs/openapi.yaml docs/openapi.yaml
COPY benchmarks benchmarks
COPY Tests Tests
ENV PKG_CONFIG_PATH=/usr/local/lib/pkgconfig
RUN swift build -c release --product ferris-usage --static-swift-stdlib \
    && mkdir -p /out/lib \
    && cp "$(swift build -c release --show-bin-path)/ferris-usage" /out/ \
    && cp -P /usr/local/lib/librdkafka.so* /out/lib/

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libpq5 libssl3 libsasl2-2 libzstd1 liblz4-1 zlib1g libcurl4 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin ferris
COPY --from=build /out/lib/ /usr/local/lib/
COPY --from=build /out/ferris-usage /usr/local/bin/ferris-usage
COPY topologies /etc/ferris-usage/topologies
RUN ldconfig
USER 10001:10001
EXPOSE 9090 8080
ENTRYPOINT ["/usr/local/bin/ferris-usage"]
CMD ["run"]
