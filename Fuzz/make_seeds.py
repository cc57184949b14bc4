#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target under Fuzz/corpus/<target>/ (see README.md).

    python3 Fuzz/make_seeds.py

Seeds are small valid files (copied from Tests/Fixtures where those are small, or built
here) and near-valid hostile ones: each class of input the parsers must refuse with one
error line (overflowing shapes and offsets, deep nesting, forbidden globals, overlapping
zip entries, huge image headers). Only the standard library is needed. Inputs that once
crashed a target are added by hand under the name crash-<what>, and kept.
"""
import io
import json
import os
import shutil
import struct
import zipfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Fuzz", "corpus")
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def copy(target, path, limit=65536):
    if os.path.getsize(path) <= limit:
        os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
        shutil.copy(path, os.path.join(CORPUS, target, os.path.basename(path)))


# --- safetensors ------------------------------------------------------------------------

def safetensors(header, data=b""):
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    t = "safetensors"
    f32 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    write(t, "valid_f32", safetensors({"__metadata__": {"step_id": "7"},
                                       "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                                       "s": {"dtype": "F32", "shape": [], "data_offsets": [24, 28]}}, f32 + struct.pack("<f", 9)))
    write(t, "valid_dtypes", safetensors({"d": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]},
                                          "h": {"dtype": "F16", "shape": [2], "data_offsets": [16, 20]},
                                          "b": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [20, 24]},
                                          "e": {"dtype": "F32", "shape": [0, 5], "data_offsets": [24, 24]}},
                                         struct.pack("<2d", 1.5, -2) + struct.pack("<2e", 0.5, 3) + b"\x80\x3f\x00\x40"))
    write(t, "shape_overflow", safetensors(b'{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}'))
    write(t, "shape_overflow_then_zero", safetensors(b'{"w":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}'))
    write(t, "offsets_overflow", safetensors(b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775806,9223372036854775807]}}', b"\0" * 4))
    write(t, "negative_dimension", safetensors(b'{"w":{"dtype":"F32","shape":[18446744073709551615,18446744073709551615],"data_offsets":[0,4]}}', b"\0" * 4))
    write(t, "odd_dimensions", safetensors(b'{"w":{"dtype":"F32","shape":[true,2.5,1e3,-1,"4",null],"data_offsets":[0,4]}}', b"\0" * 4))
    write(t, "header_past_file", struct.pack("<Q", 1 << 40) + b"{}")
    write(t, "header_max", b"\xff" * 8 + b"{}")
    write(t, "overlap", safetensors({k: {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]} for k in "abc"}, b"\0" * 16))
    write(t, "too_many_dims", safetensors({"w": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}, b"\0" * 4))
    write(t, "past_end", safetensors({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4))
    write(t, "deep_json", safetensors(b"[" * 600 + b"]" * 600))
    copy(t, os.path.join(FIXTURES, "pth", "tiny_G_io.safetensors"))


# --- pickles and .pth -------------------------------------------------------------------

def short_string(s):
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def binint(n):
    return b"J" + struct.pack("<i", n)


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def state_dict_pickle(count, shape=None, keys=("w",)):
    """A protocol-2 state dict: each key a float tensor on its own storage of `count` elements."""
    shape = shape if shape is not None else [count]
    p = b"\x80\x02" + glob("collections", "OrderedDict") + b")R\x94("
    for i, key in enumerate(keys):
        p += short_string(key) + glob("torch._utils", "_rebuild_tensor_v2") + b"("
        p += b"(" + short_string("storage") + glob("torch", "FloatStorage") + short_string(str(i)) + short_string("cpu") + binint(count) + b"tQ"
        p += binint(0) + b"(" + b"".join(binint(n) for n in shape) + b"t"
        strides, s = [], 1
        for n in reversed(shape):
            strides.insert(0, s)
            s *= max(n, 1)
        p += b"(" + b"".join(binint(n) for n in strides) + b"t"
        p += b"\x89" + glob("collections", "OrderedDict") + b")Rt"   # requires_grad, hooks
        p += b"R"
    return p + b"u."


MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."
VERSION = b"\x80\x02M\xe9\x03."
SYSINFO = b"\x80\x02}(" + short_string("little_endian") + b"\x88" + short_string("type_sizes") + b"}u."


def legacy(obj, keys=(), storages=b""):
    key_list = b"\x80\x02(" + b"".join(short_string(k) for k in keys) + b"l."
    return MAGIC + VERSION + SYSINFO + obj + key_list + storages


def storage(values):
    return struct.pack("<q", len(values)) + struct.pack("<%df" % len(values), *values)


def torch_zip(pickle_bytes, storages=(), name="archive", shared_data=False):
    """Stored entries as torch writes them; with `shared_data` every storage's central
    directory entry points at the first storage's local header and data."""
    entries = [(name + "/data.pkl", pickle_bytes), (name + "/byteorder", b"little")]
    entries += [(name + "/data/" + key, data) for key, data in storages]
    out, central, shared = b"", b"", None
    for entry, data in entries:
        n = entry.encode()
        common = struct.pack("<HHHHHIIIHH", 20, 0, 0, 0, 0, zlib.crc32(data) & 0xFFFFFFFF, len(data), len(data), len(n), 0)
        offset = len(out)
        if shared_data and "/data/" in entry and shared is not None:
            offset = shared
        else:
            if "/data/" in entry:
                shared = offset
            out += b"PK\x03\x04" + common + n + data
        central += b"PK\x01\x02" + struct.pack("<H", 20) + common + struct.pack("<HHHII", 0, 0, 0, 0, offset) + n
    return out + central + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(central), len(out), 0)


def nested_tuples(depth):
    return b"\x80\x02N" + b"\x85" * depth + b"."


def pickle_seeds():
    ok = state_dict_pickle(4, keys=("model.1.weight", "model.1.bias"))
    values = storage([0.5, -1, 2, 3])
    deep = nested_tuples(3000)
    deep_mark = b"\x80\x02" + b"(" * 3000 + b"N" + b"t" * 3000 + b"."
    deep_list = b"\x80\x02" + b"]" * 3000 + b"a" * 2999 + b"."
    self_list = b"\x80\x02]\x94h\x00a."
    nested_grow = b"\x80\x02]\x94\x850h\x00]a."
    os_system = b"\x80\x02" + glob("os", "system") + b"X\x0a\x00\x00\x00echo pwned\x85R."
    stack_global = b"\x80\x04" + short_string("builtins") + short_string("eval") + b"\x93."
    dup_memo = b"\x80\x02N" + b"2" * 64 + b"\x94" * 64 + b"h\x05" * 16 + b"."
    many_dims = state_dict_pickle(1, shape=[1] * 65)
    view = state_dict_pickle(4, shape=[2, 2])

    for t in ("pth_legacy", "pth_zip"):
        def out(name, p, keys=(), stores=()):
            if t == "pth_legacy":
                write(t, name, legacy(p, keys, b"".join(data for _, data in stores)))
            else:
                write(t, name, torch_zip(p, [(k, data[8:]) for k, data in stores]))
        out("built_ok", ok, ("0", "1"), (("0", values), ("1", values)))
        out("built_view", view, ("0",), (("0", values),))
        out("deep_tuples", deep)
        out("deep_tuples_100k", nested_tuples(100_000))   # the stack overflow on release, before the fix
        out("deep_mark_tuples", deep_mark)
        out("deep_lists", deep_list)
        out("self_list", self_list)
        out("nested_then_grown", nested_grow)
        out("os_system", os_system)
        out("stack_global_eval", stack_global)
        out("dup_memo", dup_memo)
        out("too_many_dims", many_dims, ("0",), (("0", storage([1])),))
    big = storage([0.0] * 1024)
    write("pth_zip", "overlapping_entries",
          torch_zip(state_dict_pickle(1024, keys=("a", "b", "c", "d")), [(str(i), big[8:]) for i in range(4)], shared_data=True))
    for name in ("small_legacy.pth", "malicious_legacy.pth", "torch_legacy.pth", "truncated_legacy.pth", "wrapped_legacy.pth"):
        copy("pth_legacy", os.path.join(FIXTURES, "pth", name))
    for name in ("small_zip.pth", "bigendian_zip.pth", "deflated_zip.pth", "protocol4_zip.pth", "malicious_zip.pth",
                 "torch_zip.pth", "truncated_zip.pth", "wrapped_zip64.pth"):
        copy("pth_zip", os.path.join(FIXTURES, "pth", name))


# --- images -----------------------------------------------------------------------------

def png(width, height, color_type, depth, rows, extra=b"", interlace=0):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, interlace)
    raw = b"".join(b"\0" + r for r in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def image_seeds():
    t = "image"
    write(t, "rgb8.png", png(4, 3, 2, 8, [bytes((x * 40 + y * 7 + c * 3) % 256 for x in range(4) for c in range(3)) for y in range(3)]))
    write(t, "rgba8.png", png(3, 2, 6, 8, [bytes((x * 50 + c * 60 + y) % 256 for x in range(3) for c in range(4)) for y in range(2)]))
    write(t, "gray8.png", png(5, 2, 0, 8, [bytes(range(y * 5, y * 5 + 5)) for y in range(2)]))
    write(t, "gray16.png", png(2, 2, 0, 16, [b"\x12\x34\xff\x00", b"\x00\x01\x80\x80"]))
    write(t, "gray1.png", png(9, 2, 0, 1, [b"\xa5\x80", b"\x5a\x00"]))
    write(t, "gray_alpha.png", png(2, 1, 4, 8, [b"\x10\x80\xf0\x40"]))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    write(t, "palette_trns.png", png(4, 1, 3, 2, [b"\x1b"], chunk(b"PLTE", b"\xff\x00\x00\x00\xff\x00\x00\x00\xff\x80\x80\x80") + chunk(b"tRNS", b"\x00\x80")))
    write(t, "rgb16.png", png(1, 2, 2, 16, [b"\x01\x02\x03\x04\x05\x06", b"\xff\xff\x00\x00\x80\x00"]))
    # interlaced 1x1 has a single Adam7 pass
    write(t, "interlaced.png", png(1, 1, 2, 8, [b"\x10\x20\x30"], interlace=1))
    write(t, "huge_header.png", png(100000, 100000, 2, 8, [b"\0\0\0"]))
    write(t, "zero_width.png", png(0, 4, 2, 8, [b""] * 4))
    good = png(4, 3, 2, 8, [bytes(12)] * 3)
    write(t, "truncated.png", good[:len(good) - 20])
    write(t, "bad_crc.png", good[:30] + b"\x00" + good[31:])
    for name in ("cmyk.jpg", "gray.jpg", "progressive.jpg", "rgb420.jpg", "rgb444.jpg"):
        copy(t, os.path.join(FIXTURES, "data", name))
    with open(os.path.join(FIXTURES, "data", "rgb420.jpg"), "rb") as f:
        jpeg = f.read()
    sof = jpeg.find(b"\xff\xc0")
    if sof >= 0:   # SOF0 claiming 65500 x 65500
        huge = bytearray(jpeg)
        struct.pack_into(">HH", huge, sof + 5, 65500, 65500)
        write(t, "huge_header.jpg", bytes(huge))
    write(t, "truncated.jpg", jpeg[:len(jpeg) // 2])


if __name__ == "__main__":
    safetensors_seeds()
    pickle_seeds()
    image_seeds()
    for target in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, target))
        print(f"{target}: {len(files)} seeds")
