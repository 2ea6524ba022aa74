#!/usr/bin/env bash
# fetch-ort.sh: place the ONNX Runtime shared library used by inference/ at
# third_party/onnxruntime/libonnxruntime.so.1 (git-ignored) and print its path.
#
# Idempotent: does nothing if the library is already there. The library comes
# from the onnxruntime-node npm package (the only official ORT build reachable
# through a package registry here): npm pack, then extract only
# package/bin/napi-v6/linux/<arch>/libonnxruntime.so.1. That build is
# CPU-only and self-contained (no provider .so files sit next to it).
#
# Environment:
#   ORT_VERSION  onnxruntime-node version (default 1.30.0)
#   ORT_DEST     destination folder (default <repo>/third_party/onnxruntime)
set -euo pipefail

ORT_VERSION="${ORT_VERSION:-1.30.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${ORT_DEST:-$root/third_party/onnxruntime}"
lib="$dest/libonnxruntime.so.1"

if [[ -s "$lib" ]]; then
	echo "$lib"
	exit 0
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) arch=x64 ;;
Linux/aarch64 | Linux/arm64) arch=arm64 ;;
*)
	echo "fetch-ort.sh: unsupported platform $(uname -s)/$(uname -m); set ASSISTANT_ORT_LIB to an onnxruntime shared library" >&2
	exit 1
	;;
esac

command -v npm >/dev/null || {
	echo "fetch-ort.sh: npm not found; install npm or set ASSISTANT_ORT_LIB to libonnxruntime.so" >&2
	exit 1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

member="package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
tgz="$(ls "$tmp"/onnxruntime-node-*.tgz)"
tar -xzf "$tgz" -C "$tmp" "$member" || {
	echo "fetch-ort.sh: $member not in onnxruntime-node@$ORT_VERSION (layout changed?)" >&2
	exit 1
}

mkdir -p "$dest"
# Copy to a temporary name first so an interrupted run never leaves a
# truncated library where Init would find it.
cp "$tmp/$member" "$lib.partial"
mv "$lib.partial" "$lib"
echo "$lib"
