#!/usr/bin/env python3
"""Writes the .pth fixtures for PyTorchCheckpointTests, without PyTorch.

    python3 make_fixtures.py                                   # the hand-made fixtures
    ~/.cache/torch-venv/bin/python make_fixtures.py            # also torch_*.pth, with real torch.save

The hand-made fixtures reproduce torch.save's layouts byte for byte (checked against
torch 2.x): the same pickle opcodes (protocol 2, a persistent id per storage, the
globals collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch.<Type>Storage)
and, for the zip format, miniz's archive as torch writes it: stored entries with data
descriptors, an "FB" extra field padding every entry's data to a 64-byte boundary, and
zip64 end records. expected.json holds every fixture's tensors (shape, values as
doubles, keys as the loader returns them: "module." stripped). With torch importable the
script also writes torch_zip.pth / torch_legacy.pth with torch.save and checks that
torch.load(weights_only=True) reads every hand-made fixture to the same values.
"""
import collections
import json
import os
import pickle
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


# --- Stand-ins for torch's objects, pickled under torch's names ---------------------

class Global:
    """A callable pickled as GLOBAL '<module> <name>', like the torch object of that name."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):
        raise TypeError("a stand-in, never called")


REBUILD_TENSOR_V2 = Global("torch._utils", "_rebuild_tensor_v2")
OS_SYSTEM = Global("os", "system")

# dtype: (storage class, struct format, element size)
DTYPES = {
    "float32": (Global("torch", "FloatStorage"), "f", 4),
    "float64": (Global("torch", "DoubleStorage"), "d", 8),
    "float16": (Global("torch", "HalfStorage"), "e", 2),
    "bfloat16": (Global("torch", "BFloat16Storage"), None, 2),
    "int64": (Global("torch", "LongStorage"), "q", 8),
    "int32": (Global("torch", "IntStorage"), "i", 4),
}


class Storage:
    """A flat typed buffer, saved by persistent id like a torch storage."""

    def __init__(self, dtype, values):
        self.dtype, self.values = dtype, list(values)

    def raw(self, order="<"):
        fmt = DTYPES[self.dtype][1]
        if fmt is None:  # bfloat16: the high half of the float32 bits
            halves = (struct.unpack("<I", struct.pack("<f", v))[0] >> 16 for v in self.values)
            return b"".join(struct.pack(order + "H", h) for h in halves)
        return struct.pack("%s%d%s" % (order, len(self.values), fmt), *self.values)


class Tensor:
    """A view of a storage; pickles as torch._utils._rebuild_tensor_v2(...) as torch.Tensor does."""

    def __init__(self, storage, offset, size, stride=None):
        if stride is None:
            stride, step = [], 1
            for n in reversed(size):
                stride.insert(0, step)
                step *= n
        self.storage, self.offset, self.size, self.stride = storage, offset, list(size), list(stride)

    def __reduce_ex__(self, protocol):
        # Fresh tuple objects per tensor, as torch makes them (the pickler memoizes by identity).
        args = (self.storage, self.offset, tuple(self.size), tuple(self.stride), False, collections.OrderedDict())
        return (REBUILD_TENSOR_V2, args)

    def values(self):
        """The elements in row-major order, gathered through size/stride/offset."""
        out = []

        def walk(dim, base):
            if dim == len(self.size):
                out.append(float(self.storage.values[base]))
                return
            for i in range(self.size[dim]):
                walk(dim + 1, base + i * self.stride[dim])

        walk(0, self.offset)
        return out


class Exploit:
    """What a malicious checkpoint pickles: os.system('echo pwned')."""

    def __reduce_ex__(self, protocol):
        return (OS_SYSTEM, ("echo pwned",))


class TorchPickler(pickle._Pickler):
    """The pure-Python pickler (protocol 2), writing stand-ins as torch's globals and
    storages as persistent ids."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, persistent_id, protocol=2):
        super().__init__(file, protocol=protocol)
        self._persistent_id = persistent_id

    def persistent_id(self, obj):
        return self._persistent_id(obj)

    def save_stand_in(self, obj):
        if self.proto >= 4:  # as pickle writes globals from protocol 4 on
            self.save(obj.module)
            self.save(obj.name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + ("%s\n%s\n" % (obj.module, obj.name)).encode("ascii"))
        self.memoize(obj)

    dispatch[Global] = save_stand_in


def dumps(obj, persistent_id=lambda obj: None, protocol=2):
    import io
    buf = io.BytesIO()
    TorchPickler(buf, persistent_id, protocol).dump(obj)
    return buf.getvalue()


# --- The zip format (torch >= 1.6) ------------------------------------------------------

def zip_archive(records, zip64_central=False, deflate=()):
    """records: [(name, bytes)] in order. Mimics miniz as torch drives it: version fields 0,
    flags 0x0808 (data descriptor, UTF-8), DOS time 0, sizes in a data descriptor, an "FB"
    extra field in the local header padding the data to 64 bytes, no central extras, and a
    zip64 end record + locator before the end record. zip64_central: also put the sizes
    and offset in a zip64 extra field of the central directory (as large files need).
    deflate: names to store deflate-compressed (torch never does; tests the refusal)."""
    out, central = bytearray(), []
    for name, data in records:
        name_b = name.encode("utf-8")
        method, payload = 0, data
        if name in deflate:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            method, payload = 8, c.compress(data) + c.flush()
        start = len(out) + 30 + len(name_b) + 4
        pad = (-start) % 64
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, 0x0808, method, 0, 0, 0, 0, 0, len(name_b), len(extra))
        out += name_b + extra + payload
        out += struct.pack("<IIII", 0x08074B50, crc, len(payload), len(data))
        central.append((name_b, method, crc, len(payload), len(data), offset))
    cd_start = len(out)
    for name_b, method, crc, csize, usize, offset in central:
        extra = b""
        if zip64_central:
            extra = struct.pack("<HHQQQ", 0x0001, 24, usize, csize, offset)
            csize = usize = offset = 0xFFFFFFFF
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, 0x0808, method, 0, 0, crc, csize, usize,
                           len(name_b), len(extra), 0, 0, 0, 0, offset)
        out += name_b + extra
    cd_size, n = len(out) - cd_start, len(central)
    z64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 0x2D, 0, 0, n, n, cd_size, cd_start)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_start, 0)
    return bytes(out)


def save_zip(obj, archive="archive", torch1_6=False, zip64_central=False, deflate=(), protocol=2,
             byteorder="little"):
    """torch.save(obj, f, pickle_protocol=protocol) of torch 2.x (or 1.6, which wrote no
    byteorder and dot files); byteorder="big" as a big-endian machine writes it."""
    keys, storages = {}, {}

    def persistent_id(o):
        if not isinstance(o, Storage):
            return None
        key = keys.setdefault(id(o), str(len(keys)))
        storages[key] = o
        return ("storage", DTYPES[o.dtype][0], key, "cpu", len(o.values))

    records = [(archive + "/data.pkl", dumps(obj, persistent_id, protocol))]
    if not torch1_6:
        records += [(archive + "/.format_version", b"1"), (archive + "/.storage_alignment", b"64"),
                    (archive + "/byteorder", byteorder.encode("ascii"))]
    order = "<" if byteorder == "little" else ">"
    records += [(archive + "/data/" + k, storages[k].raw(order)) for k in sorted(storages)]
    records.append((archive + "/version", b"3\n"))
    if not torch1_6:
        records.append((archive + "/.data/serialization_id", b"1234567890" * 4))
    return zip_archive(records, zip64_central=zip64_central,
                       deflate=tuple(archive + "/" + d for d in deflate))


# --- The legacy format (torch < 1.6) ----------------------------------------------------

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001


def save_legacy(obj, views=None):
    """torch.save(obj, f, _use_new_zipfile_serialization=False): magic number, protocol
    version, sys info, the object (storages as persistent ids keyed by a made-up _cdata),
    the sorted storage keys, then each storage as an int64 element count and its bytes.
    views: {id(view storage): (root storage, offset)} for torch 0.4's storage views."""
    views = views or {}
    keys, storages = {}, {}

    def persistent_id(o):
        if not isinstance(o, Storage):
            return None
        root, offset = views.get(id(o), (o, 0))
        key = keys.setdefault(id(root), str(94000000000000 + 4096 * (7 - len(keys))))
        storages[key] = root
        key = str(int(key))  # a new string each time, as str(storage._cdata) is
        view = None
        if root is not o:
            view = (keys.setdefault(id(o), str(95000000000000 + 4096 * len(keys))), offset, len(o.values))
        return ("storage", DTYPES[o.dtype][0], key, "cpu", len(root.values), view)

    sys_info = dict(protocol_version=PROTOCOL_VERSION, little_endian=True,
                    type_sizes=dict(short=2, int=4, long=4))
    out = dumps(MAGIC_NUMBER) + dumps(PROTOCOL_VERSION) + dumps(sys_info) + dumps(obj, persistent_id)
    order = sorted(storages)
    out += dumps(order)
    for k in order:
        out += struct.pack("<q", len(storages[k].values)) + storages[k].raw()
    return out


# --- Contents -----------------------------------------------------------------------------

def ramp(n, seed):
    """Values exact in float32, float16 and bfloat16 alike."""
    return [((i * 37 + seed * 11) % 101 - 50) / 64 for i in range(n)]


def small_state_dict(prefix=""):
    """A generator-like state dict: conv weight and bias, a float64 buffer, an int64
    counter, a transposed view sharing a storage (storage offset 3), half, bfloat16, int32."""
    tied = Storage("float32", ramp(26, 5))
    sd = collections.OrderedDict()
    sd[prefix + "model.1.weight"] = Tensor(Storage("float32", ramp(4 * 3 * 7 * 7, 1)), 0, [4, 3, 7, 7])
    sd[prefix + "model.1.bias"] = Tensor(Storage("float32", ramp(4, 2)), 0, [4])
    sd[prefix + "model.2.running_mean"] = Tensor(Storage("float64", [0.1 * i - 0.15 for i in range(4)]), 0, [4])
    sd[prefix + "model.2.num_batches_tracked"] = Tensor(Storage("int64", [12345]), 0, [])
    sd[prefix + "model.4.weight"] = Tensor(tied, 3, [4, 5])
    sd[prefix + "model.5.weight"] = Tensor(tied, 3, [5, 4], [1, 5])
    sd[prefix + "extra.half"] = Tensor(Storage("float16", [0.5, -1.25, 3.0, 65504.0]), 1, [3])
    sd[prefix + "extra.bf16"] = Tensor(Storage("bfloat16", [1.5, -0.15625]), 0, [2])
    sd[prefix + "extra.int32"] = Tensor(Storage("int32", [-3, 7, 100000, 0]), 0, [2, 2])
    sd._metadata = collections.OrderedDict(
        [("", {"version": 1}), ("model", {"version": 1}), ("model.2", {"version": 2})])
    return sd


def expected(sd):
    return {k[len("module."):] if k.startswith("module.") else k: {"shape": t.size, "values": t.values()}
            for k, t in sd.items()}


def write(name, data):
    assert len(data) < 50_000, name
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    contents = {}
    sd = small_state_dict()
    contents["small"] = expected(sd)
    small_zip, small_legacy = save_zip(sd), save_legacy(sd)
    write("small_zip.pth", small_zip)
    write("small_legacy.pth", small_legacy)

    # A training checkpoint of a DataParallel model: {"state_dict": ..., "epoch": 5}, keys
    # with "module.". The zip one as torch 1.6 wrote it (no byteorder), under another
    # archive name, with zip64 central extras; the legacy one with a torch 0.4 storage view.
    wrapped = small_state_dict("module.")
    write("wrapped_zip64.pth", save_zip({"state_dict": wrapped, "epoch": 5}, archive="wrapped_zip64",
                                        torch1_6=True, zip64_central=True))
    bias = wrapped["module.model.1.bias"]
    root = Storage("float32", ramp(2, 9) + bias.storage.values + ramp(3, 8))
    write("wrapped_legacy.pth", save_legacy({"epoch": 5, "state_dict": wrapped},
                                            views={id(bias.storage): (root, 2)}))

    # pickle_protocol=4: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL.
    write("protocol4_zip.pth", save_zip(sd, protocol=4))
    write("bigendian_zip.pth", save_zip(sd, byteorder="big"))
    write("deflated_zip.pth", save_zip(sd, deflate=("data.pkl",)))
    write("truncated_zip.pth", small_zip[: len(small_zip) * 2 // 3])
    write("truncated_legacy.pth", small_legacy[:-10])
    write("malicious_zip.pth", save_zip(collections.OrderedDict([("x", Exploit())])))
    write("malicious_legacy.pth", save_legacy(collections.OrderedDict([("x", Exploit())])))

    try:
        import torch
    except ImportError:
        torch = None
        print("torch not importable: kept the existing torch_*.pth")
    if torch is not None:
        contents["torch"] = save_with_torch(torch)
        check_with_torch(torch, contents)
    else:
        with open(os.path.join(HERE, "expected.json")) as f:
            old = json.load(f)
        if "torch" in old:
            contents["torch"] = old["torch"]
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(contents, f, indent=0, sort_keys=True)
        f.write("\n")


def save_with_torch(torch):
    """A real module's state dict, saved by torch.save in both formats."""
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(3, 4, 7), nn.BatchNorm2d(4), nn.ReLU(True))

        def forward(self, x):
            return self.model(x)

    torch.manual_seed(0)
    net = Net()
    net(torch.randn(2, 3, 8, 8))  # moves the running statistics, counts a batch
    sd = net.state_dict()
    sd["extra.weight_t"] = sd["model.1.weight"][1].transpose(1, 2)  # a view: offset 147, strides (49, 1, 7)
    sd["extra.double"] = torch.linspace(-1, 1, 5, dtype=torch.float64)
    sd["extra.half"] = torch.tensor([0.1, -2.5, 1000.0], dtype=torch.float16)
    torch.save(sd, os.path.join(HERE, "torch_zip.pth"))
    # The legacy file as a DataParallel model saves it.
    legacy = collections.OrderedDict(("module." + k, v) for k, v in sd.items())
    legacy._metadata = sd._metadata
    torch.save(legacy, os.path.join(HERE, "torch_legacy.pth"), _use_new_zipfile_serialization=False)
    for name in ("torch_zip.pth", "torch_legacy.pth"):
        assert os.path.getsize(os.path.join(HERE, name)) < 50_000, name
    print("torch %s: wrote torch_zip.pth, torch_legacy.pth" % torch.__version__)
    return {k: {"shape": list(v.shape), "values": v.double().flatten().tolist()} for k, v in sd.items()}


def check_with_torch(torch, contents):
    """torch.load(weights_only=True) reads the hand-made fixtures to the expected values
    (protocol 4 with weights_only=False: torch's weights-only unpickler has no FRAME)."""
    cases = {"small_zip.pth": "small", "protocol4_zip.pth": "small", "bigendian_zip.pth": "small", "small_legacy.pth": "small", "wrapped_zip64.pth": "small",
             "wrapped_legacy.pth": "small", "torch_zip.pth": "torch", "torch_legacy.pth": "torch"}
    for name, content in cases.items():
        obj = torch.load(os.path.join(HERE, name), weights_only=not name.startswith("protocol4"))
        sd = obj.get("state_dict", obj)
        got = {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}
        want = contents[content]
        assert sorted(got) == sorted(want), (name, sorted(got))
        for k, v in got.items():
            assert list(v.shape) == want[k]["shape"] and v.double().flatten().tolist() == want[k]["values"], (name, k)
    for name in ("malicious_zip.pth", "malicious_legacy.pth"):
        try:
            torch.load(os.path.join(HERE, name), weights_only=True)
            raise AssertionError(name + " loaded")
        except pickle.UnpicklingError as e:
            assert "os.system" in str(e) or "system" in str(e), e
    print("torch.load(weights_only=True) agrees with expected.json")


if __name__ == "__main__":
    main()
