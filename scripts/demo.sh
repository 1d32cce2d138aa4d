#!/bin/bash
# The main job: build rune, make a busybox bundle, run it with rune and show its output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
RUNE="$PWD/build/cmd/rune/rune"

work=$(mktemp -d /tmp/rune-demo.XXXXXX)
root="$work/state"
cleanup() {
	"$RUNE" --root "$root" delete --force demo >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

bundle="$work/bundle"
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for applet in sh echo cat hostname id ls uname; do
	ln -s busybox "$bundle/rootfs/bin/$applet"
done
(cd "$bundle" && "$RUNE" spec)
python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
cfg = json.load(open(path))
cfg["process"]["terminal"] = False  # non-interactive demo
cfg["process"]["args"] = ["sh", "-c",
    "echo \"hello from a rune container: hostname=$(hostname) pid=$$ uid=$(id -u)\"; uname -sr"]
json.dump(cfg, open(path, "w"), indent=2)
PY
echo "== rune $("$RUNE" --version | head -1 | cut -d' ' -f3) runs $bundle"
"$RUNE" --root "$root" run --bundle "$bundle" demo
echo "== container exited with status $?"
