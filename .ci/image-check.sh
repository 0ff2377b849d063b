#!/usr/bin/env bash
# Container image check (issue 6), daemonless and offline: no Docker engine, no registry.
#   1. hadolint on Dockerfile and Dockerfile.prebuilt;
#   2. builds the static binary (RUSTFLAGS=+crt-static, --target x86_64-unknown-linux-gnu; the
#      service package only, with its default `dev` feature: step 4 needs `--dev`) and checks
#      that it has no program interpreter (fully static);
#   3. builds the `FROM scratch` image from Dockerfile.prebuilt with buildah (vfs storage,
#      chroot isolation) and checks its config (numeric non-root USER, EXPOSE 50051,
#      ENTRYPOINT) and contents (the binary, the CA bundle and an empty /tmp, nothing else);
#   4. starts a container from it in dev mode (`meeting-service --dev`, in-process emulator)
#      on a free loopback port, checks gRPC health through it with the image's own
#      `meeting-service health` (overall and meetings.v1.MeetingService; and that it fails
#      against a closed port), then sends SIGTERM and expects a clean exit 0.
# Dockerfile (multi-stage, rust builder) is the same image for users with Docker; it needs
# the rust image from a registry, so here only hadolint checks it.
#
# Usage: .ci/image-check.sh
# Environment:
#   MEETING_SERVICE_BINARY    use this static binary instead of building one (e.g. a build
#                             you already have); the checks are the same
#   IMAGE_CHECK_KEEP=1        keep the buildah storage and logs (the directory is printed)
#   MEETING_SERVICE_CI_CACHE  where the tool venvs live (default ~/.cache/meeting-service-ci)
# Needs root (or an existing buildah) to apt-get install buildah; works with CI=true, no stdin.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
# shellcheck source=.ci/venv.sh
source "$here/venv.sh"

target=x86_64-unknown-linux-gnu
image=localhost/meeting-service:image-check
started=$SECONDS
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "  ok    $*"; }
fail() { failed=$((failed + 1)); echo "  FAIL  $*"; }
finish() {
  echo "image-check: finished in $((SECONDS - started)) s" >&2
  echo "image-check: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}

# --- tools ---------------------------------------------------------------------------------
apt_install() {
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "error: $* missing and cannot be installed (needs root and apt-get)" >&2
    exit 1
  fi
  echo "installing $* with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v readelf >/dev/null || missing+=(binutils)
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
if [[ ${#missing[@]} -gt 0 ]]; then apt_install "${missing[@]}"; fi
image_venv=$(ensure_venv image "$here/requirements-image.txt")

work=$(mktemp -d "${TMPDIR:-/tmp}/image-check.XXXXXX")
storage=(--root "$work/storage/root" --runroot "$work/storage/run" --storage-driver vfs)
bah() { buildah "${storage[@]}" "$@"; }
container=""
run_pid=""
cleanup() {
  if [[ -n "$run_pid" ]] && kill -0 "$run_pid" 2>/dev/null; then
    kill -KILL "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  if [[ -n "$container" ]]; then bah rm "$container" >/dev/null 2>&1 || true; fi
  bah rmi --force "$image" >/dev/null 2>&1 || true
  if [[ "${IMAGE_CHECK_KEEP:-0}" == 1 ]]; then
    echo "image-check: work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

echo "image-check: $(buildah --version), $("$image_venv/bin/hadolint" --version)"

# --- 1. hadolint ---------------------------------------------------------------------------
for dockerfile in Dockerfile Dockerfile.prebuilt; do
  if out=$("$image_venv/bin/hadolint" --no-color "$dockerfile" 2>&1); then
    ok "hadolint $dockerfile"
  else
    fail "hadolint $dockerfile: $out"
  fi
done

# --- 2. the static binary ------------------------------------------------------------------
if [[ -n "${MEETING_SERVICE_BINARY:-}" ]]; then
  binary=$MEETING_SERVICE_BINARY
  echo "using MEETING_SERVICE_BINARY=$binary"
else
  echo "building the static release binary (cargo build --release -p meeting-service --target $target)"
  build_started=$SECONDS
  if RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked -p meeting-service --target "$target" </dev/null; then
    ok "cargo build --release -p meeting-service --target $target, +crt-static ($((SECONDS - build_started)) s)"
  else
    fail "cargo build of the static binary"
    finish
    exit 1
  fi
  binary=target/$target/release/meeting-service
fi
if [[ ! -x "$binary" ]]; then
  fail "no executable at $binary"
  finish
  exit 1
fi
if readelf --program-headers "$binary" | grep -q INTERP || readelf --dynamic "$binary" | grep -q NEEDED; then
  fail "$binary is dynamically linked (it has a program interpreter or NEEDED libraries)"
else
  ok "$binary is static ($(du -h "$binary" | cut -f1))"
fi

# --- 3. the image --------------------------------------------------------------------------
context="$work/context"
install -D -m 0755 "$binary" "$context/rootfs/usr/local/bin/meeting-service"
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$context/rootfs/etc/ssl/certs/ca-certificates.crt"
install -d -m 1777 "$context/rootfs/tmp"
if bah bud --isolation chroot --format docker --quiet -f Dockerfile.prebuilt -t "$image" "$context" >"$work/bud.log" 2>&1; then
  ok "buildah bud -f Dockerfile.prebuilt (FROM scratch)"
else
  fail "buildah bud: $(tail -20 "$work/bud.log")"
  finish
  exit 1
fi
config_problems=$(bah inspect --type image "$image" | python3 -c '
import json, sys
config = json.load(sys.stdin)["OCIv1"]["config"]
problems = []
user = config.get("User", "")
if not all(part.isdigit() and int(part) != 0 for part in user.split(":")):
    problems.append(f"User is {user!r}, want a numeric non-root uid:gid")
ports = config.get("ExposedPorts") or {}
if "50051/tcp" not in ports:
    problems.append(f"ExposedPorts {sorted(ports)} lacks 50051/tcp")
entrypoint = config.get("Entrypoint")
if entrypoint != ["/usr/local/bin/meeting-service"]:
    problems.append(f"Entrypoint is {entrypoint}")
print("; ".join(problems))
') || config_problems="buildah inspect failed"
if [[ -z "$config_problems" ]]; then ok "image config: numeric non-root USER, EXPOSE 50051, ENTRYPOINT"; else fail "image config: $config_problems"; fi

container=$(bah from --quiet --name "image-check-$$" "$image")
mountpoint=$(bah mount "$container")
files=$(cd "$mountpoint" && find . -type f -o -type l | sort | tr '\n' ' ')
tmp_mode=$(stat -c %a "$mountpoint/tmp" 2>/dev/null || echo missing)
tmp_entries=$(find "$mountpoint/tmp" -mindepth 1 2>/dev/null | wc -l)
bah umount "$container" >/dev/null
if [[ "$files" == "./etc/ssl/certs/ca-certificates.crt ./usr/local/bin/meeting-service " ]]; then
  ok "image contents: the binary and the CA bundle, nothing else"
else
  fail "image contents: $files"
fi
if [[ "$tmp_mode" == 1777 && "$tmp_entries" == 0 ]]; then
  ok "image /tmp: empty, mode 1777"
else
  fail "image /tmp: mode $tmp_mode, $tmp_entries entries (want an empty directory, mode 1777)"
fi

# --- 4. run it -----------------------------------------------------------------------------
in_container() { bah run --isolation chroot --network host "$container" -- /usr/local/bin/meeting-service "$@"; }
help=$(in_container --help 2>&1) || true
if [[ "$help" != *--dev* ]]; then
  fail "meeting-service --help does not mention --dev: $help"
  finish
  exit 1
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
addr=127.0.0.1:$port
listen_args=()
[[ "$help" == *--listen* ]] && listen_args=(--listen "$addr")
# The environment override works whether or not the --listen flag exists.
bah run --isolation chroot --network host --env "MEETING_SERVICE__SERVER__LISTEN=$addr" \
  --env NO_COLOR=1 "$container" -- \
  /usr/local/bin/meeting-service --dev "${listen_args[@]}" >"$work/service.log" 2>&1 </dev/null &
run_pid=$!

up=0
for _ in $(seq 1 150); do
  if ! kill -0 "$run_pid" 2>/dev/null; then break; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
  sleep 0.2
done
if [[ $up -eq 1 ]]; then
  ok "container started in dev mode, listening on $addr"
else
  fail "the container did not listen on $addr within 30 s: $(tail -20 "$work/service.log")"
  finish
  exit 1
fi

# The service process (a descendant of `buildah run`): its uid and, later, SIGTERM.
descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }
service_pid=""
for p in $(descendants "$run_pid"); do
  [[ "$(readlink "/proc/$p/exe" 2>/dev/null)" == */usr/local/bin/meeting-service ]] && service_pid=$p
done
if [[ -n "$service_pid" ]] && uid=$(stat -c %u "/proc/$service_pid") && [[ "$uid" != 0 ]]; then
  ok "the service runs as uid $uid (not root)"
else
  fail "cannot find the service process, or it runs as root (pid '$service_pid')"
fi

for service in "" meetings.v1.MeetingService; do
  service_args=()
  [[ -n "$service" ]] && service_args=(--service "$service")
  if out=$(in_container health --addr "$addr" "${service_args[@]}" --timeout 5s 2>&1); then
    ok "meeting-service health --addr $addr${service:+ --service $service} (in a container of the image): SERVING"
  else
    fail "meeting-service health ${service_args[*]}: $out"
  fi
done
closed_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if out=$(in_container health --addr "127.0.0.1:$closed_port" --timeout 2s 2>&1); then
  fail "meeting-service health against a closed port exited 0: $out"
else
  ok "meeting-service health against a closed port fails (as it must)"
fi

# Graceful shutdown: SIGTERM -> NOT_SERVING, drain, exit 0 within the grace period (20 s).
if [[ -n "$service_pid" ]]; then
  kill -TERM "$service_pid"
  for _ in $(seq 1 150); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$run_pid" 2>/dev/null; then
    fail "the service did not exit within 30 s of SIGTERM"
  else
    status=0
    wait "$run_pid" || status=$?
    run_pid=""
    if [[ $status -eq 0 ]]; then ok "SIGTERM: clean exit 0"; else fail "SIGTERM: exit status $status: $(tail -20 "$work/service.log")"; fi
  fi
fi

finish
