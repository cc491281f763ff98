#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, in the order CI (.ci/run) runs it:
#
#   format        tests/tools/check-format.sh: every tracked C++ file is clang-format 14 clean
#   release       build, clang-tidy over lib/ and daemon/ (tests/tools/check-tidy.sh), every test
#   asan          ASan+UBSan build, every test but those labelled `nobuild` (they run nothing
#                 built here, so the release run already covered them); the Kafka and
#                 scale-out scenarios included
#   tsan          ThreadSanitizer build of only the executables the `threads` label needs;
#                 the unit tests of runtime, ingest and publish and the run_kafka_plain,
#                 run_syslog and ops_metrics scenarios (ctest --preset tsan)
#
# Stage times, measured stage by stage on a 2-core machine that other builds shared (build
# and clang-tidy times are their CPU seconds / 2; test runs that wait on brokers and timers
# are wall time): format 7 s; release build + tests and asan build + tests ~31 min together
# (the figure before the stages below were added); clang-tidy ~5 min (590 CPU s); the Kafka
# scenarios added to the asan run ~2.5 min (the scale-out ones ~1.5 min more); tsan build ~5.5 min (665 CPU s, 107 of the 242
# build steps of a full build); tsan tests ~2 min. A whole clean-clone run took 73 min on
# a 2-core machine: over the 40 min aim, under the 90 min limit. README.md ("Testing and CI") has each stage as one command.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
jobs=$(nproc)
echo "== format"
tests/tools/check-format.sh
echo "== build release"
deploy/build.sh release
echo "== clang-tidy"
tests/tools/check-tidy.sh build/release
echo "== test release"
ctest --preset release -j "$jobs" --timeout 900
echo "== build asan"
deploy/build.sh asan
echo "== test asan"
ctest --preset asan -j "$jobs" --timeout 900 -LE nobuild
echo "== build tsan"
deploy/build.sh tsan
echo "== test tsan"
ctest --preset tsan -j "$jobs" --timeout 900
