#!/usr/bin/env bash
# Runs every client example in examples/ as a test against the real service in dev mode, plus
# grpcurl through server reflection only (no proto files): list, describe, a Create, health, and
# the grpcurl lines of README.md's dev-mode section (one per RPC) and of the dev-mode banner, as
# written.
#
#   1. installs what it needs, skipping what is already there: Go 1.19, Java 17, protoc and the
#      gRPC libraries and plugins from Debian (apt-get); the Python example's pinned packages and
#      grpcurl into venvs under the CI cache directory; the Node example's packages (npm ci);
#   2. builds the service (cargo build --locked -p meeting-service) and the examples (Python stubs, TypeScript, Rust,
#      Go, Java);
#   3. starts `meeting-service --dev` on a free loopback port, waits until it is SERVING;
#   4. runs each example against it (each creates a meeting and prints the join URL, gets it, finds
#      it by that URL, updates its subject and lobby with a FieldMask, deletes it and expects Get to
#      be NOT_FOUND, and checks the error details: ErrorInfo, BadRequest, RetryInfo; Python and Go
#      also schedule a calendar event with two attendees (Schedule) and cancel it; non-zero exit
#      on any mismatch), checks that each example also fails when the service answers otherwise
#      (an unknown tenant; a Delete that deletes nothing; for Python and Go, a refused Schedule),
#      then the grpcurl calls;
#   5. stops the service and prints a summary; exits non-zero when any check failed.
#
# Usage: .ci/examples-check.sh            (unattended: CI=true, no stdin; root for apt-get)
# Environment:
#   MEETING_SERVICE_CI_CACHE   where the tool venvs live (default ~/.cache/meeting-service-ci)
#   EXAMPLES_CHECK_KEEP=1      keep the logs directory (always kept when a check fails)
#   MEETING_SERVICE_BINARY     an already built meeting-service to run instead of `cargo build`
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"
# shellcheck source=.ci/venv.sh
source "$here/venv.sh"
export CARGO_TERM_COLOR=never

started=$SECONDS
logs=$(mktemp -d "${TMPDIR:-/tmp}/examples-check.XXXXXX")
say() { printf '\n==> %s (%ss)\n' "$*" "$((SECONDS - started))"; }

# --- 1. tools ---------------------------------------------------------------------------------
say "tools"
apt_packages=(
  # Go 1.19 in GOPATH mode; golang-github-golang-protobuf-1-5-dev, not the default 1.3 one, or the
  # client compiles and panics at run time.
  golang-go golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev
  golang-google-genproto-dev protoc-gen-go protoc-gen-go-grpc
  # Java 17 and grpc-java; perfmark-api.jar must be on the class path or blocking calls hang.
  openjdk-17-jdk-headless libgrpc-java libprotobuf-java libgeronimo-annotation-1.3-spec-java
  libnetty-java libperfmark-java protobuf-compiler-grpc-java-plugin
  protobuf-compiler
)
missing_commands=() missing_packages=()
for command in go gofmt protoc protoc-gen-go protoc-gen-go-grpc grpc_java_plugin javac java; do
  command -v "$command" >/dev/null || missing_commands+=("$command")
done
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing_packages+=("$package")
done
if ((${#missing_commands[@]} && ! ${#missing_packages[@]})); then
  missing_packages=("${apt_packages[@]}") # a command is missing although its package is installed
fi
if ((${#missing_packages[@]})); then
  # Only what is missing: naming an installed package would upgrade it (e.g. the machine's JDK).
  echo "installing Debian packages: ${missing_packages[*]}${missing_commands[*]:+ (missing commands: ${missing_commands[*]})}"
  sudo=()
  if [[ $(id -u) != 0 ]]; then sudo=(sudo -n); fi
  apt_started=$SECONDS
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing_packages[@]}" >"$logs/apt-get.log" 2>&1 || { tail -30 "$logs/apt-get.log"; exit 1; }
  echo "apt-get: $((SECONDS - apt_started)) s"
else
  echo "Debian packages already installed"
fi
python_venv=$(ensure_venv examples-python "$root/examples/python/requirements.txt")
grpcurl_venv=$(ensure_venv grpcurl "$here/requirements-grpcurl.txt")
grpcurl=$grpcurl_venv/bin/grpcurl
(cd examples/node && npm ci --no-audit --no-fund --loglevel=error)
echo "$(go version); $(protoc --version); $(javac -version 2>&1); node $(node --version); $("$grpcurl" -version 2>&1)"

# --- checks bookkeeping -------------------------------------------------------------------------
names=() results=() durations=()
failed=0
# check NAME COMMAND...: runs COMMAND with its output in $logs/NAME.log; records the result.
check() {
  local name=$1 t0=$SECONDS status=0
  shift
  printf -- '--- %s\n' "$name"
  "$@" >"$logs/$name.log" 2>&1 </dev/null || status=$?
  names+=("$name") durations+=("$((SECONDS - t0))")
  if ((status == 0)); then
    results+=(passed)
    sed 's/^/    /' "$logs/$name.log" | tail -n 20
  else
    results+=(FAILED) failed=$((failed + 1))
    echo "    FAILED (exit $status); last lines of $logs/$name.log:"
    sed 's/^/    /' "$logs/$name.log" | tail -n 40
  fi
}
# expect_failure COMMAND...: succeeds when COMMAND exits non-zero (a test of the tests).
expect_failure() {
  if "$@"; then
    echo "expected a non-zero exit status, got 0"
    return 1
  fi
  echo "exited non-zero, as expected"
}
# expect_mismatch MESSAGE COMMAND...: succeeds when COMMAND exits non-zero having printed MESSAGE,
# i.e. it failed for the reason under test and not another.
expect_mismatch() {
  local message=$1 out status=0
  shift
  out=$("$@" 2>&1) || status=$?
  tail -n 3 <<<"$out"
  if ((status == 0)); then
    echo "expected a non-zero exit status, got 0"
    return 1
  fi
  grep -qF -- "$message" <<<"$out" || { echo "exited $status, but without \"$message\""; return 1; }
  echo "exited $status with \"$message\", as expected"
}

# --- 2. builds ----------------------------------------------------------------------------------
say "build: service and examples"
target_dir=${CARGO_TARGET_DIR:-$root/target}
service=${MEETING_SERVICE_BINARY:-}
if [[ -z "$service" ]]; then
  cargo build --locked --quiet -p meeting-service
  service=$target_dir/debug/meeting-service
fi
check build-python "$python_venv/bin/python" examples/python/generate_stubs.py
check build-node bash -c 'cd examples/node && npm run --silent build'
# The Rust example shares the service's target directory: about half of its dependencies are
# already built there with the same features (measured: 41-68 s cold in a target of its own,
# 30 s in the service's).
check build-rust env CARGO_TARGET_DIR="$target_dir" \
  cargo build --locked --quiet --manifest-path examples/rust/Cargo.toml
check build-go examples/go/build.sh
check build-java examples/java/build.sh
# The proto's package options give sensible namespaces in the other languages protoc has (Go's
# and Java's are exercised by their examples).
stub_packages() {
  local out=$logs/stubs
  mkdir -p "$out"/{cpp,csharp,php,ruby,objc}
  protoc --proto_path=proto --cpp_out="$out/cpp" --csharp_out="$out/csharp" --php_out="$out/php" \
    --ruby_out="$out/ruby" --objc_out="$out/objc" meetings/v1/meeting_service.proto || return 1
  grep -qx 'namespace Meetings.V1 {' "$out/csharp/MeetingService.cs" || { echo "C#: no namespace Meetings.V1"; return 1; }
  grep -qxF 'namespace Meetings\V1;' "$out/php/Meetings/V1/CreateRequest.php" || { echo 'PHP: no namespace Meetings\V1'; return 1; }
  local ruby=$out/ruby/meetings/v1/meeting_service_pb.rb
  if ! grep -qx 'module Meetings' "$ruby" || ! grep -qx '  module V1' "$ruby" || ! grep -q '^    CreateRequest = ' "$ruby"; then
    echo "Ruby: no Meetings::V1::CreateRequest"
    return 1
  fi
  grep -q '@interface MSVCreateRequest ' "$out/objc/meetings/v1/MeetingService.pbobjc.h" || { echo "Objective-C: no MSVCreateRequest"; return 1; }
  grep -q '^namespace meetings {$' "$out/cpp/meetings/v1/meeting_service.pb.h" || { echo "C++: no namespace meetings::v1"; return 1; }
  echo 'C# Meetings.V1.CreateRequest, PHP Meetings\V1\CreateRequest, Ruby Meetings::V1::CreateRequest,'
  echo 'Objective-C MSVCreateRequest, C++ meetings::v1::CreateRequest'
}
check stub-packages stub_packages
format_examples() {
  local unformatted
  unformatted=$(gofmt -l examples/go/main.go) || return 1
  [[ -z "$unformatted" ]] || { echo "gofmt: $unformatted is not formatted"; return 1; }
  cargo fmt --manifest-path examples/rust/Cargo.toml --check
}
check format-examples format_examples
# The vendored google/rpc protos (Node and Java) are byte-identical to the copies that ship in the
# pinned googleapis-common-protos wheel.
vendored_googleapis() {
  "$python_venv/bin/python" - <<'EOF'
import filecmp, os, sys
import google.rpc.status_pb2 as status_pb2
wheel = os.path.dirname(status_pb2.__file__)
vendored = "examples/third_party/googleapis/google/rpc"
names = sorted(os.listdir(vendored))
_, mismatch, errors = filecmp.cmpfiles(vendored, wheel, names, shallow=False)
print(f"{vendored}: {', '.join(names)} are the copies in {wheel}")
sys.exit(f"differ from the wheel: {mismatch + errors}" if mismatch or errors else 0)
EOF
}
check vendored-googleapis vendored_googleapis

# --- 3. the service -----------------------------------------------------------------------------
say "start meeting-service --dev"
port=$("$python_venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
address=127.0.0.1:$port
"$service" --dev --listen "$address" >"$logs/service.log" 2>&1 </dev/null &
service_pid=$!
stop_service() {
  if [[ -n "${service_pid:-}" ]] && kill -0 "$service_pid" 2>/dev/null; then
    kill "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
  service_pid=
}
trap stop_service EXIT

emulator=""
for _ in $(seq 1 150); do
  kill -0 "$service_pid" 2>/dev/null || { echo "the service exited:"; cat "$logs/service.log"; exit 1; }
  if [[ -z "$emulator" ]]; then
    # The dev-mode banner: "    Emulator:    http://127.0.0.1:PORT  (...)"
    emulator=$(sed 's/\x1b\[[0-9;]*m//g' "$logs/service.log" | awk '$1 == "Emulator:" {print $2; exit}')
  fi
  if [[ -n "$emulator" ]] && "$grpcurl" -plaintext -max-time 1 "$address" grpc.health.v1.Health/Check 2>/dev/null |
    grep -q '"SERVING"'; then
    break
  fi
  sleep 0.2
done
if [[ -z "$emulator" ]] || ! "$grpcurl" -plaintext -max-time 2 "$address" grpc.health.v1.Health/Check >/dev/null 2>&1; then
  echo "the service did not become healthy on $address (emulator: ${emulator:-not found in the banner}):"
  cat "$logs/service.log"
  exit 1
fi
echo "SERVING on $address; emulator $emulator"

# --- 4. examples and grpcurl --------------------------------------------------------------------
say "examples against the service"
args=(--address "$address" --emulator "$emulator")
check python "$python_venv/bin/python" examples/python/meeting_lifecycle.py "${args[@]}"
check node node examples/node/dist/src/meeting-lifecycle.js "${args[@]}"
check rust "$target_dir/debug/meeting-lifecycle" "${args[@]}"
check go examples/go/bin/meeting-lifecycle "${args[@]}"
check java examples/java/run.sh "${args[@]}"
# The environment variables instead of flags, without the dev-mode demos.
check python-env env MEETING_SERVICE_ADDRESS="$address" \
  "$python_venv/bin/python" examples/python/meeting_lifecycle.py
# Each example is a test: it must fail when the service answers otherwise (an unknown tenant
# gives PERMISSION_DENIED instead of a meeting).
unknown_tenant=(--address "$address" --tenant 00000000-0000-4000-8000-000000000000)
check python-detects-mismatch expect_failure "$python_venv/bin/python" examples/python/meeting_lifecycle.py "${unknown_tenant[@]}"
check node-detects-mismatch expect_failure node examples/node/dist/src/meeting-lifecycle.js "${unknown_tenant[@]}"
check rust-detects-mismatch expect_failure "$target_dir/debug/meeting-lifecycle" "${unknown_tenant[@]}"
check go-detects-mismatch expect_failure examples/go/bin/meeting-lifecycle "${unknown_tenant[@]}"
check java-detects-mismatch expect_failure examples/java/run.sh "${unknown_tenant[@]}"
# emulator_faults [FAULT_JSON...]: clears the emulator's fault queue, then queues these in order.
emulator_faults() {
  "$python_venv/bin/python" - "$emulator" "$@" <<'EOF'
import sys, urllib.request
url = sys.argv[1].rstrip("/") + "/_emulator/faults"
urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=5)
for fault in sys.argv[2:]:
    post = urllib.request.Request(url, data=fault.encode(), headers={"Content-Type": "application/json"})
    urllib.request.urlopen(post, timeout=5)
EOF
}
# A Delete that deletes nothing must fail each example at its Get after Delete. Without
# --emulator an example's Graph requests are Create, Get, Find, Update, Delete, Get (the invalid
# request never reaches Graph), so the emulator answers the first four normally (a zero delay) and
# the fifth, the DELETE, with a bare 204 without deleting.
undeleted() {
  local status=0
  emulator_faults '{"target":"graph","delayMs":0,"times":4}' '{"target":"graph","status":204}' || return 1
  expect_mismatch "Get after Delete succeeded, expected an error" "$@" --address "$address" || status=$?
  emulator_faults # what an example that stopped early left queued must not reach the next check
  return "$status"
}
check python-detects-undeleted undeleted "$python_venv/bin/python" examples/python/meeting_lifecycle.py
check node-detects-undeleted undeleted node examples/node/dist/src/meeting-lifecycle.js
check rust-detects-undeleted undeleted "$target_dir/debug/meeting-lifecycle"
check go-detects-undeleted undeleted examples/go/bin/meeting-lifecycle
check java-detects-undeleted undeleted examples/java/run.sh
# The Python and Go examples also Schedule: a refused event must fail them. Their seventh Graph
# request (after the six above) is Schedule's POST of the event, which the emulator answers 403.
# unscheduled MESSAGE COMMAND...: MESSAGE is how the example prints PERMISSION_DENIED.
unscheduled() {
  local message=$1 status=0
  shift
  emulator_faults '{"target":"graph","delayMs":0,"times":6}' '{"target":"graph","status":403}' || return 1
  expect_mismatch "FAILED: $message" "$@" --address "$address" || status=$?
  emulator_faults
  return "$status"
}
check python-detects-unscheduled unscheduled PERMISSION_DENIED "$python_venv/bin/python" examples/python/meeting_lifecycle.py
check go-detects-unscheduled unscheduled PermissionDenied examples/go/bin/meeting-lifecycle

say "grpcurl through server reflection (no proto files)"
grpcurl_list() {
  local out
  out=$("$grpcurl" -plaintext -max-time 10 "$address" list) || return 1
  echo "$out"
  for service in meetings.v1.MeetingService grpc.health.v1.Health; do
    grep -qx "$service" <<<"$out" || { echo "list does not show $service"; return 1; }
  done
}
grpcurl_describe() {
  local out
  out=$("$grpcurl" -plaintext -max-time 10 "$address" describe meetings.v1.MeetingService) || return 1
  echo "$out"
  grep -qF 'rpc Create ( .meetings.v1.CreateRequest ) returns ( .meetings.v1.CreateResponse );' <<<"$out" ||
    { echo "describe does not show the Create rpc"; return 1; }
}
grpcurl_create() {
  local request
  request='{"tenant_id":"7d0f7a6e-3c1b-4f7e-9a5d-2b8c6e4f1a90","user_id":"adele.vance@contoso.example",
    "meeting":{"subject":"grpcurl (meeting-service examples)","start_date_time":"2030-01-15T15:00:00Z",
    "end_date_time":"2030-01-15T15:30:00Z"}}'
  "$grpcurl" -plaintext -max-time 10 -H 'accept-language: de-DE' -d "$request" \
    "$address" meetings.v1.MeetingService/Create >"$logs/grpcurl-create.json" || return 1
  "$python_venv/bin/python" - "$logs/grpcurl-create.json" <<'EOF'
import json, sys
response = json.load(open(sys.argv[1]))
url = response["meeting"]["joinWebUrl"]
print(f"created meeting, join URL: {url}")
assert url.startswith("https://teams.microsoft.com/l/meetup-join/"), url
assert response["created"] is True, response.get("created")
EOF
}
# grpcurl_lines SOURCE RPC...: runs the one-line `grpcurl ... meetings.v1.MeetingService/RPC`
# commands of SOURCE (a Markdown file, or the service's log with its banner) as written, in order,
# and checks their answers; SOURCE must hold exactly the RPCs named. 127.0.0.1:50051 becomes the
# service's address, MEETING_ID and JOIN_WEB_URL what the Create line answered, EVENT_ID the event
# the Schedule line made. After Delete, the Get line is run again and must answer NotFound.
grpcurl_lines() {
  "$python_venv/bin/python" - "$grpcurl" "$address" "$@" <<'EOF'
import json, re, shlex, subprocess, sys

grpcurl, address, source, *expected = sys.argv[1:]
text = re.sub(r"\x1b\[[0-9;]*m", "", open(source, encoding="utf-8").read())
commands = {}
for line in text.splitlines():
    match = re.fullmatch(r"\s*grpcurl -plaintext .* meetings\.v1\.MeetingService/(\w+)", line)
    if match:
        commands[match.group(1)] = line.strip()
if sorted(commands) != sorted(expected):
    sys.exit(f"{source}: grpcurl lines for {sorted(commands)}, expected {sorted(expected)}")
values = {"127.0.0.1:50051": address}


def run(rpc):
    argv = [grpcurl, "-max-time", "10", *shlex.split(commands[rpc])[1:]]
    for placeholder, value in values.items():
        argv = [arg.replace(placeholder, value) for arg in argv]
    return subprocess.run(argv, capture_output=True, text=True), json.loads(argv[argv.index("-d") + 1])


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def holds(sent, answered):
    """Whether every value sent (snake_case names) is in the answer (proto3 JSON: camelCase)."""
    if isinstance(sent, dict):
        return isinstance(answered, dict) and all(holds(v, answered.get(camel(k))) for k, v in sent.items())
    return sent == answered


for rpc in commands:  # in the order written
    done, request = run(rpc)
    if done.returncode != 0:
        sys.exit(f"{rpc} failed (exit {done.returncode}): {done.stderr.strip()}")
    meeting = json.loads(done.stdout).get("meeting", {})
    if rpc == "Create":
        values["MEETING_ID"], values["JOIN_WEB_URL"] = meeting["id"], meeting["joinWebUrl"]
        assert meeting["joinWebUrl"].startswith("https://teams.microsoft.com/l/meetup-join/"), meeting
        print(f"Create: meeting {meeting['id'][:24]}..., subject {meeting.get('subject')!r}")
    elif rpc in ("Get", "Find"):
        assert meeting.get("id") == values["MEETING_ID"], f"{rpc} answered another meeting: {meeting.get('id')}"
        print(f"{rpc}: the same meeting, subject {meeting.get('subject')!r}")
    elif rpc == "Update":
        for path in request["update_mask"]["paths"]:
            sent, answered = request["meeting"].get(path), meeting.get(camel(path))
            assert holds(sent, answered), f"Update sent {path} = {sent}, answered {answered}"
            print(f"Update: {path} = {answered}")
    elif rpc == "Schedule":
        event = json.loads(done.stdout).get("event", {})
        values["EVENT_ID"] = event["id"]
        assert meeting["joinWebUrl"].startswith("https://teams.microsoft.com/l/meetup-join/"), meeting
        assert holds(request["meeting_options"], meeting), f"Schedule answered options {meeting}"
        assert len(event.get("attendees", [])) == len(request["event"]["attendees"]), event
        print(f"Schedule: event {event['id'][:24]}..., {len(event['attendees'])} attendees, {event.get('timeZone')}")
    elif rpc == "Cancel":
        print("Cancel: OK")
    elif rpc == "Delete":
        print("Delete: OK")
        if "Get" in commands:
            done, _ = run("Get")
            assert done.returncode != 0 and "Code: NotFound" in done.stderr, f"Get after Delete: {done}"
            print("Get after Delete: NotFound")
EOF
}
# An error's details decoded by grpcurl through reflection alone (the service serves the
# google.rpc descriptors): the ErrorInfo reason and the BadRequest field, not base64.
grpcurl_error_details() {
  local out
  out=$("$grpcurl" -plaintext -max-time 10 -d '{"tenant_id":"contoso","user_id":"adele.vance@contoso.example","meeting":{"subject":"x"}}' \
    "$address" meetings.v1.MeetingService/Create 2>&1) && { echo "an invalid request succeeded"; return 1; }
  echo "$out"
  grep -q '"reason":"INVALID_REQUEST"' <<<"$out" || { echo "ErrorInfo reason not decoded"; return 1; }
  grep -q '"field":"tenant_id"' <<<"$out" || { echo "BadRequest field not decoded"; return 1; }
  if grep -q "is not recognized" <<<"$out"; then echo "a detail was not recognized"; return 1; fi
}

grpcurl_health() {
  local service out
  for service in "" meetings.v1.MeetingService; do
    out=$("$grpcurl" -plaintext -max-time 10 -d "{\"service\":\"$service\"}" "$address" grpc.health.v1.Health/Check) ||
      return 1
    echo "health ${service:-(server)}: $(tr -d ' \n' <<<"$out")"
    grep -q '"SERVING"' <<<"$out" || return 1
  done
}
check grpcurl-list grpcurl_list
check grpcurl-describe grpcurl_describe
check grpcurl-create grpcurl_create
check grpcurl-readme grpcurl_lines README.md Create Get Find Update Delete Schedule Cancel
check grpcurl-banner grpcurl_lines "$logs/service.log" Create Get
check grpcurl-error-details grpcurl_error_details
check grpcurl-health grpcurl_health

# --- 5. summary ---------------------------------------------------------------------------------
stop_service
say "summary"
for i in "${!names[@]}"; do
  printf '  %-26s %-7s %4ss\n' "${names[$i]}" "${results[$i]}" "${durations[$i]}"
done
passed=$((${#names[@]} - failed))
echo "examples-check: finished in $((SECONDS - started)) s"
echo "examples-check: $passed passed, $failed failed"
if ((failed)) || [[ "${EXAMPLES_CHECK_KEEP:-0}" == 1 ]]; then
  echo "logs kept in $logs"
else
  rm -rf "$logs"
fi
((failed == 0))
