# syntax=docker/dockerfile:1
# docker build -t tapedeck . && docker run --rm -p 127.0.0.1:4010:4010 tapedeck   (serves the demo cassette)

# Build stage: the official Swift image, tagged VERSION-DEBIAN_CODENAME, at the toolchain .ci/run builds with
# (swift --version: 6.3.1). It compiles a release binary with the Swift runtime linked in statically; its debug
# info is stripped (180 MB -> 114 MB) but its symbols stay, so a crash's backtrace still names functions.
FROM swift:6.3.1-bookworm AS build
# Unpinned apt packages (hadolint DL3008): the image follows bookworm's security updates, and a pinned version
# disappears from the archive when the next one lands, which would break the build rather than patch it.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# SwiftPM loads every target of Package.swift, even to build one product, so the test targets (Tests/) and the
# benchmark executables (Benchmarks/BareServer, Benchmarks/PacedLoad) must be there too.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY Benchmarks/BareServer ./Benchmarks/BareServer
COPY Benchmarks/PacedLoad ./Benchmarks/PacedLoad
# The inspector's templates and stylesheet, and the vocabulary of synthetic answers, are package resources: SwiftPM
# puts them in a bundle folder beside the binary, where the binary looks for them at start-up (it refuses to start
# without them).
RUN swift build -c release --static-swift-stdlib --product tapedeck \
    && install -D "$(swift build -c release --show-bin-path)/tapedeck" /out/tapedeck \
    && cp -R "$(swift build -c release --show-bin-path)/tapedeck_TapedeckServer.resources" /out/ \
    && strip --strip-debug /out/tapedeck

# Runtime stage: a slim Debian with the system SQLite, running as a non-root user.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-0 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /cassettes tapedeck \
    && mkdir -p /cassettes && chown tapedeck /cassettes
COPY --from=build /out/tapedeck /usr/local/bin/tapedeck
COPY --from=build /out/tapedeck_TapedeckServer.resources /usr/local/bin/tapedeck_TapedeckServer.resources
# The user by its number (hadolint DL3066): a name may not resolve on the host that checks it.
COPY --chown=10001 cassettes/demo.sqlite /cassettes/demo.sqlite
USER 10001
VOLUME ["/cassettes"]
EXPOSE 4010
# Exec form (hadolint DL3025): no shell in between; curl -f exits non-zero, so unhealthy, on an error status.
HEALTHCHECK --interval=10s --timeout=3s CMD ["curl", "-fsS", "http://127.0.0.1:4010/_tapedeck/health"]
ENTRYPOINT ["tapedeck"]
# The server listens on 0.0.0.0 inside the container, where the admin API (/_tapedeck/: reset, faults, journal,
# inspector) would demand --admin-token; --insecure-admin lets it start without one. So publish the port on
# loopback only (docker run -p 127.0.0.1:4010:4010), or set a token (-e TAPEDECK_ADMIN_TOKEN=...), which the
# admin API then requires whatever this flag says. /_tapedeck/health stays open for the HEALTHCHECK.
CMD ["serve", "--host", "0.0.0.0", "--insecure-admin", "--cassette", "/cassettes/demo.sqlite"]
