# cxrshard container image: a static-ish release binary on a small Debian runtime, non-root.
#   docker build -t cxrshard:latest .
#   docker run --rm -v "$PWD/data:/data" cxrshard:latest run /pipelines/vindr-ribcxr-dicom.toml --input /data/in --output /data/out
FROM rust:1.95-bookworm AS build
# cmake builds CharLS (JPEG-LS) and libjpeg-turbo (lossy JPEG); nasm assembles libjpeg-turbo's SIMD code
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake nasm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY pipelines ./pipelines
RUN cargo build --release --locked --bin cxrshard \
    && strip target/release/cxrshard

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin cxrshard
COPY --from=build /src/target/release/cxrshard /usr/local/bin/cxrshard
COPY pipelines /pipelines
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/cxrshard"]
CMD ["--help"]
