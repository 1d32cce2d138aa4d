"""Container lifecycle: create/start/run/state/list/kill/delete, their errors, ps, pause/resume,
events, update."""

import json
import os
import re
import subprocess
import threading
import time
from datetime import datetime

import pytest

from conftest import (cgroup_freezer_state, cgroup_limit, cgroup_path, cgroup_shares,
                      find_cgroup_dirs, is_rune, ns_id, pid_alive, read_text, wait_until)

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


def control_dir(bundle, workdir, name="ctl"):
    """A host directory shared with the container at /ctl (payloads wait for files there)."""
    host = workdir / f"{name}-{bundle.path.name}"
    host.mkdir()
    bundle.add_mount("/ctl", host)
    return host


def wait_for_go(then="exit 0"):
    return ["sh", "-c", f"while [ ! -e /ctl/go ]; do usleep 10000; done; {then}"]


def started(rune, bundle, args=("sleep", "3600")):
    """A detached running container: (id, host pid)."""
    b = bundle(args)
    cid = rune.new_id()
    rune.run_detached(cid, b)
    return cid, rune.pid(cid)


# ---------------------------------------------------------------------------------- lifecycle


def test_create_start_stop_delete(rune, bundle, workdir):
    b = bundle()
    ctl = control_dir(b, workdir)
    b.config["process"]["args"] = wait_for_go()
    cid = rune.new_id()

    rune.create(cid, b)
    st = rune.state(cid)
    assert st["status"] == "created"
    pid = st["pid"]
    assert pid > 0 and pid_alive(pid)
    assert (rune.root / cid).is_dir(), "state directory missing after create"
    assert any(d.endswith(cid) for d in find_cgroup_dirs(cid)), "no cgroup after create"

    rune.start(cid)
    st = rune.state(cid)
    assert st["status"] == "running" and st["pid"] == pid

    (ctl / "go").touch()
    rune.wait_status(cid, "stopped")
    wait_until(lambda: not pid_alive(pid), what="init to exit")
    st = rune.state(cid)
    assert st["pid"] == 0, st

    res = rune.delete(cid)
    assert res.rc == 0, res
    assert not (rune.root / cid).exists()
    assert find_cgroup_dirs(cid) == []
    res = rune.cmd("state", cid)
    assert res.rc == 1 and "container does not exist" in res.err, res


def test_run_returns_exit_code_and_output(rune, bundle):
    b = bundle(["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7"])
    cid = rune.new_id()
    res = rune.run(cid, b)
    assert res.rc == 7, res
    assert res.out == "to-stdout\n"
    assert "to-stderr\n" in res.err
    # A foreground run deletes its container when it is over.
    assert rune.cmd("state", cid).rc == 1
    assert not (rune.root / cid).exists()


def test_run_passes_stdin(rune, bundle):
    b = bundle(["sh", "-c", "read line; echo got:$line"])
    res = rune.run(rune.new_id(), b, input="hello\n")
    assert res.rc == 0, res
    assert res.out == "got:hello\n"


def test_run_killed_container_reports_128_plus_signal(rune, bundle):
    b = bundle(["sleep", "3600"])
    cid = rune.new_id()
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("res", rune.run(cid, b)))
    t.start()
    try:
        rune.wait_status(cid, "running")
        assert rune.cmd("kill", cid, "KILL").rc == 0
    finally:
        t.join(timeout=60)
    assert result["res"].rc == 128 + 9, result["res"]


def test_run_detach(rune, bundle):
    cid, pid = started(rune, bundle)
    assert rune.status(cid) == "running"
    assert open(f"/proc/{pid}/cmdline").read().split("\0")[:2] == ["sleep", "3600"]


def test_pid_file(rune, bundle, workdir):
    b = bundle()
    cid = rune.new_id()
    pidfile = workdir / "init.pid"
    rune.create(cid, b, "--pid-file", pidfile)
    assert pidfile.read_text() == str(rune.pid(cid))


def test_state_json(rune, bundle):
    b = bundle()
    b.config["annotations"] = {"org.example.key": "value"}
    cid = rune.new_id()
    rune.create(cid, b)
    res = rune.ok("state", cid)
    st = res.json()
    # runc's layout: 2-space indentation, fields in this order, no trailing newline.
    assert list(st) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created",
                        "annotations", "owner"]
    assert res.out == json.dumps(st, indent=2, ensure_ascii=False)
    assert st["ociVersion"] == b.config["ociVersion"]
    assert st["id"] == cid
    assert st["status"] == "created"
    assert isinstance(st["pid"], int) and st["pid"] > 0
    assert st["bundle"] == str(b.path)
    assert st["rootfs"] == str(b.rootfs)
    assert RFC3339.match(st["created"]), st["created"]
    created = datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", st["created"])
                                     .replace("Z", "+00:00"))
    assert abs(created.timestamp() - os.stat(rune.root / cid).st_mtime) < 60
    assert st["owner"] == ""
    assert st["annotations"] == {"org.example.key": "value"}


def test_state_without_annotations_omits_key(rune, bundle):
    cid, _ = started(rune, bundle)
    assert "annotations" not in rune.state(cid)


# ---------------------------------------------------------------------------------- list


def compact(value):
    """Go's json.Marshal layout."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def go_table(rows):
    """Go text/tabwriter(minwidth 12, padding 3, ' ') as runc uses it; last column unpadded."""
    widths = [max(12, max(len(r[i]) for r in rows) + 3) for i in range(len(rows[0]) - 1)]
    return "".join("".join(c.ljust(w) for c, w in zip(r, widths)) + r[-1] + "\n" for r in rows)


def test_list_empty(rune):
    res = rune.cmd("list")
    assert res.rc == 0, res
    assert res.out == "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
    res = rune.cmd("list", "--format", "json")
    assert res.rc == 0 and res.out.strip() == "null", res
    res = rune.cmd("list", "-q")
    assert res.rc == 0 and res.out == "", res


def test_list_table_json_quiet(rune, bundle):
    cid1, pid1 = started(rune, bundle)
    b2 = bundle()
    cid2 = rune.new_id()
    rune.create(cid2, b2)
    states = {c: rune.state(c) for c in (cid1, cid2)}

    res = rune.cmd("list")
    assert res.rc == 0, res
    rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
    for c in sorted(states):
        s = states[c]
        rows.append([c, str(s["pid"]), s["status"], s["bundle"], s["created"], "root"])
    assert res.out == go_table(rows), res

    res = rune.cmd("list", "-q")
    assert res.rc == 0 and res.out.split() == sorted(states), res

    res = rune.cmd("list", "--format", "json")
    assert res.rc == 0, res
    assert res.out == compact(res.json()) + "\n"
    listed = {e["id"]: e for e in res.json()}
    assert set(listed) == set(states)
    for c, s in states.items():
        assert listed[c]["pid"] == s["pid"] and listed[c]["status"] == s["status"]
        assert listed[c]["bundle"] == s["bundle"] and listed[c]["created"] == s["created"]
        assert listed[c]["owner"] == "root"


# ---------------------------------------------------------------------------------- kill


@pytest.mark.parametrize("sig", ["KILL", "SIGKILL", "9"])
def test_kill_signal_spellings(rune, bundle, sig):
    cid, pid = started(rune, bundle)
    res = rune.cmd("kill", cid, sig)
    assert res.rc == 0, res
    rune.wait_status(cid, "stopped")
    wait_until(lambda: not pid_alive(pid), what="init to die")


@pytest.mark.parametrize("sig", [None, "TERM", "SIGTERM", "15", "USR1"])
def test_kill_delivers_signal(rune, bundle, workdir, sig):
    b = bundle()
    ctl = control_dir(b, workdir)
    name = "TERM" if sig in (None, "15") else sig.replace("SIG", "")
    # PID 1 ignores signals it has no handler for: install one, then wait.
    b.config["process"]["args"] = [
        "sh", "-c", f"trap 'echo {name} > /ctl/got.tmp; mv /ctl/got.tmp /ctl/got; exit 0' "
                    f"{name}; touch /ctl/ready; sleep 3600 & wait"]
    cid = rune.new_id()
    rune.run_detached(cid, b)
    wait_until(lambda: (ctl / "ready").exists(), what="trap to be installed")
    res = rune.cmd("kill", cid, *([sig] if sig else []))
    assert res.rc == 0, res
    wait_until(lambda: (ctl / "got").exists(), what="signal handler")
    assert (ctl / "got").read_text().strip() == name
    rune.wait_status(cid, "stopped")


def test_kill_unknown_signal(rune, bundle):
    cid, pid = started(rune, bundle)
    res = rune.cmd("kill", cid, "NOSUCHSIG")
    assert res.rc == 1, res
    assert 'unknown signal \\"NOSUCHSIG\\"' in res.err or 'unknown signal "NOSUCHSIG"' in res.err
    assert pid_alive(pid)


def test_kill_all(rune, bundle):
    cid, pid = started(rune, bundle, ["sh", "-c", "sleep 3600 & sleep 3600 & exec sleep 3600"])
    wait_until(lambda: len(rune.ok("ps", "--format", "json", cid).json()) == 3,
               what="three processes")
    pids = rune.ok("ps", "--format", "json", cid).json()
    res = rune.cmd("kill", "--all", cid, "KILL")
    assert res.rc == 0, res
    wait_until(lambda: not any(pid_alive(p) for p in pids), what="all processes to die")
    rune.wait_status(cid, "stopped")


def test_kill_all_reaches_what_outlived_a_stopped_init(rune, bundle, workdir):
    """Without a PID namespace of its own, a container's processes outlive its init; `kill
    --all` still signals them once the container is stopped (runc does; containerd's shims
    rely on it), while a plain kill says the container is not running."""
    b = bundle(["sh", "-c", "sleep 3600 & echo $! > /ctl/bg.tmp; mv /ctl/bg.tmp /ctl/bg; exit 3"])
    ctl = control_dir(b, workdir)
    b.remove_namespace("pid")
    cid = rune.new_id()
    rune.run_detached(cid, b)
    rune.wait_status(cid, "stopped")
    wait_until(lambda: (ctl / "bg").exists(), what="the background pid")
    bg = int((ctl / "bg").read_text())
    assert pid_alive(bg)
    res = rune.cmd("kill", cid, "KILL")
    assert res.rc != 0 and "not running" in res.err, res
    res = rune.cmd("kill", "--all", cid, "KILL")
    assert res.rc == 0, res
    wait_until(lambda: not pid_alive(bg), what="the process the init left")


def test_kill_created_container(rune, bundle):
    b = bundle()
    cid = rune.new_id()
    rune.create(cid, b)
    pid = rune.pid(cid)
    assert rune.cmd("kill", cid, "KILL").rc == 0
    wait_until(lambda: not pid_alive(pid), what="init to die")
    rune.wait_status(cid, "stopped")
    assert rune.delete(cid).rc == 0


def test_kill_stopped_container(rune, bundle):
    cid, pid = started(rune, bundle)
    rune.ok("kill", cid, "KILL")
    rune.wait_status(cid, "stopped")
    res = rune.cmd("kill", cid, "KILL")
    assert res.rc == 1, res
    assert "container not running" in res.err, res


# ---------------------------------------------------------------------------------- delete


def test_delete_running_needs_force(rune, bundle):
    cid, pid = started(rune, bundle)
    res = rune.delete(cid)
    assert res.rc == 1, res
    assert f"cannot delete container {cid} that is not stopped: running" in res.err, res
    assert pid_alive(pid) and rune.status(cid) == "running"

    cgroups = find_cgroup_dirs(cid)
    assert cgroups
    res = rune.delete(cid, force=True)
    assert res.rc == 0, res
    wait_until(lambda: not pid_alive(pid), what="init to die")
    assert not (rune.root / cid).exists()
    assert find_cgroup_dirs(cid) == []


def test_delete_created_container(rune, bundle):
    b = bundle()
    cid = rune.new_id()
    rune.create(cid, b)
    pid = rune.pid(cid)
    res = rune.delete(cid)
    assert res.rc == 0, res
    wait_until(lambda: not pid_alive(pid), what="init to die")
    assert not (rune.root / cid).exists()


def test_double_delete(rune, bundle):
    b = bundle(["true"])
    cid = rune.new_id()
    rune.create(cid, b)
    rune.start(cid)
    rune.wait_status(cid, "stopped")
    assert rune.delete(cid).rc == 0
    res = rune.delete(cid)
    assert res.rc == 1 and "container does not exist" in res.err, res


def test_delete_force_of_missing_container_succeeds(rune):
    res = rune.delete("rit-never-existed", force=True)
    assert res.rc == 0, res


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("command", ["state", "start", "delete", "kill", "pause", "resume",
                                     "events"])
def test_missing_container(rune, command):
    res = rune.cmd(command, "rit-no-such-container")
    assert res.rc == 1, res
    assert "container does not exist" in res.err, res


def test_exec_missing_container(rune):
    res = rune.cmd("exec", "rit-no-such-container", "true")
    assert res.rc == 255, res
    assert "container does not exist" in res.err, res


def test_start_running_container(rune, bundle):
    cid, _ = started(rune, bundle)
    res = rune.start(cid, check=False)
    assert res.rc == 1, res
    assert "cannot start an already running container" in res.err, res


def test_start_stopped_container(rune, bundle):
    b = bundle(["true"])
    cid = rune.new_id()
    rune.create(cid, b)
    rune.start(cid)
    rune.wait_status(cid, "stopped")
    res = rune.start(cid, check=False)
    assert res.rc == 1, res
    assert "cannot start a container that has stopped" in res.err, res


@pytest.mark.parametrize("bad_id", ["bad/id", "..", "a b", "semi;colon"])
def test_invalid_container_id(rune, bundle, bad_id):
    b = bundle()
    res = rune.create(bad_id, b, check=False)
    assert res.rc == 1, res
    assert "invalid container ID format" in res.err, res
    assert not rune.root.exists() or os.listdir(rune.root) == []


def test_duplicate_container_id(rune, bundle):
    cid, pid = started(rune, bundle)
    b = bundle()
    for argv in (["create", "--bundle", b.path, cid], ["run", "--detach", "--bundle", b.path, cid]):
        res = rune.cmd(*argv)
        assert res.rc == 1, res
        assert "container with given ID already exists" in res.err, res
    # The first container is untouched.
    st = rune.state(cid)
    assert st["pid"] == pid and st["bundle"] != str(b.path) and pid_alive(pid)


# ---------------------------------------------------------------------------------- ps


def test_ps(rune, bundle):
    cid, pid = started(rune, bundle)
    res = rune.cmd("ps", cid)
    assert res.rc == 0, res
    header = res.out.splitlines()[0].split()
    assert "PID" in header and "CMD" in header
    pid_col = header.index("PID")
    assert [int(line.split()[pid_col]) for line in res.out.splitlines()[1:]] == [pid]

    res = rune.cmd("ps", "--format", "json", cid)
    assert res.rc == 0, res
    assert res.out == f"[{pid}]\n"

    # Arguments after the id go to ps(1) instead of the default -ef.
    res = rune.cmd("ps", cid, "-o", "pid,comm")
    assert res.rc == 0, res
    assert res.out.split() == ["PID", "COMMAND", str(pid), "sleep"]


# ---------------------------------------------------------------------------------- pause


def test_pause_resume(rune, bundle, workdir):
    b = bundle()
    ctl = control_dir(b, workdir)
    b.config["process"]["args"] = [
        "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /ctl/count.tmp; "
                    "mv /ctl/count.tmp /ctl/count; usleep 2000; done"]
    cid = rune.new_id()
    rune.run_detached(cid, b)
    pid = rune.pid(cid)
    wait_until(lambda: (ctl / "count").exists(), what="counter")

    assert rune.cmd("pause", cid).rc == 0
    assert rune.status(cid) == "paused"
    assert cgroup_freezer_state(pid) == "FROZEN"
    res = rune.cmd("list")
    assert re.search(rf"^{cid}\s+{pid}\s+paused\s", res.out, re.M), res
    res = rune.exec(cid, "true")
    assert res.rc == 255 and "cannot exec in a paused container" in res.err, res
    res = rune.cmd("pause", cid)
    assert res.rc == 1 and "container not running" in res.err, res
    frozen_at = read_text(ctl / "count")

    assert rune.cmd("resume", cid).rc == 0
    assert rune.status(cid) == "running"
    assert cgroup_freezer_state(pid) == "THAWED"
    wait_until(lambda: read_text(ctl / "count", "") not in ("", frozen_at),
               what="the counter to move again")
    res = rune.cmd("resume", cid)
    assert res.rc == 1 and "container not paused" in res.err, res


# ---------------------------------------------------------------------------------- events


def test_events_stats(rune, bundle):
    cid, pid = started(rune, bundle)
    res = rune.cmd("events", "--stats", cid)
    assert res.rc == 0, res
    lines = [line for line in res.out.splitlines() if line.strip()]
    assert len(lines) == 1, res
    ev = json.loads(lines[0])
    assert res.out == compact(ev) + "\n"
    assert ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    for key in ("cpu", "memory", "pids", "blkio", "hugetlb"):
        assert key in data, key
    assert data["pids"]["current"] == 1
    assert data["cpu"]["usage"]["total"] > 0
    assert data["memory"]["usage"]["usage"] > 0
    assert "limit" in data["memory"]["usage"]


def test_events_stream_reports_oom_and_ends_with_the_container(rune, bundle):
    """Without --stats: a stats event every interval, an "oom" event when the kernel kills a
    process of the container for memory, and the stream ends when the container stops."""
    b = bundle(["sh", "-c", "sleep 1; tail /dev/zero; sleep 600"])
    limit = 32 * 1024 * 1024
    b.linux["resources"] = {"memory": {"limit": limit, "swap": limit}}
    cid = rune.new_id()
    rune.run_detached(cid, b)
    proc = subprocess.Popen([str(rune.binary), "--root", str(rune.root), "events",
                             "--interval", "1s", cid], stdout=subprocess.PIPE, text=True)
    try:
        events = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(e["type"] == "oom" for e in events):
            line = proc.stdout.readline()
            if not line:
                break
            events.append(json.loads(line))
        assert events and events[0]["type"] == "stats" and events[0]["id"] == cid, events
        assert {"type": "oom", "id": cid} in events, events
        rune.ok("kill", cid, "KILL")
        if is_rune():  # runc 1.1 keeps polling a stopped container
            assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_events_stats_of_stopped_container(rune, bundle):
    cid, pid = started(rune, bundle)
    rune.ok("kill", cid, "KILL")
    rune.wait_status(cid, "stopped")
    res = rune.cmd("events", "--stats", cid)
    assert res.rc == 1, res
    assert f"container with id {cid} is not running" in res.err, res


# ---------------------------------------------------------------------------------- update


def test_update_flags(rune, bundle):
    cid, pid = started(rune, bundle)
    res = rune.cmd("update", "--memory", "100M", "--pids-limit", "50", "--cpu-share", "512",
                   "--cpu-quota", "20000", "--cpu-period", "100000", "--cpuset-cpus", "0", cid)
    assert res.rc == 0, res
    assert cgroup_limit(pid, "memory") == str(100 * 1024 * 1024)
    assert cgroup_limit(pid, "pids") == "50"
    assert cgroup_limit(pid, "cpu.shares") == cgroup_shares(512)
    assert cgroup_limit(pid, "cpu.quota") == "20000"
    assert cgroup_limit(pid, "cpu.period") == "100000"
    assert cgroup_limit(pid, "cpuset.cpus") == "0"


def test_update_from_resources_file(rune, bundle, workdir):
    cid, pid = started(rune, bundle)
    resources = workdir / "resources.json"
    resources.write_text(json.dumps({
        "memory": {"limit": 64 * 1024 * 1024},
        "cpu": {"shares": 256},
        "pids": {"limit": 42},
    }))
    res = rune.cmd("update", "-r", resources, cid)
    assert res.rc == 0, res
    assert cgroup_limit(pid, "memory") == str(64 * 1024 * 1024)
    assert cgroup_limit(pid, "cpu.shares") == cgroup_shares(256)
    assert cgroup_limit(pid, "pids") == "42"


def test_update_resources_from_stdin(rune, bundle):
    cid, pid = started(rune, bundle)
    res = rune.cmd("update", "-r", "-", cid, input=json.dumps({"pids": {"limit": 33}}))
    assert res.rc == 0, res
    assert cgroup_limit(pid, "pids") == "33"


def test_update_pids_limit_is_enforced(rune, bundle):
    cid, pid = started(rune, bundle)
    rune.ok("update", "--pids-limit", "2", cid)
    # init (1) + sh (2); the third process cannot be forked.
    res = rune.exec(cid, "sh", "-c", "sleep 0 && echo forked")
    assert "forked" not in res.out, res
    assert res.rc != 0, res


# ---------------------------------------------------------------------------------- exec


def test_exec_output_and_exit_code(rune, bundle):
    cid, pid = started(rune, bundle)
    res = rune.exec(cid, "sh", "-c", "echo hi; echo oops >&2; exit 3")
    assert res.rc == 3, res
    assert res.out == "hi\n" and "oops" in res.err


def test_exec_joins_container_namespaces(rune, bundle):
    cid, pid = started(rune, bundle)
    res = rune.exec(cid, "sh", "-c", "for ns in pid mnt net; do readlink /proc/self/ns/$ns; done; "
                                      "cat /proc/self/cgroup")
    assert res.rc == 0, res
    lines = res.out.splitlines()
    assert lines[:3] == [ns_id(pid, "pid"), ns_id(pid, "mnt"), ns_id(pid, "net")]
    assert cgroup_path(pid, "pids") in res.out


def test_exec_env_cwd_user(rune, bundle):
    cid, pid = started(rune, bundle)
    res = rune.exec(cid, "sh", "-c", "echo $FOO; pwd; id -u; id -g",
                    opts=["--env", "FOO=bar", "--cwd", "/tmp", "--user", "1000:1000"])
    assert res.rc == 0, res
    assert res.out.split() == ["bar", "/tmp", "1000", "1000"]


def test_exec_user_shown_by_id(rune, bundle):
    cid, pid = started(rune, bundle)
    res = rune.exec(cid, "id", opts=["--user", "1000:1000"])
    assert res.rc == 0, res
    assert res.out.startswith("uid=1000(user) gid=1000(user)"), res


def test_exec_inherits_process_env(rune, bundle):
    b = bundle()
    b.add_env("FROM_CONFIG=yes")
    cid = rune.new_id()
    rune.run_detached(cid, b)
    res = rune.exec(cid, "sh", "-c", "echo $FROM_CONFIG")
    assert res.rc == 0 and res.out == "yes\n", res


def test_exec_tty_without_terminal(rune, bundle):
    # The runtime runs in its own session: there is no controlling terminal to use.
    cid, pid = started(rune, bundle)
    res = rune.exec(cid, "true", opts=["--tty"])
    assert res.rc == 255, res
    assert "/dev/tty" in res.err, res


def test_exec_detach_pid_file(rune, bundle, workdir):
    cid, pid = started(rune, bundle)
    pidfile = workdir / "exec.pid"
    res = rune.exec(cid, "sleep", "1234", opts=["--detach", "--pid-file", pidfile])
    assert res.rc == 0, res
    epid = int(pidfile.read_text())
    assert pid_alive(epid)
    assert open(f"/proc/{epid}/cmdline").read().split("\0")[:2] == ["sleep", "1234"]
    assert ns_id(epid, "pid") == ns_id(pid, "pid")
    res = rune.cmd("ps", "--format", "json", cid)
    assert sorted(res.json()) == sorted([pid, epid])


def test_exec_process_json(rune, bundle, workdir):
    cid, pid = started(rune, bundle)
    process = workdir / "process.json"
    process.write_text(json.dumps({
        "terminal": False, "user": {"uid": 1000, "gid": 1000},
        "args": ["sh", "-c", "echo $GREETING; pwd; id -u"],
        "env": ["PATH=/bin", "GREETING=from-process-json"], "cwd": "/etc",
    }))
    res = rune.exec(cid, opts=["--process", process])
    assert res.rc == 0, res
    assert res.out.split() == ["from-process-json", "/etc", "1000"]


def test_exec_in_stopped_container(rune, bundle):
    cid, pid = started(rune, bundle)
    rune.ok("kill", cid, "KILL")
    rune.wait_status(cid, "stopped")
    res = rune.exec(cid, "true")
    assert res.rc == 255, res
    assert "cannot exec in a stopped container" in res.err, res


def with_fd3(path):
    """A wrapper that opens path as fd 3 in the runtime's process only (never touch the test
    runner's own fd 3: pytest's output capture may live there)."""
    return ["/bin/sh", "-c", 'exec 3<"$0"; exec "$@"', str(path)]


def test_exec_preserve_fds(rune, bundle, workdir):
    cid, pid = started(rune, bundle)
    data = workdir / "passed.txt"
    data.write_text("passed-through-fd-3\n")
    res = rune.exec(cid, "sh", "-c", "cat <&3", opts=["--preserve-fds", "1"],
                    wrapper=with_fd3(data))
    assert res.rc == 0, res
    assert res.out == "passed-through-fd-3\n"


def test_exec_without_preserve_fds_closes_extra_fds(rune, bundle, workdir):
    cid, pid = started(rune, bundle)
    res = rune.exec(cid, "sh", "-c", "[ -e /proc/self/fd/3 ] && echo open || echo closed",
                    wrapper=with_fd3(workdir))
    assert res.rc == 0 and res.out == "closed\n", res


# ---------------------------------------------------------------------------------- fds


def test_create_preserve_fds(rune, bundle, workdir):
    data = workdir / "fd3.txt"
    data.write_text("hello-from-fd-3\n")
    b = bundle(["sh", "-c", "cat <&3; [ -e /proc/self/fd/4 ] && echo fd4-open || echo fd4-closed"])
    cid = rune.new_id()
    out = workdir / "payload.out"
    rune.create(cid, b, "--preserve-fds", "1", wrapper=with_fd3(data), stdout=out)
    rune.start(cid)
    rune.wait_status(cid, "stopped")
    assert out.read_text() == "hello-from-fd-3\nfd4-closed\n"


def test_run_preserve_fds(rune, bundle, workdir):
    data = workdir / "fd3.txt"
    data.write_text("hello-from-fd-3\n")
    b = bundle(["sh", "-c", "cat <&3"])
    res = rune.run(rune.new_id(), b, "--preserve-fds", "1", wrapper=with_fd3(data))
    assert res.rc == 0 and res.out == "hello-from-fd-3\n", res


def test_listen_fds_passed_to_container(rune, bundle, workdir):
    """systemd socket activation: with LISTEN_FDS/LISTEN_PID naming the runtime itself, fds
    3.. are passed and LISTEN_FDS/LISTEN_PID=1 are set for the payload."""
    data = workdir / "listen.txt"
    data.write_text("activation\n")
    b = bundle(["sh", "-c", "echo LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID; cat <&3"])
    cid = rune.new_id()
    # LISTEN_PID must be the runtime's own pid: exec it from a shell whose pid we know.
    wrapper = ["/bin/sh", "-c", 'exec 3<"$0"; LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', str(data)]
    res = rune.run(cid, b, wrapper=wrapper)
    assert res.rc == 0, res
    assert res.out == "LISTEN_FDS=1 LISTEN_PID=1\nactivation\n"
