#!/usr/bin/env bash
# API hygiene of proto/ (issue 8), offline:
#   1. buf lint (buf.yaml: STANDARD) and buf format (no diff allowed);
#   2. buf breaking (buf.yaml: WIRE_JSON) against the proto of the previous release, so that a
#      wire- or JSON-incompatible change fails CI. The baseline is, in this order:
#        - $PROTO_CHECK_AGAINST (any git revision), when set;
#        - the newest v* tag reachable from HEAD that is not on HEAD itself (the previous release);
#        - the merge base with origin/main, when HEAD is not on origin/main (a branch);
#        - the first commit that has proto/ (so main never breaks what v1 has published).
#      With no baseline (no commits yet, or no earlier proto/) it says so and passes;
#      a self-test then still proves that buf breaking catches a renumbered field;
#   3. the generated API reference docs/api.md is up to date (.ci/gen_api_docs.py).
#
# Usage: .ci/proto-check.sh                 check (exit status 0 when everything passed)
#        .ci/proto-check.sh --write-docs    regenerate docs/api.md, then check
# Environment:
#   PROTO_CHECK_AGAINST        git revision to compare with instead of the automatic baseline
#   MEETING_SERVICE_CI_CACHE   where the tool venvs live (default ~/.cache/meeting-service-ci)
# Works unattended (CI=true, no stdin). Tools: buf 1.75 pinned in .ci/tools/package.json (npm) and
# protobuf (Python) pinned in .ci/requirements-proto.txt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
# shellcheck source=.ci/venv.sh
source "$here/venv.sh"

write_docs=0
case "${1:-}" in
  "") ;;
  --write-docs) write_docs=1 ;;
  *) echo "usage: $0 [--write-docs]" >&2; exit 2 ;;
esac

started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/proto-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=()
step() { printf '\n==> %s (%ss)\n' "$*" "$((SECONDS - started))"; }

# --- tools ----------------------------------------------------------------------------------------
buf=$here/tools/node_modules/.bin/buf
pinned=$(node -p 'require("./.ci/tools/package.json").dependencies["@bufbuild/buf"]')
if [[ "$("$buf" --version 2>/dev/null || true)" != "$pinned" ]]; then
  # npm ci refuses a lock that lacks buf's other-platform binaries, and the registry here serves
  # 1.75.0 only for linux-x64 and linux-aarch64; npm install --no-save then installs the same
  # pinned versions without touching the lock.
  (cd "$here/tools" && { npm ci --no-audit --no-fund --loglevel=silent 2>/dev/null ||
    npm install --no-save --no-audit --no-fund --loglevel=error; })
fi
python_venv=$(ensure_venv proto "$here/requirements-proto.txt")
echo "buf $("$buf" --version); $("$python_venv/bin/python" -c 'import google.protobuf as p; print("protobuf", p.__version__)')"

# --- 1. lint and format ---------------------------------------------------------------------------
step "buf lint"
"$buf" lint && echo "buf lint: no findings" || failed+=("buf lint")

step "buf format -d --exit-code"
"$buf" format -d --exit-code && echo "buf format: no changes" || failed+=("buf format")

# --- 2. breaking changes --------------------------------------------------------------------------
step "buf breaking"
baseline="" why=""
if git rev-parse --verify --quiet HEAD >/dev/null 2>&1; then
  head=$(git rev-parse HEAD)
  if [[ -n "${PROTO_CHECK_AGAINST:-}" ]]; then
    baseline=$(git rev-parse --verify "$PROTO_CHECK_AGAINST^{commit}") why="PROTO_CHECK_AGAINST=$PROTO_CHECK_AGAINST"
  fi
  if [[ -z "$baseline" ]]; then
    while read -r tag; do
      [[ -n "$tag" ]] || continue
      commit=$(git rev-parse "$tag^{commit}")
      if [[ "$commit" != "$head" ]]; then baseline=$commit why="previous release $tag"; break; fi
    done < <(git tag --merged HEAD --list 'v*' --sort=-v:refname)
  fi
  if [[ -z "$baseline" ]] && git rev-parse --verify --quiet origin/main >/dev/null; then
    base=$(git merge-base HEAD origin/main || true)
    if [[ -n "$base" && "$base" != "$head" ]]; then baseline=$base why="merge base with origin/main"; fi
  fi
  if [[ -z "$baseline" ]]; then
    first=$(git log --format=%H -- proto | tail -n 1)
    if [[ -n "$first" ]]; then baseline=$first why="first commit with proto/"; fi
  fi
fi
if [[ -n "$baseline" ]] && git cat-file -e "$baseline:proto" 2>/dev/null; then
  mkdir -p "$work/against"
  git archive "$baseline" proto | tar -x -C "$work/against"
  echo "against $why: $(git log -1 --format='%h %s' "$baseline")"
  "$buf" breaking --against "$work/against/proto" && echo "buf breaking: no breaking changes" ||
    failed+=("buf breaking")
else
  echo "buf breaking: no baseline (no commit with an earlier proto/ yet): nothing to compare, passing"
fi
# Self-test: the check fails on a wire-incompatible change (CreateRequest.tenant_id renumbered).
mkdir -p "$work/mutated"
cp -R proto "$work/mutated/"
sed -i 's/^  string tenant_id = 1;$/  string tenant_id = 99;/' "$work/mutated/proto/meetings/v1/meeting_service.proto"
if cmp -s proto/meetings/v1/meeting_service.proto "$work/mutated/proto/meetings/v1/meeting_service.proto"; then
  echo "breaking self-test: could not mutate CreateRequest.tenant_id (proto changed?)"
  failed+=("breaking self-test")
elif (cd "$work/mutated" && "$buf" breaking proto --against "$root/proto" --config "$root/buf.yaml") \
  >"$work/self-test.log" 2>&1; then
  echo "breaking self-test: buf breaking accepted a renumbered field"
  failed+=("breaking self-test")
else
  echo "breaking self-test: a renumbered field is reported, as expected:"
  sed 's/^/    /' "$work/self-test.log" | head -n 3
fi

# --- 3. API reference -----------------------------------------------------------------------------
step "docs/api.md (generated API reference)"
"$buf" build -o "$work/api.binpb" --as-file-descriptor-set --exclude-imports
if ((write_docs)); then
  "$python_venv/bin/python" "$here/gen_api_docs.py" "$work/api.binpb" --output docs/api.md
fi
"$python_venv/bin/python" "$here/gen_api_docs.py" "$work/api.binpb" --check docs/api.md || failed+=("docs/api.md")

step "summary"
if ((${#failed[@]})); then
  echo "proto-check: FAILED: ${failed[*]} ($((SECONDS - started)) s)"
  exit 1
fi
echo "proto-check: all checks passed ($((SECONDS - started)) s)"
