#!/usr/bin/env bash
# Generates the Go stubs of meetings.v1 from ../../proto and builds bin/meeting-lifecycle.
#
# Uses Debian's Go 1.19 toolchain and libraries in GOPATH mode (no module proxy needed):
#   apt-get install --no-install-recommends golang-go golang-google-grpc-dev \
#     golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev golang-google-genproto-dev \
#     protobuf-compiler protoc-gen-go protoc-gen-go-grpc
# (golang-github-golang-protobuf-1-5-dev matters: with the default 1.3 package the client builds
# but panics at run time.) The stubs land where the proto's go_package says,
# $GOPATH/src/github.com/meeting-service/meeting-service/gen/go/meetings/v1, in .gopath/ here.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
proto_dir=${PROTO_DIR:-$here/../../proto}
gopath=$here/.gopath

rm -rf "$gopath/src/github.com/meeting-service"
mkdir -p "$gopath/src" "$here/bin"
protoc --proto_path="$proto_dir" \
  --go_out="$gopath/src" --go-grpc_out="$gopath/src" \
  meetings/v1/meeting_service.proto

cd "$here"
export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS=''
go vet .
go build -o bin/meeting-lifecycle .
echo "built $here/bin/meeting-lifecycle"
