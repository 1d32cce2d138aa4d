#!/usr/bin/env python3
"""Generate C for containerd's shim API with protoc-c, at build time.

The .proto files come from Debian's golang-github-containerd-containerd-dev and
golang-github-containerd-cgroups-dev (under GOCODE, /usr/share/gocode/src) and protobuf's
well-known types (/usr/include); nothing of them is kept in the tree. protoc-c names its outputs
after the import paths (github.com/containerd/...); meson wants flat names in one directory, so
each output is renamed ctd-<name>.pb-c.{c,h} and the includes between them rewritten to match.

usage: gen-containerd-proto.py OUTDIR PRIVATEDIR
"""

import os
import re
import shutil
import subprocess
import sys

GOCODE = os.environ.get("GOCODE", "/usr/share/gocode/src")
CTD = "github.com/containerd/containerd"

# flat name -> import path
PROTOS = {
    "any": "google/protobuf/any.proto",
    "empty": "google/protobuf/empty.proto",
    "timestamp": "google/protobuf/timestamp.proto",
    "descriptor": "google/protobuf/descriptor.proto",
    "gogo": "gogoproto/gogo.proto",
    "fieldpath": f"{CTD}/protobuf/plugin/fieldpath.proto",
    "mount": f"{CTD}/api/types/mount.proto",
    "task-types": f"{CTD}/api/types/task/task.proto",
    "shim": f"{CTD}/runtime/v2/task/shim.proto",
    "events-task": f"{CTD}/api/events/task.proto",
    "events-ttrpc": f"{CTD}/api/services/ttrpc/events/v1/events.proto",
    "runtimeoptions": f"{CTD}/pkg/runtimeoptions/v1/api.proto",
    "runc-options": f"{CTD}/runtime/v2/runc/options/oci.proto",
    "cgroups-v1": "github.com/containerd/cgroups/stats/v1/metrics.proto",
}


def main():
    outdir, private = sys.argv[1], sys.argv[2]
    shutil.rmtree(private, ignore_errors=True)
    os.makedirs(private)
    paths = [GOCODE, f"{GOCODE}/github.com/gogo/protobuf", "/usr/include"]
    # One file per run: runtimeoptions imports gogo.proto under another path than the rest,
    # which protoc refuses in one run; the includes below map both paths to one output.
    for path in PROTOS.values():
        subprocess.run(["protoc-c", *[f"--proto_path={p}" for p in paths],
                        f"--c_out={private}", path], check=True, stderr=subprocess.DEVNULL)
    flat = {path[:-len(".proto")]: name for name, path in PROTOS.items()}
    aliases = {"github.com/gogo/protobuf/gogoproto/gogo": "gogo"}
    include = re.compile(r'#include "([^"]+)\.pb-c\.h"')

    def rename(m):
        name = flat.get(m.group(1)) or aliases.get(m.group(1))
        return f'#include "ctd-{name}.pb-c.h"' if name else m.group(0)

    for stem, name in flat.items():
        for ext in ("c", "h"):
            with open(f"{private}/{stem}.pb-c.{ext}") as f:
                text = include.sub(rename, f.read())
            with open(f"{outdir}/ctd-{name}.pb-c.{ext}", "w") as f:
                f.write(text)


if __name__ == "__main__":
    main()
