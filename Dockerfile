# syntax=docker/dockerfile:1
#
# The healthcode image: one static binary (CGO_ENABLED=0 — the SQLite
# driver, modernc.org/sqlite, is pure Go) on distroless/static, which has
# CA certificates and time zones, a nonroot user and no shell.
#
#   docker build -t healthcode .
#   docker run -p 8080:8080 -e HEALTHCODE_KEY_SECRET=... healthcode serve --demo
#
# cmd/healthcode/packaging_test.go builds the binary with this file's
# `go build` line and checks that it is static and serves.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The VCS revision is stamped when .git is in the build context
# (healthcode --version, healthcode_build_info).
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/healthcode ./cmd/healthcode
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/healthcode /usr/local/bin/healthcode
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
USER 65532:65532
ENV HEALTHCODE_ADDR=0.0.0.0:8080 HEALTHCODE_DB=/data/healthcode.db
EXPOSE 8080
VOLUME /data
ENTRYPOINT ["healthcode"]
CMD ["serve"]
