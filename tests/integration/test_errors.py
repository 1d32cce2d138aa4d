"""Bad input and failures in the middle of `create`: exit status 1, a message, and nothing
left behind -- no state directory, cgroup, mount or process."""

import json

import pytest

from conftest import find_cgroup_dirs, is_rune, mount_points, tagged_pids


def assert_nothing_left(rune, cid, mounts_before):
    assert not (rune.root / cid).exists(), "state directory left behind"
    assert rune.cmd("state", cid).rc == 1, "container still known"
    assert find_cgroup_dirs(cid) == [], "cgroup left behind"
    assert mount_points() == mounts_before, "mount table changed"
    assert tagged_pids(rune.tag) == [], "process left behind"


def edit(path, value):
    """A config editor that sets the dotted path to value (None deletes it)."""
    def apply(config):
        *parents, last = path.split(".")
        node = config
        for p in parents:
            node = node[p]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return apply


def unknown_namespace(config):
    config["linux"]["namespaces"].append({"type": "foo"})


# (id, config editor, substrings rune's message must contain)
BAD_CONFIGS = [
    ("args-not-a-list", edit("process.args", "sh"), ["process.args"]),
    ("args-missing", edit("process.args", None), ["args"]),
    ("args-empty", edit("process.args", []), ["args"]),
    ("cwd-relative", edit("process.cwd", "tmp"), ["cwd", "absolute"]),
    ("uid-not-a-number", edit("process.user.uid", "root"), ["process.user.uid"]),
    ("unknown-namespace", unknown_namespace, ["linux.namespaces", '"foo"']),
    ("rootfs-missing", edit("root.path", "no-such-rootfs"), ["no-such-rootfs"]),
    ("namespaces-not-a-list", edit("linux.namespaces", {"type": "pid"}), ["linux.namespaces"]),
    ("rlimit-unknown", edit("process.rlimits", [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]),
     ["RLIMIT_FOO"]),
    ("seccomp-bad-action", edit("linux.seccomp", {"defaultAction": "SCMP_ACT_BOGUS"}),
     ["SCMP_ACT_BOGUS"]),
    ("device-bad-type", edit("linux.devices", [{"path": "/dev/x", "type": "q", "major": 1,
                                                "minor": 1}]), ["/dev/x"]),
]


@pytest.mark.parametrize("name,mutate,words", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_is_refused(rune, bundle, name, mutate, words):
    b = bundle()
    mutate(b.config)
    cid = rune.new_id()
    before = mount_points()
    res = rune.create(cid, b, check=False)
    assert res.rc == 1, res
    assert res.err.strip(), "no error message"
    if is_rune():
        for w in words:
            assert w in res.err, (w, res)
    assert_nothing_left(rune, cid, before)


def test_config_not_json(rune, bundle):
    b = bundle()
    cid = rune.new_id()
    before = mount_points()
    (b.path / "config.json").write_text('{"ociVersion": "1.0.2", "process": {')
    res = rune.cmd("create", "--bundle", b.path, cid)
    assert res.rc == 1, res
    if is_rune():
        assert "config.json" in res.err, res
    assert_nothing_left(rune, cid, before)


def test_config_missing(rune, bundle):
    b = bundle()
    (b.path / "config.json").unlink()
    cid = rune.new_id()
    res = rune.cmd("create", "--bundle", b.path, cid)
    assert res.rc == 1, res
    assert "config.json" in res.err, res
    assert not (rune.root / cid).exists()


def test_bundle_missing(rune, workdir):
    cid = rune.new_id()
    res = rune.cmd("create", "--bundle", workdir / "nowhere", cid)
    assert res.rc == 1, res
    assert not (rune.root / cid).exists()


def test_unknown_namespace_message_names_the_field(rune, bundle):
    b = bundle()
    unknown_namespace(b.config)
    res = rune.create(rune.new_id(), b, check=False)
    assert res.rc == 1, res
    if is_rune():
        idx = len(b.config["linux"]["namespaces"]) - 1
        assert f'linux.namespaces[{idx}].type: unknown namespace "foo"' in res.err, res


# Failures that happen after the runtime has started building the container.
def hook_fails(b, workdir):
    b.config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]}]}


def prestart_hook_fails(b, workdir):
    b.config["hooks"] = {"prestart": [{"path": "/bin/false", "args": ["false"]}]}


def create_container_hook_fails(b, workdir):
    b.config["hooks"] = {"createContainer": [{"path": "/bin/false", "args": ["false"]}]}


def bind_source_missing(b, workdir):
    b.add_mount("/data", workdir / "no-such-source", options=["rbind", "ro"])


def bad_sysctl(b, workdir):
    b.linux["sysctl"] = {"kernel.no_such_sysctl_anywhere": "1"}


def bad_cpuset(b, workdir):
    b.linux["resources"]["cpu"] = {"cpus": "1023"}


def missing_executable(b, workdir):
    b.process["args"] = ["/bin/no-such-program"]


def bad_mount_type(b, workdir):
    b.config["mounts"].append({"destination": "/x", "type": "nosuchfs", "source": "none"})


def bad_namespace_path(b, workdir):
    (workdir / "not-a-ns").touch()
    b.set_namespace("network", workdir / "not-a-ns")


MID_CREATE = [hook_fails, prestart_hook_fails, create_container_hook_fails, bind_source_missing,
              bad_sysctl, bad_cpuset, missing_executable, bad_mount_type, bad_namespace_path]


@pytest.mark.parametrize("breakage", MID_CREATE, ids=[f.__name__ for f in MID_CREATE])
@pytest.mark.parametrize("command", ["create", "run"])
def test_failure_during_create_leaves_nothing(rune, bundle, workdir, breakage, command):
    b = bundle()
    breakage(b, workdir)
    cid = rune.new_id()
    before = mount_points()
    if command == "create":
        res = rune.create(cid, b, check=False)
    else:
        res = rune.run(cid, b)
    assert res.rc == 1, res
    assert res.err.strip(), "no error message"
    assert_nothing_left(rune, cid, before)


def test_failed_create_then_same_id_works(rune, bundle, workdir):
    b = bundle()
    hook_fails(b, workdir)
    cid = rune.new_id()
    assert rune.create(cid, b, check=False).rc == 1
    good = bundle()
    rune.create(cid, good)
    assert rune.state(cid)["status"] == "created"


def test_config_is_read_once_at_create(rune, bundle):
    """Editing config.json after create changes nothing for the created container."""
    b = bundle(["sh", "-c", "echo original"])
    cid = rune.new_id()
    rune.create(cid, b, stdout=rune.workdir / "out.txt")
    b.config["process"]["args"] = ["sh", "-c", "echo changed"]
    b.save()
    rune.start(cid)
    rune.wait_status(cid, "stopped")
    assert (rune.workdir / "out.txt").read_text() == "original\n"
    assert json.loads((b.path / "config.json").read_text())["process"]["args"][-1] == \
        "echo changed"
