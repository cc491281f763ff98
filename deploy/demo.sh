#!/usr/bin/env bash
# The main job, end to end on a fresh Debian 12 machine: installs the packages, builds the
# release binary and replays the bundled sample sessions (background traffic, one port scan,
# a slow scanner under the threshold, a private-range scanner the rule ignores). The alert
# JSON lines go to standard output, the replay summary to standard error.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh release
echo "== portscand replay deploy/demo/sessions.jsonl" >&2
build/release/daemon/portscand replay deploy/demo/sessions.jsonl
