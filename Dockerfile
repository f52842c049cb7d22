# The Dripcast binaries: dripcast (every role) and metasim (the Cloud API simulator).
FROM golang:1.26.10-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/dripcast ./cmd/dripcast \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/metasim ./cmd/metasim

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dripcast /out/metasim /usr/local/bin/
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/dripcast"]
CMD ["serve"]
