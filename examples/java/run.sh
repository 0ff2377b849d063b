#!/usr/bin/env bash
# Runs the Java example built by build.sh; arguments are passed on (--address, --tenant, ...).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ -f "$here/build/classpath" ]] || { echo "error: run $here/build.sh first" >&2; exit 1; }
exec java -cp "$(cat "$here/build/classpath")" io.meetingservice.examples.MeetingLifecycle "$@"
