# syntax=docker/dockerfile:1
# Build stage: the official Swift image compiles a release binary with the Swift runtime linked in statically.
FROM swift:6.2-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
RUN swift build -c release --static-swift-stdlib --product tapedeck \
    && install -D "$(swift build -c release --show-bin-path)/tapedeck" /out/tapedeck

# Runtime stage: a slim Debian with the system SQLite, running as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-0 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /cassettes tapedeck \
    && mkdir -p /cassettes && chown tapedeck /cassettes
COPY --from=build /out/tapedeck /usr/local/bin/tapedeck
COPY cassettes/ /cassettes/
USER tapedeck
VOLUME ["/cassettes"]
EXPOSE 4010
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:4010/_tapedeck/health || exit 1
ENTRYPOINT ["tapedeck"]
CMD ["serve", "--host", "0.0.0.0", "--cassette", "/cassettes/default.sqlite"]
