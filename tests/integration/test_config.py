"""config.json features, checked from inside the container and from the host."""

import array
import json
import os
import re
import socket
import stat
import subprocess
import threading
import time

import pytest

from conftest import (CAPS, cap_mask, cgroup_device_rules, cgroup_limit, cgroup_path,
                      cgroup_shares, cgroup_swap_accounting, find_cgroup_dirs, ns_id,
                      proc_status, read_text, rune_specific, runtime_name, wait_until)

X86 = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]


def detached(rune, b):
    cid = rune.new_id()
    rune.run_detached(cid, b)
    return cid, rune.pid(cid)


def output_of(rune, b, script):
    """Run `sh -c script` in the bundle in the foreground; return stdout (asserting rc 0)."""
    res = rune.simple(b, ["sh", "-c", script])
    assert res.rc == 0, res
    return res.out


# ---------------------------------------------------------------------------------- namespaces

NS_FILES = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
            "cgroup": "cgroup"}


def test_namespaces_are_new(rune, bundle):
    b = bundle()
    b.set_namespace("cgroup")
    cid, pid = detached(rune, b)
    for ns in NS_FILES.values():
        assert ns_id(pid, ns) != ns_id("self", ns), ns
    # Not asked for: shared with the runtime's caller.
    assert ns_id(pid, "user") == ns_id("self", "user")
    assert ns_id(pid, "time") == ns_id("self", "time")


@pytest.mark.parametrize("ns", ["pid", "network", "ipc", "uts", "cgroup"])
def test_namespace_left_out_is_shared(rune, bundle, ns):
    b = bundle()
    b.remove_namespace(ns)
    if ns == "uts":
        del b.config["hostname"]  # a hostname needs a private UTS namespace
    cid, pid = detached(rune, b)
    assert ns_id(pid, NS_FILES[ns]) == ns_id("self", NS_FILES[ns])


def test_pid_namespace_init_is_pid_1(rune, bundle):
    b = bundle()
    out = output_of(rune, b, "echo $$; ls /proc | grep -c '^[0-9]'")
    # sh is pid 1 and sees only itself, ls and grep -- not the host's processes.
    assert out.split() == ["1", "3"]


def test_time_namespace_with_offsets(rune, bundle):
    b = bundle()
    b.linux["namespaces"].append({"type": "time"})
    b.linux["timeOffsets"] = {"boottime": {"secs": 864000, "nanosecs": 0},
                              "monotonic": {"secs": 86400}}
    out = output_of(rune, b, "readlink /proc/self/ns/time; cat /proc/uptime")
    ns, uptime = out.splitlines()
    assert ns != os.readlink("/proc/self/ns/time")
    # /proc/uptime reads the boot-time clock, shifted by the namespace's offset.
    host_uptime = float(read_text("/proc/uptime").split()[0])
    assert float(uptime.split()[0]) >= 864000 + host_uptime - 5, uptime


def test_time_offsets_need_a_time_namespace(rune, bundle):
    b = bundle()
    b.linux["timeOffsets"] = {"boottime": {"secs": 10}}
    res = rune.create(rune.new_id(), b, check=False)
    assert res.rc == 1, res
    assert "config.json: linux.timeOffsets: needs a new time namespace" in res.err, res


def test_join_namespaces_of_another_container(rune, bundle):
    cid_a, pid_a = detached(rune, bundle())
    b = bundle()
    for ns in ("network", "ipc", "uts", "pid"):
        b.set_namespace(ns, f"/proc/{pid_a}/ns/{NS_FILES[ns]}")
    cid_b, pid_b = detached(rune, b)
    for ns in ("net", "ipc", "uts", "pid"):
        assert ns_id(pid_b, ns) == ns_id(pid_a, ns), ns
    assert ns_id(pid_b, "mnt") != ns_id(pid_a, "mnt")
    # Sharing A's pid namespace, B sees A's sleep.
    res = rune.exec(cid_b, "ps", "-o", "pid,args")
    assert res.rc == 0 and res.out.count("sleep 3600") == 2, res


def test_join_persistent_network_namespace(rune, bundle, workdir, mounts):
    nsfile = workdir / "netns"
    nsfile.touch()
    subprocess.run(["unshare", f"--net={nsfile}", "true"], check=True)
    mounts.add(nsfile)
    b = bundle()
    b.set_namespace("network", nsfile)
    cid, pid = detached(rune, b)
    assert ns_id(pid, "net") == f"net:[{os.stat(nsfile).st_ino}]"


def test_join_namespace_bad_path(rune, bundle, workdir):
    b = bundle()
    b.set_namespace("network", workdir / "not-a-namespace")
    (workdir / "not-a-namespace").touch()
    res = rune.create(rune.new_id(), b, check=False)
    assert res.rc == 1, res


def test_user_namespace_mappings(rune, bundle):
    b = bundle()
    b.set_namespace("user")
    b.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    b.linux["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    cid, pid = detached(rune, b)
    assert read_text(f"/proc/{pid}/uid_map").split() == ["0", "100000", "65536"]
    assert read_text(f"/proc/{pid}/gid_map").split() == ["0", "200000", "65536"]
    assert ns_id(pid, "user") != ns_id("self", "user")
    status = proc_status(pid)
    assert status["Uid"].split()[0] == "100000" and status["Gid"].split()[0] == "200000"
    res = rune.exec(cid, "sh", "-c", "id -u; id -g; cat /proc/self/uid_map")
    assert res.rc == 0, res
    assert res.out.split() == ["0", "0", "0", "100000", "65536"]


# ---------------------------------------------------------------------------------- process


def test_hostname(rune, bundle):
    b = bundle()
    b.config["hostname"] = "it-host"
    out = output_of(rune, b, "hostname; cat /proc/sys/kernel/hostname")
    assert out.split() == ["it-host", "it-host"]
    assert socket.gethostname() != "it-host"


@rune_specific
def test_domainname(rune, bundle):
    # runc 1.1.5 ignores "domainname" (runc supports it from 1.2); rune sets it.
    b = bundle()
    b.config["hostname"] = "it-host"
    b.config["domainname"] = "it.example"
    out = output_of(rune, b, "hostname; cat /proc/sys/kernel/domainname")
    assert out.split() == ["it-host", "it.example"]


def test_env(rune, bundle):
    b = bundle()
    b.process["env"] = ["PATH=/bin", "ALPHA=1", "BETA=two words", "RUNE_IT_TAG=" + rune.tag]
    out = output_of(rune, b, "env")
    env = dict(line.split("=", 1) for line in out.splitlines())
    assert env["ALPHA"] == "1" and env["BETA"] == "two words" and env["PATH"] == "/bin"


def test_cwd(rune, bundle):
    b = bundle()
    b.process["cwd"] = "/etc"
    assert output_of(rune, b, "pwd") == "/etc\n"


def test_missing_cwd_is_created(rune, bundle):
    b = bundle()
    b.process["cwd"] = "/made/by/runtime"
    assert output_of(rune, b, "pwd") == "/made/by/runtime\n"
    assert (b.rootfs / "made" / "by" / "runtime").is_dir()


def test_user_groups_umask(rune, bundle):
    b = bundle()
    b.process["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [2000, 3000], "umask": 0o077}
    cid, pid = detached(rune, b)
    status = proc_status(pid)
    assert status["Uid"].split() == ["1000"] * 4
    assert status["Gid"].split() == ["1001"] * 4
    assert status["Groups"].split() == ["2000", "3000"]
    assert status["Umask"] == "0077"


def test_default_umask(rune, bundle):
    cid, pid = detached(rune, bundle())
    assert proc_status(pid)["Umask"] == "0022"


def limits(text):
    out = {}
    for line in text.splitlines()[1:]:
        m = re.match(r"(.+?)\s{2,}(\S+)\s+(\S+)", line)
        out[m.group(1)] = (m.group(2), m.group(3))
    return out


def test_rlimits(rune, bundle):
    b = bundle()
    b.process["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
        {"type": "RLIMIT_CORE", "soft": 4096, "hard": 8192},
        {"type": "RLIMIT_MSGQUEUE", "soft": 1000, "hard": 2000},
    ]
    cid, pid = detached(rune, b)
    lim = limits(read_text(f"/proc/{pid}/limits"))
    assert lim["Max open files"] == ("512", "1024")
    assert lim["Max core file size"] == ("4096", "8192")
    assert lim["Max msgqueue size"] == ("1000", "2000")


def test_oom_score_adj(rune, bundle):
    b = bundle()
    b.process["oomScoreAdj"] = 500
    cid, pid = detached(rune, b)
    assert read_text(f"/proc/{pid}/oom_score_adj").strip() == "500"
    assert rune.exec(cid, "cat", "/proc/self/oom_score_adj").out == "500\n"


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(rune, bundle, nnp):
    b = bundle()
    b.process["noNewPrivileges"] = nnp
    cid, pid = detached(rune, b)
    assert proc_status(pid)["NoNewPrivs"] == ("1" if nnp else "0")


def caps_of(pid):
    st = proc_status(pid)
    return {k: int(st[f"Cap{k}"], 16) for k in ("Bnd", "Prm", "Eff", "Inh", "Amb")}


def test_capabilities_root(rune, bundle):
    bnd = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SYS_ADMIN",
           "CAP_NET_RAW"]
    prm = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID"]
    inh = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    b = bundle()
    b.process["capabilities"] = {"bounding": bnd, "permitted": prm, "effective": prm[:2],
                                 "inheritable": inh, "ambient": ["CAP_KILL"]}
    cid, pid = detached(rune, b)
    # execve() as root under no_new_privs: permitted cannot grow past what the runtime set,
    # and root's effective set becomes the whole permitted set.
    assert caps_of(pid) == {"Bnd": cap_mask(bnd), "Prm": cap_mask(prm), "Eff": cap_mask(prm),
                            "Inh": cap_mask(inh), "Amb": cap_mask(["CAP_KILL"])}


def test_capabilities_non_root_ambient(rune, bundle):
    bnd = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETGID"]
    amb = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    b = bundle()
    b.process["user"] = {"uid": 1000, "gid": 1000}
    b.process["capabilities"] = {"bounding": bnd, "permitted": bnd, "effective": bnd,
                                 "inheritable": amb, "ambient": amb}
    cid, pid = detached(rune, b)
    # A non-root execve() keeps exactly the ambient set in permitted and effective.
    assert caps_of(pid) == {"Bnd": cap_mask(bnd), "Prm": cap_mask(amb), "Eff": cap_mask(amb),
                            "Inh": cap_mask(amb), "Amb": cap_mask(amb)}


def test_capabilities_empty(rune, bundle):
    b = bundle()
    b.process["capabilities"] = {}
    cid, pid = detached(rune, b)
    assert caps_of(pid) == {"Bnd": 0, "Prm": 0, "Eff": 0, "Inh": 0, "Amb": 0}
    res = rune.exec(cid, "chown", "1000", "/dev/shm")
    assert res.rc != 0 and "Operation not permitted" in res.err, res


def test_capability_effect(rune, bundle):
    """CAP_CHOWN really works when granted (and is the only thing that makes chown work)."""
    b = bundle()
    b.config["root"]["readonly"] = False
    caps = ["CAP_CHOWN"]
    b.process["capabilities"] = {k: caps for k in ("bounding", "permitted", "effective")}
    out = output_of(rune, b, "touch /f; chown 1000:1000 /f && stat -c '%u:%g' /f")
    assert out == "1000:1000\n"


@rune_specific
def test_capability_the_runtime_lacks_is_refused_at_create(rune, bundle):
    """A capability outside the runtime's own bounding set cannot be granted: create says so
    (runc only fails later, in its init)."""
    own = int(proc_status(os.getpid())["CapBnd"], 16)
    last = int(read_text("/proc/sys/kernel/cap_last_cap"))
    missing = [CAPS[i] for i in range(min(last + 1, len(CAPS))) if not own & (1 << i)]
    if not missing:
        pytest.skip("the test runs with every capability: none is missing to ask for")
    b = bundle()
    b.process["capabilities"]["permitted"].append(missing[0])
    cid = rune.new_id()
    res = rune.create(cid, b, check=False)
    assert res.rc == 1, res
    assert f"{missing[0]} is not in rune's own bounding set" in res.err, res
    assert rune.cmd("state", cid).rc == 1


@rune_specific
def test_unknown_capability_is_refused(rune, bundle):
    # The OCI spec: a capability that cannot be mapped to the kernel MUST be an error (runc
    # 1.1.5 only warns and drops it; the OCI validation suite checks for the error).
    b = bundle()
    b.process["capabilities"]["bounding"].append("CAP_NOT_A_CAPABILITY")
    cid = rune.new_id()
    res = rune.create(cid, b, check=False)
    assert res.rc == 1, res
    assert ('config.json: process.capabilities.bounding[3]: unknown capability '
            '"CAP_NOT_A_CAPABILITY"') in res.err, res
    assert rune.cmd("state", cid).rc == 1


# ---------------------------------------------------------------------------------- sysctl


def test_sysctl(rune, bundle):
    b = bundle()
    host_fwd = read_text("/proc/sys/net/ipv4/ip_forward")
    host_shmmax = read_text("/proc/sys/kernel/shmmax")
    b.linux["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"}
    out = output_of(rune, b, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax")
    assert out.split() == ["1", "123456789"]
    assert read_text("/proc/sys/net/ipv4/ip_forward") == host_fwd
    assert read_text("/proc/sys/kernel/shmmax") == host_shmmax


def test_sysctl_outside_container_namespaces_is_refused(rune, bundle):
    b = bundle()
    b.remove_namespace("network")
    b.linux["sysctl"] = {"net.ipv4.ip_forward": "1"}
    res = rune.create(rune.new_id(), b, check=False)
    assert res.rc == 1, res
    assert "net.ipv4.ip_forward" in res.err, res


# ---------------------------------------------------------------------------------- mounts


def container_mounts(text):
    """mountinfo text -> {mount point: (mount options, super options)}."""
    out = {}
    for line in text.splitlines():
        pre, _, post = line.partition(" - ")
        f = pre.split()
        out[f[4]] = (f[5].split(","), post.split()[2].split(","), f[6:])
    return out


def test_tmpfs_mount_options(rune, bundle):
    b = bundle()
    b.config["mounts"].append({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
                               "options": ["size=1m", "mode=1700", "nosuid", "nodev"]})
    out = output_of(rune, b, "cat /proc/self/mountinfo; echo ===; stat -c %a /mnt/t")
    info, mode = out.split("===\n")
    opts, super_opts, _ = container_mounts(info)["/mnt/t"]
    assert "nosuid" in opts and "nodev" in opts
    assert "size=1024k" in super_opts and "mode=1700" in super_opts
    assert mode.strip() == "1700"


def test_bind_mount_read_only(rune, bundle, workdir):
    src = workdir / "ro-src"
    src.mkdir()
    (src / "file").write_text("host data\n")
    b = bundle()
    b.add_mount("/data", src, options=["bind", "ro"])
    res = rune.simple(b, ["sh", "-c", "cat /data/file; echo x > /data/file; echo rc=$?; "
                                      "touch /data/new; echo rc=$?"])
    assert res.rc == 0, res
    assert res.out == "host data\nrc=1\nrc=1\n"
    assert "Read-only file system" in res.err
    assert (src / "file").read_text() == "host data\n" and not (src / "new").exists()


def test_recursive_read_only_bind(rune, bundle, workdir):
    """"rro" makes the mount and every mount under it read-only (mount_setattr); plain "ro"
    on an rbind leaves submounts writable."""
    src = workdir / "rro-src"
    (src / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "rro-sub", str(src / "sub")],
                   check=True)
    try:
        b = bundle()
        b.add_mount("/r", src, options=["rbind", "rro", "rnosuid"])
        b.add_mount("/p", src, options=["rbind", "ro"])
        out = output_of(rune, b, "cat /proc/self/mountinfo")
        mounts = container_mounts(out)
        for point in ("/r", "/r/sub"):
            opts = mounts[point][0]
            assert "ro" in opts and "nosuid" in opts, (point, opts)
        assert "ro" in mounts["/p"][0]
        assert "rw" in mounts["/p/sub"][0]
    finally:
        subprocess.run(["umount", "-l", str(src / "sub")], check=False)


def test_id_mapped_mount_is_refused(rune, bundle, workdir):
    b = bundle()
    b.add_mount("/data", workdir, options=["rbind", "idmap"])
    res = rune.create(rune.new_id(), b, check=False)
    assert res.rc == 1, res
    assert 'mounts[' in res.err and '"idmap": id-mapped mounts are not supported' in res.err


def test_bind_mount_read_write(rune, bundle, workdir):
    src = workdir / "rw-src"
    src.mkdir()
    b = bundle()
    b.add_mount("/data", src, options=["rbind", "rw"])
    output_of(rune, b, "echo from-container > /data/new")
    assert (src / "new").read_text() == "from-container\n"


def test_bind_mount_of_a_file(rune, bundle, workdir):
    src = workdir / "single-file"
    src.write_text("just one file\n")
    b = bundle()
    b.add_mount("/etc/single", src, options=["bind", "ro"])
    assert output_of(rune, b, "cat /etc/single") == "just one file\n"


@pytest.mark.parametrize("kind", ["bind", "rbind"])
def test_bind_vs_rbind(rune, bundle, workdir, mounts, kind):
    src = workdir / "tree"
    (src / "sub").mkdir(parents=True)
    mounts.mount("-t", "tmpfs", "tmpfs", target=src / "sub")
    (src / "sub" / "deep").write_text("submount\n")
    b = bundle()
    b.add_mount("/data", src, options=[kind])
    out = output_of(rune, b, "ls /data/sub")
    assert out.split() == (["deep"] if kind == "rbind" else [])


@pytest.mark.parametrize("propagation,visible", [("rslave", True), ("rprivate", False)])
def test_mount_propagation(rune, bundle, workdir, mounts, propagation, visible):
    src = workdir / "shared"
    src.mkdir()
    mounts.mount("--bind", src, target=src)
    subprocess.run(["mount", "--make-shared", str(src)], check=True)
    b = bundle()
    b.add_mount("/data", src, options=["rbind", propagation])
    cid, pid = detached(rune, b)
    # A mount made on the host after the container started.
    (src / "late").mkdir()
    mounts.mount("-t", "tmpfs", "tmpfs", target=src / "late")
    (src / "late" / "marker").write_text("propagated\n")
    res = rune.exec(cid, "sh", "-c", "cat /data/late/marker 2>/dev/null || echo absent")
    assert res.rc == 0, res
    assert res.out == ("propagated\n" if visible else "absent\n")


def test_masked_paths(rune, bundle):
    b = bundle()
    # Masked: a file (reads empty: /dev/null over it), a directory (an empty read-only tmpfs),
    # and a path that does not exist (ignored). /proc/bus is not masked: the control.
    b.linux["maskedPaths"] = ["/proc/version", "/proc/fs", "/proc/no-such-entry"]
    out = output_of(rune, b, "wc -c < /proc/version; ls -A /proc/fs | wc -l; "
                             "ls -A /proc/bus | wc -l; touch /proc/fs/x 2>/dev/null; echo $?")
    assert out.split()[:2] == ["0", "0"]
    assert int(out.split()[2]) > 0 and out.split()[3] != "0"
    assert read_text("/proc/version") != ""  # the host's copy is untouched


def test_masked_special_files(rune, bundle):
    """Device nodes and fifos are masked like files: /dev/null is bound over them."""
    b = bundle()
    os.mknod(b.rootfs / "masked-chr", 0o666 | stat.S_IFCHR, os.makedev(1, 8))  # random
    os.mkfifo(b.rootfs / "masked-fifo", 0o666)
    b.linux["maskedPaths"] = ["/masked-chr", "/masked-fifo"]
    out = output_of(rune, b, "head -c 16 /masked-chr | wc -c; cat /masked-fifo | wc -c")
    assert out.split() == ["0", "0"], out


@pytest.mark.parametrize("kind", ["relative", "symlink-loop"])
def test_bad_masked_path_is_an_error(rune, bundle, kind):
    b = bundle()
    if kind == "relative":
        b.linux["maskedPaths"] = ["masked-relpath"]
    else:
        os.symlink("../masked-symlink", b.rootfs / "masked-symlink")
        b.linux["maskedPaths"] = ["/masked-symlink"]
    cid = rune.new_id()
    res = rune.create(cid, b, check=False)
    assert res.rc == 1, res
    assert ("must be an absolute path" if kind == "relative" else
            "Too many levels of symbolic links") in res.err, res
    assert rune.cmd("state", cid).rc == 1


def test_readonly_paths(rune, bundle):
    b = bundle()
    b.linux["readonlyPaths"] = ["/proc/sys"]
    res = rune.simple(b, ["sh", "-c", "cat /proc/sys/kernel/ostype; "
                                      "echo renamed > /proc/sys/kernel/hostname; echo rc=$?; "
                                      "grep ' /proc/sys ' /proc/self/mountinfo"])
    assert res.rc == 0, res
    lines = res.out.splitlines()
    assert lines[0] == "Linux" and lines[1] == "rc=1"
    assert "Read-only file system" in res.err
    assert "ro" in lines[2].split()[5].split(",")


@pytest.mark.parametrize("readonly", [True, False])
def test_root_readonly(rune, bundle, readonly):
    b = bundle()
    b.config["root"]["readonly"] = readonly
    res = rune.simple(b, ["sh", "-c", "touch /written; echo rc=$?"])
    assert res.rc == 0, res
    if readonly:
        assert res.out == "rc=1\n" and "Read-only file system" in res.err
        assert not (b.rootfs / "written").exists()
    else:
        assert res.out == "rc=0\n" and (b.rootfs / "written").exists()


# ---------------------------------------------------------------------------------- devices

DEFAULT_DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
                   "urandom": (1, 9), "tty": (5, 0)}
DEFAULT_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
                 "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}
if os.path.exists("/proc/kcore"):  # /dev/core exists only where the kernel has /proc/kcore
    DEFAULT_LINKS["core"] = "/proc/kcore"


def test_default_devices(rune, bundle):
    b = bundle()
    script = "; ".join(f"stat -c '%n %F %t %T %a' /dev/{d}" for d in DEFAULT_DEVICES)
    script += "; " + "; ".join(f"echo /dev/{link} $(readlink /dev/{link})"
                               for link in DEFAULT_LINKS)
    script += "; echo x > /dev/full; echo full-rc=$?; head -c 4 /dev/zero | wc -c"
    res = rune.simple(b, ["sh", "-c", script])
    assert res.rc == 0, res
    lines = res.out.splitlines()
    for line, (name, (major, minor)) in zip(lines, DEFAULT_DEVICES.items()):
        assert line == f"/dev/{name} character special file {major:x} {minor:x} 666", line
    links = dict(line.split() for line in lines[len(DEFAULT_DEVICES):-2])
    assert links == {f"/dev/{k}": v for k, v in DEFAULT_LINKS.items()}
    assert lines[-2:] == ["full-rc=1", "4"]
    assert "No space left on device" in res.err


FUSE = {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666,
        "uid": 1000, "gid": 1001}
OPEN_FUSE = "exec 3<>/dev/fuse && echo opened"


def test_linux_devices_node(rune, bundle):
    b = bundle()
    b.linux["devices"] = [FUSE]
    b.linux["resources"]["devices"].append(
        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"})
    out = output_of(rune, b, "stat -c '%F %t %T %a %u %g' /dev/fuse; " + OPEN_FUSE)
    assert out.splitlines() == ["character special file a e5 666 1000 1001", "opened"]


def test_device_not_allowed_by_cgroup(rune, bundle):
    b = bundle()
    b.linux["devices"] = [FUSE]
    res = rune.simple(b, ["sh", "-c", OPEN_FUSE])
    assert res.rc != 0 and "opened" not in res.out, res
    assert "Operation not permitted" in res.err, res


def test_device_deny_rule_after_allow(rune, bundle):
    b = bundle()
    b.linux["devices"] = [FUSE]
    b.linux["resources"]["devices"] += [
        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
        {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rw"}]
    cid, pid = detached(rune, b)
    res = rune.exec(cid, "sh", "-c", OPEN_FUSE)
    assert res.rc != 0 and "Operation not permitted" in res.err, res
    rules = cgroup_device_rules(pid)
    assert "c 10:229 m" in rules and "c 1:3 rwm" in rules, rules


@rune_specific
def test_device_rules_in_the_listed_order(rune, bundle):
    """The spec: the runtime MUST apply device rules in the listed order; devices.list shows
    the config's allow rules first, in order, then the default ones (runc sorts them)."""
    b = bundle()
    b.linux["resources"]["devices"] += [
        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
        {"allow": True, "type": "b", "major": 8, "minor": 20, "access": "rw"},
        {"allow": True, "type": "b", "major": 10, "minor": 200, "access": "r"}]
    cid, pid = detached(rune, b)
    rules = cgroup_device_rules(pid)
    assert rules[:3] == ["c 10:229 rwm", "b 8:20 rw", "b 10:200 r"], rules
    assert "c 1:3 rwm" in rules[3:], rules


# ---------------------------------------------------------------------------------- cgroups


def test_cgroup_resources(rune, bundle):
    b = bundle()
    b.linux["resources"].update({
        "memory": {"limit": 32 * 1024 * 1024, "reservation": 16 * 1024 * 1024},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 64},
    })
    cid, pid = detached(rune, b)
    assert proc_status(pid)["Cpus_allowed_list"] == "0"
    assert cgroup_limit(pid, "memory") == str(32 * 1024 * 1024)
    assert cgroup_limit(pid, "memory.reservation") == str(16 * 1024 * 1024)
    assert cgroup_limit(pid, "cpu.shares") == cgroup_shares(512)
    assert cgroup_limit(pid, "cpu.quota") == "50000"
    assert cgroup_limit(pid, "cpu.period") == "100000"
    assert cgroup_limit(pid, "cpuset.cpus") == "0"
    assert cgroup_limit(pid, "cpuset.mems") == "0"
    assert cgroup_limit(pid, "pids") == "64"


@pytest.mark.parametrize("swap_factor", [1, 2], ids=["no-swap", "swap"])
def test_cgroup_memory_swap(rune, bundle, swap_factor):
    """memory.swap is memory+swap: equal to the limit means no swap at all (v1 memsw = limit,
    cgroup2 memory.swap.max 0), twice the limit as much swap as memory."""
    limit = 32 * 1024 * 1024
    if not cgroup_swap_accounting():
        pytest.skip("this kernel does not limit swap per cgroup (no memory.memsw.* / "
                    "memory.swap.* files), or no cgroup here shows whether it does")
    b = bundle()
    b.linux["resources"]["memory"] = {"limit": limit, "swap": limit * swap_factor}
    cid, pid = detached(rune, b)
    assert cgroup_limit(pid, "memory") == str(limit)
    assert cgroup_limit(pid, "memory.swap") == str(limit * swap_factor)


def test_default_cgroup_path_is_named_after_the_container(rune, bundle):
    cid, pid = detached(rune, bundle())
    for controller in ("memory", "pids", "cpu", "devices", "freezer"):
        path = cgroup_path(pid, controller)
        assert path.endswith("/" + cid), (controller, path)


def test_cgroups_path(rune, bundle):
    b = bundle()
    cid = rune.new_id()
    b.linux["cgroupsPath"] = f"/{cid}-custom"
    rune.run_detached(cid, b)
    pid = rune.pid(cid)
    assert cgroup_path(pid, "pids") == f"/{cid}-custom"
    assert cgroup_path(pid, "memory") == f"/{cid}-custom"
    rune.delete(cid, force=True)
    wait_until(lambda: find_cgroup_dirs(f"{cid}-custom") == [], what="cgroup removal")


def test_memory_limit_is_enforced(rune, bundle):
    b = bundle()
    b.linux["resources"]["memory"] = {"limit": 16 * 1024 * 1024, "swap": 16 * 1024 * 1024}
    b.config["mounts"].append({"destination": "/big", "type": "tmpfs", "source": "tmpfs",
                               "options": ["size=64m"]})
    # Filling a tmpfs charges the container's memory cgroup: 32 MiB cannot fit in 16 MiB.
    res = rune.simple(b, ["sh", "-c", "head -c 33554432 /dev/zero > /big/fill; echo rc=$?"])
    assert res.out != "rc=0\n", res


# ---------------------------------------------------------------------------------- seccomp


def seccomp(default="SCMP_ACT_ALLOW", syscalls=(), **extra):
    return {"defaultAction": default, "architectures": X86, "syscalls": list(syscalls), **extra}


def writable_tmp(b):
    b.config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                               "options": ["size=1m"]})


def test_seccomp_errno_default_ret(rune, bundle):
    b = bundle()
    writable_tmp(b)
    b.linux["seccomp"] = seccomp(syscalls=[{"names": ["mkdir", "mkdirat"],
                                            "action": "SCMP_ACT_ERRNO"}])
    res = rune.simple(b, ["sh", "-c", "mkdir /tmp/d; echo rc=$?; touch /tmp/f && echo touched"])
    assert res.out == "rc=1\ntouched\n", res
    assert "Operation not permitted" in res.err


def test_seccomp_errno_ret(rune, bundle):
    b = bundle()
    writable_tmp(b)
    b.linux["seccomp"] = seccomp(syscalls=[{"names": ["mkdir", "mkdirat"],
                                            "action": "SCMP_ACT_ERRNO", "errnoRet": 13}])
    res = rune.simple(b, ["sh", "-c", "mkdir /tmp/d; echo rc=$?"])
    assert res.out == "rc=1\n", res
    assert "Permission denied" in res.err


def test_seccomp_kill(rune, bundle):
    b = bundle()
    writable_tmp(b)
    b.linux["seccomp"] = seccomp(syscalls=[{"names": ["mkdir", "mkdirat"],
                                            "action": "SCMP_ACT_KILL"}])
    res = rune.simple(b, ["sh", "-c", "mkdir /tmp/d; echo rc=$?"])
    assert res.out == f"rc={128 + 31}\n", res  # SIGSYS


def test_seccomp_argument_filter(rune, bundle):
    b = bundle()
    writable_tmp(b)
    b.linux["seccomp"] = seccomp(syscalls=[
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]},
        {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 2, "value": 0o700, "op": "SCMP_CMP_EQ"}]}])
    res = rune.simple(b, ["sh", "-c", "touch /tmp/f; chmod 700 /tmp/f; echo rc=$?; "
                                      "chmod 755 /tmp/f; echo rc=$?; stat -c %a /tmp/f"])
    assert res.out == "rc=1\nrc=0\n755\n", res


SECCOMP_ALLOW = """
read write open openat openat2 close stat fstat lstat newfstatat statx poll ppoll lseek mmap
mprotect munmap brk rt_sigaction rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv writev
access faccessat faccessat2 pipe pipe2 select pselect6 sched_yield mremap madvise dup dup2 dup3
nanosleep clock_nanosleep getpid getppid getuid geteuid getgid getegid gettid getgroups clone
clone3 fork vfork execve execveat exit exit_group wait4 waitid kill tgkill tkill uname fcntl
getdents getdents64 getcwd chdir fchdir rename renameat renameat2 unlink unlinkat readlink
readlinkat umask gettimeofday clock_gettime clock_getres time getrlimit prlimit64 setrlimit
sysinfo arch_prctl set_tid_address set_robust_list rseq futex sigaltstack getrandom prctl
capget capset setuid setgid setgroups setresuid setresgid getresuid getresgid sendfile fstatfs
statfs close_range membarrier sched_getaffinity sched_setaffinity getpgrp setpgid getpgid setsid
getsid epoll_create1 epoll_ctl epoll_wait epoll_pwait eventfd2 socket connect sendto recvfrom
sendmsg recvmsg shutdown bind listen getsockname getpeername socketpair setsockopt getsockopt
fchown fchownat chown lchown fchmod fchmodat chmod truncate ftruncate fsync fdatasync utimensat
flock times restart_syscall alarm pause getitimer setitimer signalfd4 timerfd_create
timerfd_settime timerfd_gettime
""".split()


def test_seccomp_default_errno_with_allow_list(rune, bundle):
    b = bundle()
    writable_tmp(b)
    b.linux["seccomp"] = seccomp(default="SCMP_ACT_ERRNO", syscalls=[
        {"names": SECCOMP_ALLOW, "action": "SCMP_ACT_ALLOW"}])
    res = rune.simple(b, ["sh", "-c", "echo alive; mkdir /tmp/d; echo rc=$?"])
    assert res.out == "alive\nrc=1\n", res
    assert "Operation not permitted" in res.err


def test_seccomp_profile_older_than_the_kernel(rune, bundle):
    """A profile written before clone3/close_range/openat2/faccessat2 existed: those get
    ENOSYS (libc then falls back to the older calls) instead of the default EPERM, which
    would break the runtime's own exec and the payload's libc."""
    newer = {"clone3", "close_range", "openat2", "faccessat2"}
    b = bundle()
    writable_tmp(b)
    b.linux["seccomp"] = seccomp(default="SCMP_ACT_ERRNO", syscalls=[
        {"names": [s for s in SECCOMP_ALLOW if s not in newer], "action": "SCMP_ACT_ALLOW"}])
    res = rune.simple(b, ["sh", "-c", "echo alive; mkdir /tmp/d; echo rc=$?"])
    assert res.out == "alive\nrc=1\n", res
    assert "Operation not permitted" in res.err


def test_seccomp_status(rune, bundle):
    b = bundle()
    b.linux["seccomp"] = seccomp(syscalls=[{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}])
    cid, pid = detached(rune, b)
    st = proc_status(pid)
    assert st["Seccomp"] == "2" and int(st["Seccomp_filters"]) >= 1


def test_seccomp_unknown_syscall_name_is_ignored(rune, bundle):
    b = bundle()
    writable_tmp(b)
    b.linux["seccomp"] = seccomp(syscalls=[{"names": ["mkdir", "not_a_real_syscall"],
                                            "action": "SCMP_ACT_ERRNO"}])
    res = rune.simple(b, ["sh", "-c", "mkdir /tmp/d; echo rc=$?"])
    assert res.out == "rc=1\n", res


# ---------------------------------------------------------------------------------- hooks

HOOK = """#!/bin/sh
# Record the hook kind and the state JSON received on stdin.
echo "$1" >> "$2/order"
cat > "$2/$1.json"
"""
HOST_HOOKS = ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]


def hooked_bundle(bundle, workdir):
    log = workdir / "hooklog"
    log.mkdir()
    script = workdir / "hook.sh"
    script.write_text(HOOK)
    script.chmod(0o755)
    b = bundle(["sh", "-c", "cat /hooklog/order"])
    b.add_mount("/hooklog", log)
    b.config["hooks"] = {k: [{"path": str(script), "args": ["hook.sh", k, str(log)]}]
                         for k in HOST_HOOKS}
    # startContainer runs inside the container: its path resolves in the container's rootfs.
    b.config["hooks"]["startContainer"] = [{
        "path": "/bin/sh",
        "args": ["sh", "-c", "echo startContainer >> /hooklog/order; "
                             "cat > /hooklog/startContainer.json"]}]
    return b, log


def test_hooks_all_six(rune, bundle, workdir):
    b, log = hooked_bundle(bundle, workdir)
    b.config["annotations"] = {"it.hook": "yes"}
    cid = rune.new_id()
    rune.create(cid, b)
    pid = rune.pid(cid)
    order = read_text(log / "order").split()
    # runc 1.1.5 already runs poststart during create (fixed in runc 1.2).
    assert order in (["prestart", "createRuntime", "createContainer"],
                     ["prestart", "createRuntime", "createContainer", "poststart"]), order
    rune.start(cid)
    rune.wait_status(cid, "stopped")
    rune.ok("delete", cid)
    order = read_text(log / "order").split()
    # poststart and startContainer run concurrently (host vs. container); poststop is last.
    assert order[:3] == ["prestart", "createRuntime", "createContainer"]
    assert sorted(order[3:5]) == ["poststart", "startContainer"] and order[5:] == ["poststop"]

    states = {k: json.loads(read_text(log / f"{k}.json")) for k in order}
    for kind, st in states.items():
        assert st["id"] == cid and st["bundle"] == str(b.path), kind
        assert st["ociVersion"] == b.config["ociVersion"], kind
        assert st["annotations"] == {"it.hook": "yes"}, kind
    for kind in ("prestart", "createRuntime"):
        # The OCI validation suite wants "created" for prestart; runc 1.1 says "creating".
        assert states[kind]["status"] in ("creating", "created") and \
            states[kind]["pid"] == pid, kind
    assert states["prestart"]["status"] == "created" or runtime_name() == "runc"
    assert states["createContainer"]["status"] == "creating"
    assert states["startContainer"]["status"] == "created"
    # runc reports the container-side hooks' pid as seen inside the container (1).
    for kind in ("createContainer", "startContainer"):
        assert states[kind]["pid"] in (1, pid), kind
    assert states["poststart"]["pid"] == pid
    assert states["poststart"]["status"] in ("created", "running")
    assert states["poststop"]["status"] == "stopped"


def test_hooks_order_with_run(rune, bundle, workdir):
    b, log = hooked_bundle(bundle, workdir)
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    # The payload printed the order file as it saw it: startContainer ran before it.
    seen = res.out.split()
    assert seen[:3] == ["prestart", "createRuntime", "createContainer"]
    assert "startContainer" in seen
    assert read_text(log / "order").split()[-1] == "poststop"


def test_hook_env_and_args(rune, bundle, workdir):
    out = workdir / "hook-env"
    b = bundle(["true"])
    b.config["hooks"] = {"prestart": [{
        "path": "/bin/sh", "args": ["sh", "-c", f'echo "$0 $HOOK_VAR" > {out}', "arg0"],
        "env": ["HOOK_VAR=from-config"]}]}
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    assert read_text(out) == "arg0 from-config\n"


def test_failing_hook_fails_create(rune, bundle, workdir):
    b = bundle()
    b.config["hooks"] = {"createRuntime": [{"path": "/bin/sh",
                                            "args": ["sh", "-c", "echo hook-says-no >&2; exit 3"]}]}
    cid = rune.new_id()
    res = rune.create(cid, b, check=False)
    assert res.rc == 1, res
    assert "hook-says-no" in res.err or "exit status 3" in res.err, res
    assert rune.cmd("state", cid).rc == 1
    assert find_cgroup_dirs(cid) == []


def test_hook_timeout(rune, bundle, workdir):
    b = bundle()
    b.config["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", "600"],
                                       "timeout": 1}]}
    cid = rune.new_id()
    t0 = time.monotonic()
    res = rune.create(cid, b, check=False, timeout=120)
    elapsed = time.monotonic() - t0
    assert res.rc == 1, res
    assert "timeout" in res.err, res
    assert elapsed < 60, elapsed


def test_hook_that_ignores_stdin(rune, bundle, workdir):
    """A hook that never reads its stdin must not break the runtime, even when the state is
    larger than a pipe buffer (big annotation)."""
    marker = workdir / "ran"
    b = bundle(["true"])
    b.config["annotations"] = {"big": "x" * 300000}
    b.config["hooks"] = {k: [{"path": "/bin/sh", "args": ["sh", "-c", f"echo {k} >> {marker}"]}]
                         for k in ("prestart", "poststart", "poststop")}
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    assert read_text(marker).split() == ["prestart", "poststart", "poststop"]


def test_poststop_failure_does_not_fail_delete(rune, bundle, workdir):
    b = bundle(["true"])
    b.config["hooks"] = {"poststop": [{"path": "/bin/false", "args": ["false"]}]}
    cid = rune.new_id()
    rune.create(cid, b)
    rune.start(cid)
    rune.wait_status(cid, "stopped")
    res = rune.delete(cid)
    assert res.rc == 0, res
    assert not (rune.root / cid).exists()


# ---------------------------------------------------------------------------------- terminal


class ConsoleSocket:
    """Receives the pty master a runtime sends over --console-socket and reads it until the
    container's side is closed."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.settimeout(60)
        self.master = None
        self.name = None
        self.data = b""
        self.error = None
        self.got_fd = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                fds = array.array("i")
                msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
                self.name = msg
                self.master = fds[0]
            self.got_fd.set()
            while True:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: every slave fd is closed
                    break
                if not chunk:
                    break
                self.data += chunk
        except Exception as e:  # reported by the test
            self.error = e
            self.got_fd.set()

    def write(self, data):
        os.write(self.master, data)

    def finish(self, timeout=60):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "console never reached EOF"
        if self.master is not None:
            os.close(self.master)
        self.sock.close()
        if self.error:
            raise self.error
        return self.data.decode(errors="replace")


def test_console_socket(rune, bundle, workdir):
    b = bundle(["sh", "-c", "tty; read line; echo got:$line; stty size"])
    b.process["terminal"] = True
    b.process["consoleSize"] = {"height": 40, "width": 100}
    console = ConsoleSocket(workdir / "console.sock")
    cid = rune.new_id()
    rune.create(cid, b, "--console-socket", console.path)
    assert console.got_fd.wait(30) and console.error is None, console.error
    assert stat.S_ISCHR(os.fstat(console.master).st_mode)
    rune.start(cid)
    console.write(b"typed\n")
    rune.wait_status(cid, "stopped")
    out = console.finish()
    assert "/dev/pts/0\r\n" in out, out
    assert "got:typed\r\n" in out, out
    assert "40 100" in out, out


def test_terminal_create_without_console_socket(rune, bundle):
    b = bundle(["true"])
    b.process["terminal"] = True
    cid = rune.new_id()
    res = rune.create(cid, b, check=False)
    assert res.rc == 1, res
    assert "cannot allocate tty if runc will detach without setting console socket" \
        .replace("runc", rune.name) in res.err, res
    assert rune.cmd("state", cid).rc == 1


def test_terminal_run_without_controlling_tty(rune, bundle):
    # Foreground run with terminal:true uses the caller's terminal; the runtime runs in a new
    # session here, so there is none.
    b = bundle(["true"])
    b.process["terminal"] = True
    cid = rune.new_id()
    res = rune.run(cid, b)
    assert res.rc == 1, res
    assert "/dev/tty" in res.err, res
    assert rune.cmd("state", cid).rc == 1


def test_console_socket_without_terminal_is_refused(rune, bundle, workdir):
    b = bundle(["true"])
    res = rune.create(rune.new_id(), b, "--console-socket", workdir / "nobody.sock", check=False)
    assert res.rc == 1, res
    assert "--console-socket" in res.err or "console" in res.err, res


def test_zero_block_io_weight_is_unset(rune, bundle):
    """Docker writes blockIO.weight 0 (and leafWeight 0) into every config: like runc, rune
    treats 0 as unset, so the container runs on hosts without a weight file too."""
    b = bundle(["true"])
    b.linux.setdefault("resources", {})["blockIO"] = {"weight": 0, "leafWeight": 0}
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
