#!/usr/bin/env bash
# Compares release profiles for a function: clean build time, stripped binary and zip size.
# Usage: bench/profiles.sh [binary] [--x86]. Each profile builds in its own target dir, clean.
# The profiles are passed as CARGO_PROFILE_RELEASE_* overrides, so Cargo.toml is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-orders-api}
arch_flag=--arm64
[ "${2:-}" = "--x86" ] && arch_flag=--x86-64
export PATH="$PWD/.venv/bin:$PATH"  # cargo-lambda finds zig (the ziglang wheel) through python-zig
lambda=cargo-lambda
out=${PROFILE_RESULTS:-target/profiles.tsv}
mkdir -p "$(dirname "$out")"
printf 'profile\tclean_build_s\tbinary_bytes\tzip_bytes\n' > "$out"

measure() {
  local name=$1; shift
  local dir="target/profile-$name"
  rm -rf "$dir"
  local start end
  start=$(date +%s)
  env "$@" CARGO_TARGET_DIR="$dir" "$lambda" lambda build --release $arch_flag --quiet \
    --output-format zip --lambda-dir "$dir/lambda" --bin "$binary" >/dev/null
  end=$(date +%s)
  local zip="$dir/lambda/$binary/bootstrap.zip"
  local size
  size=$(unzip -Z -l "$zip" | awk '$NF=="bootstrap"{print $4}')
  printf '%s\t%s\t%s\t%s\n' "$name" "$((end - start))" "$size" "$(stat -c %s "$zip")" | tee -a "$out"
  rm -rf "$dir"
}

# cargo-lambda's own defaults (opt-level 3, thin LTO, one codegen unit, strip), with unwinding.
measure cargo-lambda-default CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_PANIC=unwind
# Size-optimised with fat LTO: the workspace profile.
measure size-s-fat-lto CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_PANIC=unwind
# Smallest code, slower code.
measure size-z-fat-lto CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_PANIC=unwind
# Speed with fat LTO.
measure speed-3-fat-lto CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_PANIC=unwind
