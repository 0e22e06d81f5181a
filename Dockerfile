# webfb: a multi-stage build (classic builder, BuildKit, kaniko and buildah alike: no
# heredocs, no cache mounts).
#   docker build -t webfb .
#   docker run -p 127.0.0.1:8080:8080 webfb                     # embedded SQLite in /var/lib/webfb/data
#   docker run -v webfb-data:/var/lib/webfb/data -p 127.0.0.1:8080:8080 webfb   # kept across containers
# With PostgreSQL see docker-compose.yml. A bind-mounted data folder must belong to uid 10001.
# buildah/podman: `buildah bud --format docker` keeps the HEALTHCHECK (the OCI format has
# none); Kubernetes ignores it either way: probe GET /health (liveness), /ready (readiness).

FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Dependencies first, in a layer of their own that is rebuilt only when the manifest, the
# lock file, the build script or the test macros (a path dev-dependency the lock file names)
# change. Dummy sources and benches stand in for the real ones: cargo reads every target
# the manifest declares, even those it does not build.
COPY Cargo.toml Cargo.lock build.rs ./
COPY macros macros
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for bench in service flood; do echo 'fn main() {}' > "benches/$bench.rs"; done \
    && cargo build --release --locked --bin webfb

# The real sources. They keep their own (older) times, so the dummies' build would look up
# to date: touching the crate roots makes cargo rebuild the crate itself, and only it. The
# last line proves the binary is the real one, not the dummy.
COPY migrations migrations
COPY src src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin webfb \
    && strip target/release/webfb \
    && target/release/webfb --help | grep -q 'serve'

FROM debian:bookworm-slim
# The app user and its working and data folders, owned by it before USER: the embedded
# database and its generated keys are written to WEBFB_DATA_DIR (0700, as webfb makes it).
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 webfb \
    && useradd --uid 10001 --gid webfb --home-dir /var/lib/webfb --no-create-home \
       --shell /usr/sbin/nologin webfb \
    && install -d -o webfb -g webfb -m 0750 /var/lib/webfb \
    && install -d -o webfb -g webfb -m 0700 /var/lib/webfb/data
COPY --from=build /src/target/release/webfb /usr/local/bin/webfb
WORKDIR /var/lib/webfb
# Numeric, so that an orchestrator can tell it is not root (runAsNonRoot).
USER 10001:10001
ENV WEBFB_BIND=0.0.0.0:8080 WEBFB_DATA_DIR=/var/lib/webfb/data
EXPOSE 8080
# GET /health over bash's /dev/tcp (no curl in the image), on the port of WEBFB_BIND. With
# WEBFB_TLS_CERT set the server speaks only TLS: then an accepted connection is the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/bin/bash", "-c", "host=${WEBFB_BIND%:*}; host=${host#[}; host=${host%]}; case $host in ''|0.0.0.0|::) host=127.0.0.1;; esac; exec 3<>\"/dev/tcp/$host/${WEBFB_BIND##*:}\" || exit 1; [ -n \"${WEBFB_TLS_CERT:-}\" ] && exit 0; printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3; read -r -t 4 _ status _ <&3; [ \"$status\" = 200 ]"]
ENTRYPOINT ["webfb"]
CMD ["serve"]
