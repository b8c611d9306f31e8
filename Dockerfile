# The authsuite image: one static binary on an empty base (no image can be pulled where it is built).
# Build the binary first (scripts/stack.sh does both): CGO_ENABLED=0 go build -o build/authsuite ./cmd/authsuite
FROM scratch
COPY build/authsuite /authsuite
# An empty, non-root-owned /data: a new named volume mounted there starts with this ownership.
COPY --chown=65532:65532 build/empty/ /data/
USER 65532:65532
WORKDIR /data
ENV AUTHSUITE_DATA_DIR=/data AUTHSUITE_LOG_FORMAT=json
ENTRYPOINT ["/authsuite"]
CMD ["serve"]
