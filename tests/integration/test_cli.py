"""Command line surface: help, version, usage errors, `spec`, `features`."""

import json
import os
import re

import pytest

from conftest import runtime_name

COMMANDS = ["create", "delete", "events", "exec", "kill", "list", "pause", "ps", "resume",
            "run", "spec", "start", "state", "update", "features"]


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_exits_zero(rune, command):
    res = rune.cmd(command, "--help")
    assert res.rc == 0, res
    # urfave/cli style help: the command's own name and a USAGE section.
    assert "USAGE:" in res.out, res
    assert f"{runtime_name()} {command}" in res.out, res


def test_global_help_lists_commands_and_default_root(rune):
    res = rune.cmd("--help", root=False)
    assert res.rc == 0, res
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\b", res.out, re.M), f"{command} missing: {res}"
    assert f'(default: "/run/{runtime_name()}")' in res.out, res
    for flag in ("--debug", "--log value", "--log-format value", "--root value",
                 "--systemd-cgroup", "--rootless value"):
        assert flag in res.out, f"{flag} missing: {res}"


@pytest.mark.parametrize("flag", ["--version", "-v"])
def test_version(rune, flag):
    res = rune.cmd(flag, root=False)
    assert res.rc == 0, res
    lines = res.out.splitlines()
    assert lines[0].startswith(f"{runtime_name()} version "), res
    assert re.search(r"^spec: 1\.\d+\.\d+", res.out, re.M), res


def test_unknown_command(rune):
    res = rune.cmd("frobnicate")
    assert res.rc == 3, res  # urfave/cli's status for an unknown command
    assert "No help topic for 'frobnicate'" in res.err, res


def test_unknown_global_flag(rune):
    res = rune.cmd("--frobnicate", "list")
    assert res.rc == 1, res
    assert "flag provided but not defined: -frobnicate" in res.output, res


def test_unknown_command_flag(rune):
    res = rune.cmd("list", "--frobnicate")
    assert res.rc == 1, res
    assert "flag provided but not defined: -frobnicate" in res.output, res


EXACTLY_ONE = ["start", "state", "delete", "pause", "resume", "events", "update"]
AT_LEAST_ONE = ["kill", "ps", "exec"]


@pytest.mark.parametrize("command", EXACTLY_ONE + AT_LEAST_ONE)
def test_missing_container_id_is_a_usage_error(rune, command):
    res = rune.cmd(command)
    assert res.rc == 1, res
    assert "Incorrect Usage." in res.out, res
    quantity = "exactly" if command in EXACTLY_ONE else "a minimum of"
    # runc's text log escapes the quotes: msg="runc: \"start\" requires exactly 1 argument(s)"
    assert re.search(rf'{command}\\?" requires {quantity} 1 argument\(s\)', res.err), res


def test_spec_writes_default_config(rune, workdir):
    res = rune.cmd("spec", cwd=workdir)
    assert res.rc == 0, res
    config = json.loads((workdir / "config.json").read_text())
    assert config["ociVersion"].startswith("1.")
    assert config["root"] == {"path": "rootfs", "readonly": True}
    assert config["hostname"] == runtime_name()
    assert config["process"]["terminal"] is True
    assert config["process"]["args"] == ["sh"]
    assert config["process"]["cwd"] == "/"
    assert config["process"]["noNewPrivileges"] is True
    default_caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    for kind in ("bounding", "effective", "permitted", "ambient"):
        assert sorted(config["process"]["capabilities"][kind]) == default_caps, kind
    namespaces = sorted(n["type"] for n in config["linux"]["namespaces"])
    assert namespaces == ["ipc", "mount", "network", "pid", "uts"]
    destinations = [m["destination"] for m in config["mounts"]]
    for d in ("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"):
        assert d in destinations
    assert "/proc/kcore" in config["linux"]["maskedPaths"]
    assert "/proc/sys" in config["linux"]["readonlyPaths"]
    assert config["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}]


def test_spec_refuses_to_overwrite(rune, workdir):
    (workdir / "config.json").write_text("precious")
    res = rune.cmd("spec", cwd=workdir)
    assert res.rc == 1, res
    assert "File config.json exists. Remove it first" in res.err, res
    assert (workdir / "config.json").read_text() == "precious"


def test_spec_bundle_flag(rune, workdir):
    target = workdir / "elsewhere"
    target.mkdir()
    res = rune.cmd("spec", "--bundle", target, cwd=workdir)
    assert res.rc == 0, res
    assert (target / "config.json").is_file()
    assert not (workdir / "config.json").exists()
    json.loads((target / "config.json").read_text())


def test_spec_rootless(rune, workdir):
    res = rune.cmd("spec", "--rootless", cwd=workdir)
    assert res.rc == 0, res
    config = json.loads((workdir / "config.json").read_text())
    namespaces = [n["type"] for n in config["linux"]["namespaces"]]
    assert "user" in namespaces and "network" not in namespaces
    assert config["linux"]["uidMappings"] == [
        {"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert config["linux"]["gidMappings"] == [
        {"containerID": 0, "hostID": os.getegid(), "size": 1}]
    assert "resources" not in config["linux"]
    sys_mount = [m for m in config["mounts"] if m["destination"] == "/sys"][0]
    assert sys_mount["type"] == "none" and "rbind" in sys_mount["options"]


def test_features_json(rune):
    res = rune.cmd("features")
    assert res.rc == 0, res
    feats = res.json()
    assert res.out == json.dumps(feats, indent=4, ensure_ascii=False) + "\n"
    assert feats["ociVersionMin"] == "1.0.0"
    assert re.match(r"1\.\d+\.\d+", feats["ociVersionMax"])
    assert feats["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer",
                              "poststart", "poststop"]
    for opt in ("bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "rprivate", "rshared",
                "rslave", "tmpcopyup"):
        assert opt in feats["mountOptions"], opt
    linux = feats["linux"]
    # runc 1.1 lists these seven; a newer runtime may add "time".
    assert set(linux["namespaces"]) - {"time"} == {"cgroup", "ipc", "mount", "network", "pid",
                                                  "user", "uts"}
    assert "CAP_SYS_ADMIN" in linux["capabilities"] and "CAP_CHOWN" in linux["capabilities"]
    assert linux["cgroup"]["v1"] is True and linux["cgroup"]["v2"] is True
    assert linux["seccomp"]["enabled"] is True
    for action in ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_NOTIFY"):
        assert action in linux["seccomp"]["actions"], action
    assert "SCMP_CMP_MASKED_EQ" in linux["seccomp"]["operators"]
    assert "SCMP_ARCH_X86_64" in linux["seccomp"]["archs"]


def test_log_file_and_json_format(rune, workdir):
    log = workdir / "rt.log"
    res = rune.cmd("state", "does-not-exist", global_args=["--log", log, "--log-format", "json"])
    assert res.rc == 1, res
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert any(entry.get("level") == "error" and "container does not exist" in entry.get("msg", "")
               for entry in lines), lines


@pytest.mark.skipif(runtime_name() != "rune", reason="rune's own flags")
def test_systemd_cgroup_is_refused_with_the_reason(rune, bundle):
    b = bundle(["true"])
    cid = rune.new_id()
    res = rune.run(cid, b, global_args=["--systemd-cgroup"])
    assert res.rc == 1, res
    assert res.err.startswith("rune: --systemd-cgroup: rune has no systemd cgroup driver, it "
                              "manages cgroups through cgroupfs only"), res
    assert res.err.count("\n") == 1, res
    assert rune.cmd("state", cid).rc == 1


@pytest.mark.skipif(runtime_name() != "rune", reason="rune's own flags")
def test_rootless_value_is_checked(rune):
    res = rune.cmd("--rootless", "maybe", "list")
    assert (res.rc, res.err) == (1, 'rune: invalid --rootless value "maybe": use true, false '
                                    'or auto\n'), res
    assert rune.cmd("--rootless", "auto", "list").rc == 0
