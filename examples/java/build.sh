#!/usr/bin/env bash
# Generates the Java stubs of meetings.v1 from ../../proto and compiles the example into build/.
#
# Uses Debian's Java 17, protoc and grpc-java 1.41 (no Maven repository needed):
#   apt-get install --no-install-recommends openjdk-17-jdk-headless protobuf-compiler \
#     protobuf-compiler-grpc-java-plugin libgrpc-java libprotobuf-java \
#     libgeronimo-annotation-1.3-spec-java libnetty-java libperfmark-java
# perfmark-api.jar must be on the class path: without it a blocking call hangs instead of failing
# (the error is swallowed), which is one more reason to always set a deadline.
#
# google.rpc.ErrorInfo is newer than Debian's proto-google-common-protos 1.16, so the google.rpc
# classes (Status, ErrorInfo, RetryInfo, BadRequest, ...) are generated here from the vendored
# ../third_party/googleapis protos. With Maven or Gradle, depend on
# com.google.api.grpc:proto-google-common-protos instead.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
proto_dir=${PROTO_DIR:-$here/../../proto}
googleapis=$here/../third_party/googleapis
build=$here/build

rm -rf "$build"
mkdir -p "$build/gen" "$build/classes"
protoc --proto_path="$proto_dir" --proto_path="$googleapis" \
  --plugin=protoc-gen-grpc-java=/usr/bin/grpc_java_plugin \
  --java_out="$build/gen" --grpc-java_out="$build/gen" \
  meetings/v1/meeting_service.proto google/rpc/status.proto google/rpc/error_details.proto

# The run-time class path: Debian's unversioned jar names, resolved once and written to
# build/classpath for run.sh.
jars=(grpc-api grpc-context grpc-core grpc-netty grpc-protobuf grpc-protobuf-lite grpc-stub
  protobuf guava perfmark-api netty-buffer netty-codec netty-codec-http netty-codec-http2
  netty-codec-socks netty-common netty-handler netty-handler-proxy netty-resolver netty-transport
  netty-transport-native-unix-common)
classpath=""
for jar in "${jars[@]}"; do
  path=/usr/share/java/$jar.jar
  [[ -f "$path" ]] || { echo "error: $path is missing (see the apt-get line in $0)" >&2; exit 1; }
  classpath+="${classpath:+:}$path"
done
# javax.annotation.Generated, referenced by the generated stubs: needed to compile only.
compile_classpath="$classpath:/usr/share/java/geronimo-annotation-1.3-spec.jar"

find "$build/gen" "$here/src/main/java" -name '*.java' > "$build/sources.txt"
javac --release 17 -encoding UTF-8 -cp "$compile_classpath" -d "$build/classes" @"$build/sources.txt"
printf '%s\n' "$build/classes:$classpath" > "$build/classpath"
echo "built $build/classes (run with $here/run.sh)"
