#!/usr/bin/env bash
# Local Kafka (KRaft) + redis-server for impulse-stream: scripts/infra.sh up|down|status [options]
# A thin wrapper around `python -m impulse_stream.infra.cli` in the project's venv;
# `scripts/infra.sh up --help` lists the options. See docs/infra.md.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$repo/.venv/bin/python"
if [[ ! -x "$python" ]]; then
	echo "infra.sh: $repo/.venv is missing; run 'make venv' first" >&2
	exit 2
fi
exec "$python" -m impulse_stream.infra.cli "$@"
