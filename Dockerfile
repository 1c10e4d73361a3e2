# syntax=docker/dockerfile:1
#
# jwtgate's container image: a static binary on a distroless base, run as
# a non-root user. No HEALTHCHECK: the orchestrator probes the admin
# listener (/healthz, /readyz), see deploy/kubernetes/.
#
#   docker build -t jwtgate:0.1.0 .
#   docker run --rm jwtgate:0.1.0 version
#
# The admin listener defaults to 127.0.0.1:9901, which is out of reach
# from outside the container: pass --admin 0.0.0.0:9901 where probes or
# Prometheus must reach it (docs/operations.md explains why that is safe
# only on a private network).

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd ./cmd
COPY internal ./internal
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/jwtgate ./cmd/jwtgate

# distroless/static: CA certificates, /etc/passwd with the nonroot user
# (65532), no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/jwtgate /usr/local/bin/jwtgate
USER 65532:65532
# 8080: the listener of the configurations in deploy/kubernetes; 9901:
# the admin listener (--admin).
EXPOSE 8080 9901
ENTRYPOINT ["/usr/local/bin/jwtgate"]
CMD ["serve", "-c", "/etc/jwtgate"]
