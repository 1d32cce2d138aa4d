"""A small Kubernetes CRI v1 client: runtime.v1.RuntimeService and runtime.v1.ImageService over
gRPC (grpcio, Debian's python3-grpcio) on a unix socket, with a minimal protobuf encoder/decoder
of our own (no protoc, no generated code).

Messages are described by schemas: Message("Name", field=(number, type), ...), where a type is a
scalar name ("string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "enum"), another
Message, repeated(type) or map_of(key_type, value_type). Field numbers and types are those of
k8s.io/cri-api pkg/apis/runtime/v1/api.proto; only the messages and fields the tests use are
described. A decoded message is a dict holding every field of its schema (proto3 defaults for the
ones not on the wire: 0, "", b"", False, None for messages, [] and {}); fields the schema does not
know are skipped by wire type (varint, fixed64, length-delimited, fixed32), as a protobuf decoder
must. Encoding omits proto3 defaults and refuses field names the schema does not know.
"""

import struct

try:
    import grpc  # Debian: python3-grpcio
except ImportError:  # the codec works without it; CRIClient does not
    grpc = None

# --------------------------------------------------------------------------------------------
# Wire format

WT_VARINT, WT_FIXED64, WT_LEN, WT_START_GROUP, WT_END_GROUP, WT_FIXED32 = 0, 1, 2, 3, 4, 5
_U64 = (1 << 64) - 1


class ProtoError(ValueError):
    """Malformed protobuf input (truncated, bad wire type, overlong varint)."""


def encode_varint(value):
    """Base-128 varint of value; negative numbers as 64-bit two's complement (10 bytes)."""
    value &= _U64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data, pos):
    """(value, new position) of the varint at data[pos:]; at most 10 bytes."""
    value = shift = 0
    for i in range(10):
        if pos + i >= len(data):
            raise ProtoError(f"truncated varint at offset {pos}")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value & _U64, pos + i + 1
        shift += 7
    raise ProtoError(f"varint longer than 10 bytes at offset {pos}")


def _key(number, wire_type):
    return encode_varint((number << 3) | wire_type)


def iter_fields(data):
    """Yield (field number, wire type, value) for each field of a serialized message: an int
    for varints, bytes for length-delimited, fixed64 and fixed32 fields (raw little-endian)."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = decode_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ProtoError(f"field number 0 at offset {pos}")
        if wire_type == WT_VARINT:
            value, pos = decode_varint(data, pos)
        elif wire_type in (WT_FIXED64, WT_FIXED32):
            size = 8 if wire_type == WT_FIXED64 else 4
            if pos + size > end:
                raise ProtoError(f"truncated fixed{size * 8} field {number}")
            value, pos = bytes(data[pos:pos + size]), pos + size
        elif wire_type == WT_LEN:
            size, pos = decode_varint(data, pos)
            if size > end - pos:
                raise ProtoError(f"length-delimited field {number} runs past the end "
                                 f"({size} bytes at offset {pos}, {end - pos} left)")
            value, pos = bytes(data[pos:pos + size]), pos + size
        else:
            # Groups (3, 4) are proto2-only and never appear in the CRI API; 6 and 7 do not exist.
            raise ProtoError(f"unsupported wire type {wire_type} for field {number}")
        yield number, wire_type, value


# --------------------------------------------------------------------------------------------
# Schemas

_VARINT_TYPES = ("bool", "int32", "int64", "uint32", "uint64", "enum")
_SCALARS = _VARINT_TYPES + ("string", "bytes")


class repeated:
    def __init__(self, item):
        self.item = item


class map_of:
    def __init__(self, key, value):
        self.key, self.value = key, value
        self.entry = Message("MapEntry", key=(1, key), value=(2, value))


class Message:
    def __init__(self, name, /, **fields):  # positional-only: "name" is also a field name
        self.name = name
        self.fields = {}
        self.by_number = {}
        for fname, (number, ftype) in fields.items():
            item = ftype.item if isinstance(ftype, repeated) else ftype
            if isinstance(item, str) and item not in _SCALARS:
                raise TypeError(f"{name}.{fname}: unknown type {item!r}")
            self.fields[fname] = (number, ftype)
            self.by_number[number] = (fname, ftype)

    def __repr__(self):
        return f"<Message {self.name}>"

    def default(self):
        out = {}
        for fname, (_, ftype) in self.fields.items():
            out[fname] = _default(ftype)
        return out


def _default(ftype):
    if isinstance(ftype, repeated):
        return []
    if isinstance(ftype, map_of):
        return {}
    if isinstance(ftype, Message):
        return None
    return {"string": "", "bytes": b"", "bool": False}.get(ftype, 0)


def _signed(value, bits):
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _scalar_from_varint(ftype, value):
    if ftype == "bool":
        return value != 0
    if ftype in ("int32", "enum"):
        return _signed(value, 32)
    if ftype == "int64":
        return _signed(value, 64)
    if ftype == "uint32":
        return value & 0xFFFFFFFF
    return value


def _decode_one(ftype, wire_type, value, where):
    if isinstance(ftype, Message):
        if wire_type != WT_LEN:
            raise ProtoError(f"{where}: wire type {wire_type}, expected a message")
        return decode(ftype, value)
    if ftype in ("string", "bytes"):
        if wire_type != WT_LEN:
            raise ProtoError(f"{where}: wire type {wire_type}, expected {ftype}")
        if ftype == "bytes":
            return value
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtoError(f"{where}: invalid UTF-8 in string: {e}") from None
    if wire_type != WT_VARINT:
        raise ProtoError(f"{where}: wire type {wire_type}, expected {ftype} (varint)")
    return _scalar_from_varint(ftype, value)


def decode(schema, data):
    """Decode the serialized message data with schema into a dict (see the module doc)."""
    out = schema.default()
    for number, wire_type, value in iter_fields(data):
        known = schema.by_number.get(number)
        if known is None:
            continue  # an unknown field: skipped, whatever its wire type
        fname, ftype = known
        where = f"{schema.name}.{fname}"
        if isinstance(ftype, map_of):
            if wire_type != WT_LEN:
                raise ProtoError(f"{where}: wire type {wire_type}, expected a map entry")
            entry = decode(ftype.entry, value)
            out[fname][entry["key"]] = entry["value"] if entry["value"] is not None else \
                _default(ftype.value)
        elif isinstance(ftype, repeated):
            item = ftype.item
            if isinstance(item, str) and item in _VARINT_TYPES and wire_type == WT_LEN:
                pos = 0  # packed repeated scalars (the proto3 default encoding)
                while pos < len(value):
                    v, pos = decode_varint(value, pos)
                    out[fname].append(_scalar_from_varint(item, v))
            else:
                out[fname].append(_decode_one(item, wire_type, value, where))
        else:
            # A singular field seen twice: the last one wins (messages would merge; the CRI
            # servers never split one, and this decoder keeps the last).
            out[fname] = _decode_one(ftype, wire_type, value, where)
    return out


def _encode_scalar(ftype, value, where):
    if ftype == "string":
        if not isinstance(value, str):
            raise TypeError(f"{where}: expected str, got {type(value).__name__}")
        return value.encode("utf-8")
    if ftype == "bytes":
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError(f"{where}: expected bytes, got {type(value).__name__}")
        return bytes(value)
    if not isinstance(value, (int, bool)):
        raise TypeError(f"{where}: expected an integer, got {type(value).__name__}")
    return int(value)


def _encode_field(number, ftype, value, where):
    if isinstance(ftype, Message):
        body = encode(ftype, value)
        return _key(number, WT_LEN) + encode_varint(len(body)) + body
    raw = _encode_scalar(ftype, value, where)
    if ftype in ("string", "bytes"):
        return _key(number, WT_LEN) + encode_varint(len(raw)) + raw
    return _key(number, WT_VARINT) + encode_varint(raw)


def encode(schema, msg):
    """Serialize the dict msg with schema. Absent keys, None and proto3 defaults are omitted
    (a present sub-message is always written, even when empty)."""
    if msg is None:
        msg = {}
    unknown = set(msg) - set(schema.fields)
    if unknown:
        raise KeyError(f"{schema.name} has no field(s) {sorted(unknown)}")
    out = bytearray()
    for fname, (number, ftype) in schema.fields.items():
        value = msg.get(fname)
        where = f"{schema.name}.{fname}"
        if value is None:
            continue
        if isinstance(ftype, map_of):
            for k, v in value.items():
                # Both entry fields always written, as protobuf's own encoders do.
                body = (_encode_field(1, ftype.key, k, where + ".key") +
                        _encode_field(2, ftype.value, v, where + ".value"))
                out += _key(number, WT_LEN) + encode_varint(len(body)) + body
        elif isinstance(ftype, repeated):
            item = ftype.item
            if isinstance(item, str) and item in _VARINT_TYPES:
                if value:
                    packed = b"".join(encode_varint(_encode_scalar(item, v, where))
                                      for v in value)
                    out += _key(number, WT_LEN) + encode_varint(len(packed)) + packed
            else:
                for v in value:
                    out += _encode_field(number, item, v, where)
        elif isinstance(ftype, Message):
            out += _encode_field(number, ftype, value, where)
        elif value != _default(ftype):
            out += _encode_field(number, ftype, value, where)
    return bytes(out)


def fixed64(raw):
    """An unknown fixed64 field's bytes as an unsigned integer (for tests and debugging)."""
    return struct.unpack("<Q", raw)[0]


# --------------------------------------------------------------------------------------------
# CRI v1 messages (k8s.io/cri-api pkg/apis/runtime/v1/api.proto), the fields the tests need

# enum NamespaceMode
POD, CONTAINER, NODE, TARGET = 0, 1, 2, 3
# enum PodSandboxState
SANDBOX_READY, SANDBOX_NOTREADY = 0, 1
# enum ContainerState
CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_EXITED, CONTAINER_UNKNOWN = 0, 1, 2, 3
# enum MountPropagation
PROPAGATION_PRIVATE, PROPAGATION_HOST_TO_CONTAINER, PROPAGATION_BIDIRECTIONAL = 0, 1, 2
# enum SecurityProfile.ProfileType
PROFILE_RUNTIME_DEFAULT, PROFILE_UNCONFINED, PROFILE_LOCALHOST = 0, 1, 2

STR_MAP = map_of("string", "string")

VersionRequest = Message("VersionRequest", version=(1, "string"))
VersionResponse = Message("VersionResponse", version=(1, "string"), runtime_name=(2, "string"),
                          runtime_version=(3, "string"), runtime_api_version=(4, "string"))

PodSandboxMetadata = Message("PodSandboxMetadata", name=(1, "string"), uid=(2, "string"),
                             namespace=(3, "string"), attempt=(4, "uint32"))
DNSConfig = Message("DNSConfig", servers=(1, repeated("string")),
                    searches=(2, repeated("string")), options=(3, repeated("string")))
NamespaceOption = Message("NamespaceOption", network=(1, "enum"), pid=(2, "enum"),
                          ipc=(3, "enum"), target_id=(4, "string"))
Int64Value = Message("Int64Value", value=(1, "int64"))
SecurityProfile = Message("SecurityProfile", profile_type=(1, "enum"),
                          localhost_ref=(2, "string"))
LinuxSandboxSecurityContext = Message(
    "LinuxSandboxSecurityContext", namespace_options=(1, NamespaceOption),
    run_as_user=(3, Int64Value), readonly_rootfs=(4, "bool"),
    supplemental_groups=(5, repeated("int64")), privileged=(6, "bool"),
    run_as_group=(8, Int64Value), seccomp=(9, SecurityProfile), apparmor=(10, SecurityProfile))
LinuxContainerResources = Message(
    "LinuxContainerResources", cpu_period=(1, "int64"), cpu_quota=(2, "int64"),
    cpu_shares=(3, "int64"), memory_limit_in_bytes=(4, "int64"), oom_score_adj=(5, "int64"),
    cpuset_cpus=(6, "string"), cpuset_mems=(7, "string"), unified=(9, STR_MAP),
    memory_swap_limit_in_bytes=(10, "int64"))
LinuxPodSandboxConfig = Message(
    "LinuxPodSandboxConfig", cgroup_parent=(1, "string"),
    security_context=(2, LinuxSandboxSecurityContext), sysctls=(3, STR_MAP),
    overhead=(4, LinuxContainerResources), resources=(5, LinuxContainerResources))
PodSandboxConfig = Message(
    "PodSandboxConfig", metadata=(1, PodSandboxMetadata), hostname=(2, "string"),
    log_directory=(3, "string"), dns_config=(4, DNSConfig), labels=(6, STR_MAP),
    annotations=(7, STR_MAP), linux=(8, LinuxPodSandboxConfig))

RunPodSandboxRequest = Message("RunPodSandboxRequest", config=(1, PodSandboxConfig),
                               runtime_handler=(2, "string"))
RunPodSandboxResponse = Message("RunPodSandboxResponse", pod_sandbox_id=(1, "string"))
PodSandboxIdRequest = Message("PodSandboxIdRequest", pod_sandbox_id=(1, "string"))  # Stop/Remove
Empty = Message("Empty")
PodSandboxStatusRequest = Message("PodSandboxStatusRequest", pod_sandbox_id=(1, "string"),
                                  verbose=(2, "bool"))
PodIP = Message("PodIP", ip=(1, "string"))
PodSandboxNetworkStatus = Message("PodSandboxNetworkStatus", ip=(1, "string"),
                                  additional_ips=(2, repeated(PodIP)))
Namespace = Message("Namespace", options=(2, NamespaceOption))
LinuxPodSandboxStatus = Message("LinuxPodSandboxStatus", namespaces=(1, Namespace))
PodSandboxStatus = Message(
    "PodSandboxStatus", id=(1, "string"), metadata=(2, PodSandboxMetadata), state=(3, "enum"),
    created_at=(4, "int64"), network=(5, PodSandboxNetworkStatus),
    linux=(6, LinuxPodSandboxStatus), labels=(7, STR_MAP), annotations=(8, STR_MAP),
    runtime_handler=(9, "string"))
PodSandboxStatusResponse = Message("PodSandboxStatusResponse", status=(1, PodSandboxStatus),
                                   info=(2, STR_MAP))
PodSandboxStateValue = Message("PodSandboxStateValue", state=(1, "enum"))
PodSandboxFilter = Message("PodSandboxFilter", id=(1, "string"),
                           state=(2, PodSandboxStateValue), label_selector=(3, STR_MAP))
ListPodSandboxRequest = Message("ListPodSandboxRequest", filter=(1, PodSandboxFilter))
PodSandbox = Message(
    "PodSandbox", id=(1, "string"), metadata=(2, PodSandboxMetadata), state=(3, "enum"),
    created_at=(4, "int64"), labels=(5, STR_MAP), annotations=(6, STR_MAP),
    runtime_handler=(7, "string"))
ListPodSandboxResponse = Message("ListPodSandboxResponse", items=(1, repeated(PodSandbox)))

ContainerMetadata = Message("ContainerMetadata", name=(1, "string"), attempt=(2, "uint32"))
ImageSpec = Message("ImageSpec", image=(1, "string"), annotations=(2, STR_MAP))
KeyValue = Message("KeyValue", key=(1, "string"), value=(2, "string"))
Mount = Message("Mount", container_path=(1, "string"), host_path=(2, "string"),
                readonly=(3, "bool"), selinux_relabel=(4, "bool"), propagation=(5, "enum"))
Capability = Message("Capability", add_capabilities=(1, repeated("string")),
                     drop_capabilities=(2, repeated("string")))
LinuxContainerSecurityContext = Message(
    "LinuxContainerSecurityContext", capabilities=(1, Capability), privileged=(2, "bool"),
    namespace_options=(3, NamespaceOption), run_as_user=(5, Int64Value),
    run_as_username=(6, "string"), readonly_rootfs=(7, "bool"),
    supplemental_groups=(8, repeated("int64")), no_new_privs=(11, "bool"),
    run_as_group=(12, Int64Value), masked_paths=(13, repeated("string")),
    readonly_paths=(14, repeated("string")), seccomp=(15, SecurityProfile),
    apparmor=(16, SecurityProfile))
LinuxContainerConfig = Message("LinuxContainerConfig", resources=(1, LinuxContainerResources),
                               security_context=(2, LinuxContainerSecurityContext))
ContainerConfig = Message(
    "ContainerConfig", metadata=(1, ContainerMetadata), image=(2, ImageSpec),
    command=(3, repeated("string")), args=(4, repeated("string")), working_dir=(5, "string"),
    envs=(6, repeated(KeyValue)), mounts=(7, repeated(Mount)), labels=(9, STR_MAP),
    annotations=(10, STR_MAP), log_path=(11, "string"), stdin=(12, "bool"),
    stdin_once=(13, "bool"), tty=(14, "bool"), linux=(15, LinuxContainerConfig))
CreateContainerRequest = Message("CreateContainerRequest", pod_sandbox_id=(1, "string"),
                                 config=(2, ContainerConfig),
                                 sandbox_config=(3, PodSandboxConfig))
CreateContainerResponse = Message("CreateContainerResponse", container_id=(1, "string"))
ContainerIdRequest = Message("ContainerIdRequest", container_id=(1, "string"))  # Start/Remove
StopContainerRequest = Message("StopContainerRequest", container_id=(1, "string"),
                               timeout=(2, "int64"))
ContainerStateValue = Message("ContainerStateValue", state=(1, "enum"))
ContainerFilter = Message("ContainerFilter", id=(1, "string"), state=(2, ContainerStateValue),
                          pod_sandbox_id=(3, "string"), label_selector=(4, STR_MAP))
ListContainersRequest = Message("ListContainersRequest", filter=(1, ContainerFilter))
Container = Message(
    "Container", id=(1, "string"), pod_sandbox_id=(2, "string"),
    metadata=(3, ContainerMetadata), image=(4, ImageSpec), image_ref=(5, "string"),
    state=(6, "enum"), created_at=(7, "int64"), labels=(8, STR_MAP), annotations=(9, STR_MAP))
ListContainersResponse = Message("ListContainersResponse", containers=(1, repeated(Container)))
ContainerStatusRequest = Message("ContainerStatusRequest", container_id=(1, "string"),
                                 verbose=(2, "bool"))
ContainerStatus = Message(
    "ContainerStatus", id=(1, "string"), metadata=(2, ContainerMetadata), state=(3, "enum"),
    created_at=(4, "int64"), started_at=(5, "int64"), finished_at=(6, "int64"),
    exit_code=(7, "int32"), image=(8, ImageSpec), image_ref=(9, "string"),
    reason=(10, "string"), message=(11, "string"), labels=(12, STR_MAP),
    annotations=(13, STR_MAP), mounts=(14, repeated(Mount)), log_path=(15, "string"))
ContainerStatusResponse = Message("ContainerStatusResponse", status=(1, ContainerStatus),
                                  info=(2, STR_MAP))
ExecSyncRequest = Message("ExecSyncRequest", container_id=(1, "string"),
                          cmd=(2, repeated("string")), timeout=(3, "int64"))
ExecSyncResponse = Message("ExecSyncResponse", stdout=(1, "bytes"), stderr=(2, "bytes"),
                           exit_code=(3, "int32"))

StatusRequest = Message("StatusRequest", verbose=(1, "bool"))
RuntimeCondition = Message("RuntimeCondition", type=(1, "string"), status=(2, "bool"),
                           reason=(3, "string"), message=(4, "string"))
RuntimeStatus = Message("RuntimeStatus", conditions=(1, repeated(RuntimeCondition)))
StatusResponse = Message("StatusResponse", status=(1, RuntimeStatus), info=(2, STR_MAP))

Image = Message(
    "Image", id=(1, "string"), repo_tags=(2, repeated("string")),
    repo_digests=(3, repeated("string")), size=(4, "uint64"), uid=(5, Int64Value),
    username=(6, "string"), spec=(7, ImageSpec), pinned=(8, "bool"))
ImageFilter = Message("ImageFilter", image=(1, ImageSpec))
ListImagesRequest = Message("ListImagesRequest", filter=(1, ImageFilter))
ListImagesResponse = Message("ListImagesResponse", images=(1, repeated(Image)))
ImageStatusRequest = Message("ImageStatusRequest", image=(1, ImageSpec), verbose=(2, "bool"))
ImageStatusResponse = Message("ImageStatusResponse", image=(1, Image), info=(2, STR_MAP))
AuthConfig = Message("AuthConfig", username=(1, "string"), password=(2, "string"),
                     auth=(3, "string"), server_address=(4, "string"),
                     identity_token=(5, "string"), registry_token=(6, "string"))
PullImageRequest = Message("PullImageRequest", image=(1, ImageSpec), auth=(2, AuthConfig),
                           sandbox_config=(3, PodSandboxConfig))
PullImageResponse = Message("PullImageResponse", image_ref=(1, "string"))


# --------------------------------------------------------------------------------------------
# The client


class CRIError(Exception):
    """A CRI call that failed: the gRPC status code name (e.g. "NOT_FOUND") and its details."""

    def __init__(self, method, code, details):
        super().__init__(f"{method}: {code}: {details}")
        self.method, self.code, self.details = method, code, details


RUNTIME = "runtime.v1.RuntimeService"
IMAGES = "runtime.v1.ImageService"


class CRIClient:
    """runtime.v1 RuntimeService and ImageService on the unix socket at path. Every method
    returns the decoded response (a dict) unless its doc says otherwise, and raises CRIError
    when the server answers with an error status."""

    def __init__(self, path, timeout=120.0):
        if grpc is None:
            raise RuntimeError("the CRI client needs grpcio (Debian: python3-grpcio)")
        self.path = str(path)
        self.timeout = timeout
        self.channel = grpc.insecure_channel(
            "unix:" + self.path,
            options=[("grpc.max_receive_message_length", 16 << 20),
                     ("grpc.max_send_message_length", 16 << 20)])

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, service, method, req_schema, msg, resp_schema, timeout=None):
        """One unary call with msg encoded by req_schema; the response decoded by resp_schema.
        grpcio passes bytes through unchanged when no serializers are given."""
        path = f"/{service}/{method}"
        stub = self.channel.unary_unary(path)
        try:
            raw = stub(encode(req_schema, msg), timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            raise CRIError(method, e.code().name, e.details()) from None
        return decode(resp_schema, raw)

    # ---- runtime
    def version(self, version="v1"):
        return self.call(RUNTIME, "Version", VersionRequest, {"version": version},
                         VersionResponse)

    def status(self, verbose=False):
        return self.call(RUNTIME, "Status", StatusRequest, {"verbose": verbose}, StatusResponse)

    def run_pod_sandbox(self, config, runtime_handler=""):
        """The new sandbox's id."""
        resp = self.call(RUNTIME, "RunPodSandbox", RunPodSandboxRequest,
                         {"config": config, "runtime_handler": runtime_handler},
                         RunPodSandboxResponse)
        return resp["pod_sandbox_id"]

    def stop_pod_sandbox(self, pod_id):
        self.call(RUNTIME, "StopPodSandbox", PodSandboxIdRequest, {"pod_sandbox_id": pod_id},
                  Empty)

    def remove_pod_sandbox(self, pod_id):
        self.call(RUNTIME, "RemovePodSandbox", PodSandboxIdRequest,
                  {"pod_sandbox_id": pod_id}, Empty)

    def pod_sandbox_status(self, pod_id, verbose=False):
        return self.call(RUNTIME, "PodSandboxStatus", PodSandboxStatusRequest,
                         {"pod_sandbox_id": pod_id, "verbose": verbose},
                         PodSandboxStatusResponse)

    def list_pod_sandbox(self, filter=None):
        """The list of PodSandbox dicts."""
        return self.call(RUNTIME, "ListPodSandbox", ListPodSandboxRequest, {"filter": filter},
                         ListPodSandboxResponse)["items"]

    def create_container(self, pod_id, config, sandbox_config):
        """The new container's id."""
        resp = self.call(RUNTIME, "CreateContainer", CreateContainerRequest,
                         {"pod_sandbox_id": pod_id, "config": config,
                          "sandbox_config": sandbox_config}, CreateContainerResponse)
        return resp["container_id"]

    def start_container(self, cid):
        self.call(RUNTIME, "StartContainer", ContainerIdRequest, {"container_id": cid}, Empty)

    def stop_container(self, cid, timeout=0):
        """timeout: seconds between the stop signal and SIGKILL. The call itself may take that
        long, so its gRPC deadline is extended by it."""
        self.call(RUNTIME, "StopContainer", StopContainerRequest,
                  {"container_id": cid, "timeout": timeout}, Empty,
                  timeout=self.timeout + timeout)

    def remove_container(self, cid):
        self.call(RUNTIME, "RemoveContainer", ContainerIdRequest, {"container_id": cid}, Empty)

    def container_status(self, cid, verbose=False):
        return self.call(RUNTIME, "ContainerStatus", ContainerStatusRequest,
                         {"container_id": cid, "verbose": verbose}, ContainerStatusResponse)

    def list_containers(self, filter=None):
        """The list of Container dicts."""
        return self.call(RUNTIME, "ListContainers", ListContainersRequest, {"filter": filter},
                         ListContainersResponse)["containers"]

    def exec_sync(self, cid, cmd, timeout=0):
        """{"stdout": bytes, "stderr": bytes, "exit_code": int}. timeout: seconds the runtime
        lets the command run (0: no limit)."""
        return self.call(RUNTIME, "ExecSync", ExecSyncRequest,
                         {"container_id": cid, "cmd": list(cmd), "timeout": timeout},
                         ExecSyncResponse, timeout=self.timeout + timeout)

    # ---- images
    def list_images(self, image=None):
        """The list of Image dicts (optionally filtered by an image reference)."""
        flt = {"image": {"image": image}} if image else None
        return self.call(IMAGES, "ListImages", ListImagesRequest, {"filter": flt},
                         ListImagesResponse)["images"]

    def image_status(self, image, verbose=False):
        """The ImageStatusResponse; its "image" is None when the image is not present."""
        return self.call(IMAGES, "ImageStatus", ImageStatusRequest,
                         {"image": {"image": image}, "verbose": verbose}, ImageStatusResponse)

    def pull_image(self, image, auth=None, sandbox_config=None):
        """The image_ref of the pulled image."""
        return self.call(IMAGES, "PullImage", PullImageRequest,
                         {"image": {"image": image}, "auth": auth,
                          "sandbox_config": sandbox_config}, PullImageResponse)["image_ref"]
