#!/usr/bin/env bash
# The fuzz targets (cargo-fuzz, libFuzzer, AddressSanitizer).
#
#   fuzz/run.sh smoke [SECONDS]       every target for SECONDS (default 10)
#                                     from its committed corpus: what CI runs
#   fuzz/run.sh run TARGET RUNS       one target for RUNS executions or 30
#                                     minutes, whichever comes first (README's
#                                     results); new inputs join its corpus
#   fuzz/run.sh minimize              minimizes every corpus (cargo fuzz cmin)
#   fuzz/run.sh seed                  records seeds from the Rust integration
#                                     tests and merges them, minimized, into
#                                     fuzz/corpus/
#
# Installs what it needs: cargo-fuzz (crates.io) and a nightly toolchain
# (for -Zsanitizer); where nightly cannot be had, the stable toolchain
# with RUSTC_BOOTSTRAP=1 builds the same flags.
# A crash stops the run, leaves its input in fuzz/artifacts/TARGET/ and
# exits non-zero; copy the input to fuzz/regressions/TARGET/ once fixed
# (tests/fuzz_corpus.rs replays it from then on).
set -euo pipefail
cd "$(dirname "$0")"

TARGETS=(query sqs_json kms_json ciphertext_blob sigv4 config_toml admin xml_escape)

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz@0.13.2
fi
if rustup run nightly rustc --version >/dev/null 2>&1 \
  || rustup toolchain install nightly --profile minimal >/dev/null 2>&1; then
  FUZZ=(cargo +nightly fuzz)
else
  echo "fuzz/run.sh: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1" >&2
  export RUSTC_BOOTSTRAP=1
  FUZZ=(cargo fuzz)
fi

# libFuzzer's options for every run: -rss_limit_mb catches leaks and
# unbounded growth, -timeout a hang (seconds for one input).
OPTS=(-rss_limit_mb=2048 -timeout=10 -print_final_stats=1)

case "${1:-}" in
  smoke)
    secs=${2:-10}
    "${FUZZ[@]}" build
    scratch=$(mktemp -d)
    for t in "${TARGETS[@]}"; do
      echo "== $t: ${secs} s"
      # New inputs go to a scratch directory: the committed corpus is read.
      mkdir -p "$scratch/$t"
      rc=0
      "${FUZZ[@]}" run "$t" "$scratch/$t" "corpus/$t" -- "${OPTS[@]}" -max_total_time="$secs" \
        >"$scratch/$t.log" 2>&1 || rc=$?
      grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "$scratch/$t.log" || true
      if [ "$rc" -ne 0 ]; then
        tail -n 60 "$scratch/$t.log" >&2
        echo "fuzz/run.sh: $t failed (exit $rc); its input is in fuzz/artifacts/$t/" >&2
        exit 1
      fi
    done
    rm -rf "$scratch"
    ;;
  run)
    t=${2:?target}; runs=${3:?runs}
    "${FUZZ[@]}" run "$t" "corpus/$t" -- "${OPTS[@]}" -runs="$runs" -max_total_time=1800
    ;;
  minimize)
    for t in "${TARGETS[@]}"; do
      "${FUZZ[@]}" cmin "$t" "corpus/$t" >/dev/null 2>&1
      echo "$t: $(ls "corpus/$t" | wc -l) inputs"
    done
    ;;
  seed)
    raw=$(mktemp -d)
    # The integration tests of tests/*.rs (not the container and browser
    # suites). The recorder serves on axum's plain server without sealq's
    # listener limits, so the few tests of those limits fail while recording.
    suites=()
    for f in ../tests/*.rs; do suites+=(--test "$(basename "$f" .rs)"); done
    (cd .. && SEALQ_FUZZ_SEEDS="$raw" cargo test --no-fail-fast "${suites[@]}" >/dev/null 2>&1) || true
    mkdir -p "$raw/config_toml" "$raw/xml_escape"
    cp ../docker/*.toml ../tests/fixtures/audit/*.toml "$raw/config_toml/"
    printf 'a&b<c>"d"\r\n\x27e\xc3\xa9' >"$raw/xml_escape/specials"
    printf '<?xml version="1.0"?><x a="1">]]>&amp;&#xD;</x>' >"$raw/xml_escape/markup"
    for t in "${TARGETS[@]}"; do
      mkdir -p "corpus/$t" "$raw/$t"
      cp -n "$raw/$t/"* "corpus/$t/" 2>/dev/null || true
      "${FUZZ[@]}" cmin "$t" "corpus/$t"
      echo "$t: $(ls "corpus/$t" | wc -l) inputs"
    done
    rm -rf "$raw"
    ;;
  *)
    sed -n '2,19p' run.sh >&2
    exit 2
    ;;
esac
