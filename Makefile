# One entry point for people and CI. `make test` is the whole test suite on a fresh machine:
# it builds the test control plane first when the cache does not hold it yet.
CARGO ?= cargo

.PHONY: test lint fmt controlplane tools podman image crds ci

## The whole test suite (unit, property, simulator, real-apiserver, chart and GitOps tests),
## then the leak scan over everything the suite's runs logged (tests/log_scan.rs): controller
## logs, Events and status writes (the test apiserver's audit log) in target/test-logs.
TEST_LOG_DIR ?= $(CURDIR)/target/test-logs

test: controlplane tools podman
	rm -rf $(TEST_LOG_DIR) && mkdir -p $(TEST_LOG_DIR)
	CALLSYNC_TEST_LOG_DIR=$(TEST_LOG_DIR) $(CARGO) test --all-features --locked
	CALLSYNC_TEST_LOG_DIR=$(TEST_LOG_DIR) $(CARGO) test --all-features --locked --test log_scan -- --ignored

## kube-apiserver, etcd, kubectl and kube-controller-manager, built once into ~/.cache/callsync/controlplane/v<version>.
controlplane:
	scripts/build-controlplane.sh > /dev/null

## helm, tools/kstatus and tools/argolua, built once into ~/.cache/callsync/tools; prometheus and
## promtool (Debian's package, unpacked) into ~/.cache/callsync/prometheus.
tools:
	scripts/build-tools.sh > /dev/null
	scripts/build-prometheus.sh > /dev/null

## podman (Debian's package) for tests/image.rs, installed only when missing (needs root).
podman:
	scripts/install-podman.sh > /dev/null

## The image, built here without a registry: localhost/callsync:<version> (release profile).
image: podman
	scripts/build-image.sh

## Formatting and lints, as CI runs them.
lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt

## Regenerate crds/ from the Rust types, and the chart's copy (charts/callsync/files/crds/, which
## templates/crds.yaml renders so that `helm upgrade` upgrades the CRDs).
crds:
	$(CARGO) run --quiet -- crds --dir crds
	rm -f charts/callsync/files/crds/*.yaml
	cp crds/*.yaml charts/callsync/files/crds/

ci: lint test
