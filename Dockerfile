FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY migrations migrations
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/webfb webfb
COPY --from=build /src/target/release/webfb /usr/local/bin/webfb
USER webfb
WORKDIR /var/lib/webfb
ENV WEBFB_BIND=0.0.0.0:8080 WEBFB_DATA_DIR=/var/lib/webfb/data
EXPOSE 8080
ENTRYPOINT ["webfb"]
CMD ["serve"]
