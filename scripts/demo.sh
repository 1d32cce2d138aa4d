#!/bin/bash
# The main job, end to end on an embedded default: a local registry seeded with an image built
# here, the enclave-agent run by rune as an enclave container, a pull with agent-ctl, the
# layers mounted as the app's rootfs, the app run by rune (see scripts/demo.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec /usr/bin/python3 scripts/demo.py --build "$PWD/build"
