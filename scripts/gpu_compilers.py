#!/usr/bin/env python3
"""The GPU compilers' check: every program of `cyclegan programs --profile P` through the GPU
vendors' own compilers, each kernel's resources parsed, checked and tabled.

    gpu_compilers.py --cyclegan BIN --kernels Kernels --tools DIR --out DIR --versions TEXT (--write FILE | --compare FILE | --ptx DIR)

Targets (profile: compiler):
  h100 (sm_90), a100 (sm_80): clang-16 -> PTX (nvptx64-nvidia-nvcl, libclc), NVIDIA's ptxas -v
  mi250 (gfx90a), rdna3 (gfx1100): clang-16 amdgcn-amd-amdhsa with ROCm's device libraries,
      resource remarks, ld.lld, the code object's .amdgpu_metadata
  arc (acm-g10), pvc: Intel's ocloc (builds and spill warnings only)
h100 and mi250 also compile every `cyclegan tune` candidate's programs (--candidates).

It fails (exit 1) on: a compile, assemble or link error or an unresolved symbol; a kernel whose
resources cannot be parsed; a list that misses a .cl file or a kernel, or names one the
compiler did not build; a spill in a kernel GPUs launch (NVIDIA spill stores or loads, AMD
scratch or VGPR spills); registers or local memory that do not fit the kernel's work-group;
the tiled kernels' fitness targets (below) not met; and with --compare, a table that differs
from the committed one when the tools' versions are the same. It reports SGPR spills into
VGPR lanes, NVIDIA stack frames without spills and Intel's spill warnings.
"""
import argparse, concurrent.futures as cf, json, os, re, shlex, subprocess, sys, time

TARGETS = [  # profile, target, vendor, with the tune candidates
    ("h100", "sm_90", "nvidia", True), ("a100", "sm_80", "nvidia", False),
    ("mi250", "gfx90a", "amd", True), ("rdna3", "gfx1100", "amd", False),
    ("arc", "acm-g10", "intel", False), ("pvc", "pvc", "intel", False),
]
TILED = ("gemm_tiled", "conv2d_s1_tiled", "conv2d_s1_wgrad_tiled")
# Fitness of the tiled kernels at the default tile, every precision: resident work-groups at
# least this many per SM (NVIDIA) or CU (AMD), no stack or scratch, reuse >= 32.
FITNESS = {"sm_90": 2, "gfx90a": 4}
MIN_REUSE = 32.0
CHECKED_USES = ("launched", "fallback", "direct")  # kernels a GPU launches in some configuration

# ---- occupancy models -----------------------------------------------------------------------
# NVIDIA (CUDA's occupancy calculator): registers are allocated per warp in units of 256 and
# per SM sub-partition (4 of 16,384); shared memory per block rounded to 128 B plus 1 KiB the
# driver reserves; at most 2,048 threads and 32 blocks per SM; OpenCL gives a work-group at
# most 48 KiB of local memory.
NV = {"sm_80": dict(name="A100", smem_sm=167936), "sm_90": dict(name="H100", smem_sm=233472)}
NV_REGS_SM, NV_THREADS_SM, NV_BLOCKS_SM, NV_SMEM_GROUP = 65536, 2048, 32, 49152
# AMD: gfx90a (CDNA2, wave64): 4 SIMDs a CU, 8 waves a SIMD, 512 VGPRs a lane (arch VGPRs and
# AGPRs together, granule 8), 64 KiB LDS a CU (granule 512 B), at most 16 work-groups of more
# than one wave a CU.
# gfx1100 (RDNA3, wave32, LLVM's default WGP mode): 4 SIMDs a WGP, 16 waves a SIMD, 1,536
# VGPRs a lane (granule 24), 128 KiB LDS a WGP (64 KiB a work-group), at most 16 work-groups of
# more than one wave.
AMD = {"gfx90a": dict(simds=4, waves=8, vgprs=512, granule=8, lds=65536, lds_group=65536, unit="CU"),
       "gfx1100": dict(simds=4, waves=16, vgprs=1536, granule=24, lds=131072, lds_group=65536, unit="WGP")}
AMD_GROUPS = 16


def ru(x, a):
    return (x + a - 1) // a * a


def nv_occupancy(arch, regs, smem, wg):
    """(resident blocks, occupancy, limiter, fits) for a work-group of wg threads."""
    warps = (wg + 31) // 32
    rpw = ru(max(regs, 1) * 32, 256)
    lim = {"threads": min(NV_BLOCKS_SM, NV_THREADS_SM // (warps * 32)),
           "registers": ((NV_REGS_SM // 4) // rpw * 4) // warps,
           "shared memory": NV[arch]["smem_sm"] // ru(smem + 1024, 128)}
    blocks = min(lim.values())
    fits = rpw * warps <= NV_REGS_SM and smem <= NV_SMEM_GROUP
    return blocks, blocks * warps * 32 / NV_THREADS_SM, min(lim, key=lambda k: lim[k]), fits


def amd_occupancy(arch, vgprs, lds, wg, wave):
    p = AMD[arch]
    waves_wg = (wg + wave - 1) // wave
    by_vgpr = p["vgprs"] // ru(max(vgprs, 1), p["granule"])  # waves a SIMD, before the wave slots' cap
    # (in this order, so that a tie names the waves before the registers)
    lim = {"waves": p["waves"] * p["simds"] // waves_wg, "VGPRs": by_vgpr * p["simds"] // waves_wg}
    if waves_wg > 1: lim["work-groups"] = AMD_GROUPS  # groups with barriers (LLVM's model); one-wave groups have none
    if lds: lim["LDS"] = p["lds"] // ru(lds, 512)
    groups = min(lim.values())
    fits = vgprs <= p["vgprs"] and waves_wg <= min(by_vgpr, p["waves"]) * p["simds"] and lds <= p["lds_group"]
    return groups, groups * waves_wg / (p["waves"] * p["simds"]), min(lim, key=lambda k: lim[k]), fits


def reuse(options):
    d = dict(re.findall(r"-D(\w+)=(\d+)", options))
    if not all(k in d for k in ("TM", "TN", "WGM", "WGN")): return None
    m, n = int(d["WGM"]) * int(d["TM"]), int(d["WGN"]) * int(d["TN"])
    return m * n / (m + n)

# ---- running the compilers --------------------------------------------------------------------


def run(cmd, env=None):
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return p.returncode, p.stdout, p.stderr, time.time() - t


class Tools:
    def __init__(self, d):
        self.clang = "/usr/lib/llvm-16/bin/clang"
        self.libclc = "/usr/lib/clc/nvptx64--nvidiacl.bc"
        self.rocm = "/usr/lib/x86_64-linux-gnu/amdgcn/bitcode"
        self.rocm_overlay = os.path.join(d, "rocm-dl-overlay")
        self.lld = "/usr/lib/llvm-15/bin/ld.lld"
        self.nm = "/usr/lib/llvm-15/bin/llvm-nm"
        self.readelf = "/usr/lib/llvm-15/bin/llvm-readelf"
        self.llvm_as = "/usr/lib/llvm-15/bin/llvm-as"
        self.ptxas = os.path.join(d, "nvcc/nvidia/cuda_nvcc/bin/ptxas")
        self.ocloc = os.path.join(d, "intel/usr/bin/ocloc")
        self.intel_lib = os.path.join(d, "intel/usr/lib/x86_64-linux-gnu")

    def missing(self):
        return [p for p in (self.clang, self.libclc, self.rocm, self.lld, self.nm, self.readelf, self.llvm_as,
                            self.ptxas, self.ocloc) if not os.path.exists(p)]

    def ocloc_env(self):
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = self.intel_lib + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        return env

    def gfx1100_overlay(self):
        """ROCm 5.2's device libraries have no gfx1100 ISA-version library: one bitcode
        defining __oclc_ISA_version = 11000 beside links to the rest."""
        os.makedirs(self.rocm_overlay, exist_ok=True)
        for f in os.listdir(self.rocm):
            dst = os.path.join(self.rocm_overlay, f)
            if not os.path.lexists(dst): os.symlink(os.path.join(self.rocm, f), dst)
        bc = os.path.join(self.rocm_overlay, "oclc_isa_version_1100.bc")
        if not os.path.exists(bc):
            ll = bc[:-3] + ".ll"
            with open(ll, "w") as fh:
                fh.write('target triple = "amdgcn-amd-amdhsa"\n@__oclc_ISA_version = linkonce_odr protected '
                         'local_unnamed_addr addrspace(4) constant i32 11000, align 4\n')
            rc, _, e, _ = run([self.llvm_as, ll, "-o", bc])
            if rc != 0: raise SystemExit(f"llvm-as: {e}")


def clean(err):
    return "\n".join(l for l in err.splitlines() if "remark:" not in l and "Linking two modules of different" not in l
                     and "-Wlinker-warnings" not in l and not re.match(r"^\d+ warnings? generated\.$", l)
                     and not re.match(r"^\s*\^?\s*$", l)).strip()


def parse_ptxas(text):
    res, cur = {}, None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '(\w+)' for '(sm_\d+)'", line)
        if m: cur = m.group(1); res[cur] = {}; continue
        m = re.search(r"Function properties for (\w+)", line)
        if m: cur = m.group(1) if m.group(1) in res else None; continue
        if cur is None: continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m: res[cur].update(stack=int(m.group(1)), spill_st=int(m.group(2)), spill_ld=int(m.group(3))); continue
        m = re.search(r"Used (\d+) registers", line)
        if m:
            s = re.search(r"(\d+) bytes smem", line)
            res[cur].update(regs=int(m.group(1)), smem=int(s.group(1)) if s else 0)
    return res


def parse_remarks(err):
    res, cur = {}, None
    keys = {"VGPRs": "vgpr", "AGPRs": "agpr", "SGPRs Spill": "sgpr_spill", "Occupancy [waves/SIMD]": "llvm_occ"}
    for line in err.splitlines():
        m = re.search(r"remark: Function Name: (\w+)", line)
        if m: cur = m.group(1); res[cur] = {}; continue
        m = re.search(r"remark:\s+([A-Za-z][A-Za-z /\[\]]*?): (\d+)", line)
        if m and cur and m.group(1).strip() in keys: res[cur][keys[m.group(1).strip()]] = int(m.group(2))
    return res


def parse_notes(text):
    """Per kernel from llvm-readelf --notes: the code object's .amdgpu_metadata."""
    res = {}
    for block in re.split(r"\n  - \.", "\n" + text):
        block = "    ." + block  # the split took the first key's indent
        name = re.search(r"(?m)^    \.name:\s+(\w+)\s*$", block)
        if not name or not re.search(r"\.symbol:\s+\w+\.kd", block): continue
        d = {}
        for f in ("vgpr_count", "sgpr_count", "agpr_count", "vgpr_spill_count", "sgpr_spill_count",
                  "private_segment_fixed_size", "group_segment_fixed_size", "max_flat_workgroup_size", "wavefront_size"):
            m = re.search(r"(?m)^    \." + f + r":\s+(\d+)", block)
            if m: d[f] = int(m.group(1))
        res[name.group(1)] = d
    return res


def compile_nvidia(tools, src, opts, arch, out):
    ptx = out + ".ptx"
    rc, o, e, _ = run([tools.clang, "-x", "cl", "-cl-std=CL1.2", "-Xclang", "-finclude-default-header", "-O3"] + shlex.split(opts)
                      + ["-target", "nvptx64-nvidia-nvcl", f"-march={arch}", "-Xclang", "-mlink-builtin-bitcode", "-Xclang",
                         tools.libclc, "-S", "-o", ptx, src])
    if rc != 0: return {"error": "clang-16 nvptx: " + clean(e)}
    ext = sorted(set(re.findall(r"\.extern\s+\.func[^\n]*?(\w+)\s*\(", open(ptx).read())))
    if ext: return {"error": "unresolved in the PTX: " + " ".join(ext)}
    rc, o, e, _ = run([tools.ptxas, f"-arch={arch}", "-v", "-O3", ptx, "-o", out + ".cubin"])
    with open(out + ".ptxas.txt", "w") as fh: fh.write(e + o)
    if rc != 0: return {"error": "ptxas: " + (e + o).strip()[-1500:]}
    return {"kernels": parse_ptxas(e + o)}


def compile_amd(tools, src, opts, mcpu, out):
    lib = tools.rocm_overlay if mcpu == "gfx1100" else tools.rocm
    obj = out + ".o"
    rc, o, e, _ = run([tools.clang, "-x", "cl", "-cl-std=CL1.2", "-Xclang", "-finclude-default-header", "-O3"] + shlex.split(opts)
                      + ["-target", "amdgcn-amd-amdhsa", f"-mcpu={mcpu}", f"--rocm-device-lib-path={lib}",
                         "-Rpass-analysis=kernel-resource-usage", "-c", "-o", obj, src])
    if rc != 0: return {"error": "clang-16 amdgcn: " + clean(e)}
    remarks = parse_remarks(e)
    rc, undef, e2, _ = run([tools.nm, "-u", obj])
    if undef.strip(): return {"error": "undefined symbols: " + " ".join(undef.split())}
    rc, o, e2, _ = run([tools.lld, "-shared", obj, "-o", out + ".hsaco"])
    if rc != 0: return {"error": "ld.lld: " + e2.strip()}
    rc, notes, e2, _ = run([tools.readelf, "--notes", out + ".hsaco"])
    meta = parse_notes(notes)
    for k, d in meta.items(): d.update(remarks.get(k, {}))
    return {"kernels": meta}


LARGE_GRF = "-cl-intel-256-GRF-per-thread"


def compile_intel(tools, src, opts, device, out):
    """ocloc's build and spill warnings; a program built with 256 registers a thread is built
    with the default 128 too, whose spills are what made the plan ask for 256."""
    def build(options, name):
        rc, o, e, _ = run([tools.ocloc, "compile", "-file", src, "-device", device, "-options", "-cl-std=CL1.2 " + options,
                           "-output", name, "-out_dir", os.path.dirname(out), "-output_no_suffix"], env=tools.ocloc_env())
        text = (o + e).strip()
        if rc != 0 or "Build succeeded" not in text: return None, text
        return {m.group(1): m.group(0).strip() for m in re.finditer(r"kernel (\w+)\s+compiled .*? spilled around \d+", text)}, text
    spills, text = build(opts, os.path.basename(out))
    if spills is None: return {"error": "ocloc: " + text[-1500:]}
    warnings = [l for l in text.splitlines() if "warning" in l.lower() and "spilled" not in l]
    default = spills
    if LARGE_GRF in opts:
        default = build(opts.replace(LARGE_GRF, "").strip(), os.path.basename(out) + ".grf128")[0]
        if default is None: return {"error": f"ocloc without {LARGE_GRF}: does not build"}
    return {"spills": spills, "warnings": warnings, "default_spills": default}


# ---- the check ---------------------------------------------------------------------------------


def assemble_driver_ptx(tools, directory):
    """`--ptx DIR`: the PTX that NVIDIA's OpenCL driver made (`cyclegan programs --build DIR` on
    the GPU machine writes <id>.ptx) assembled by ptxas for the target its .target line names:
    the driver front end's code through NVIDIA's register allocator, with no device time."""
    files = sorted(f for f in os.listdir(directory) if f.endswith(".ptx"))
    if not files:
        print(f"gpu-compilers: no .ptx file in {directory}")
        return 1
    print("| program | kernel | target | registers | stack B | spill B | shared B |")
    print("|---|---|---|---|---|---|---|")
    bad = 0
    for f in files:
        path = os.path.join(directory, f)
        m = re.search(r"(?m)^\s*\.target\s+(sm_\d+)", open(path, errors="replace").read())
        arch = m.group(1) if m else "sm_90"
        rc, o, e, _ = run([tools.ptxas, f"-arch={arch}", "-v", "-O3", path, "-o", os.devnull])
        if rc != 0:
            print(f"| {f[:-4]} | (ptxas failed: {(e + o).strip().splitlines()[-1] if (e + o).strip() else rc}) | {arch} | | | | |")
            bad += 1
            continue
        for k, r in parse_ptxas(e + o).items():
            print(f"| {f[:-4]} | {k} | {arch} | {r.get('regs')} | {r.get('stack')} | {r.get('spill_st', 0) + r.get('spill_ld', 0)} | {r.get('smem')} |")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cyclegan", required=True)
    ap.add_argument("--kernels", required=True)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--versions", required=True, help="the tools' versions, one per line (the table's header)")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write")
    g.add_argument("--compare")
    g.add_argument("--ptx", help="assemble the driver's PTX files of this folder instead")
    a = ap.parse_args()
    t0 = time.time()
    tools = Tools(a.tools)
    if a.ptx: return assemble_driver_ptx(tools, a.ptx)
    fails, reports = [], []
    missing = tools.missing()
    if missing:
        print("gpu-compilers: missing tools: " + ", ".join(missing) + " (scripts/gpu-compilers.sh installs them)")
        return 1
    tools.gfx1100_overlay()
    os.makedirs(os.path.join(a.out, "src"), exist_ok=True)

    # the lists, and the files and kernels they must cover
    lists = {}
    for profile, target, vendor, cand in TARGETS:
        cmd = [a.cyclegan, "programs", "--profile", profile, "--json"] + (["--candidates"] if cand else [])
        rc, o, e, _ = run(cmd)
        if rc != 0:
            print(f"gpu-compilers: {' '.join(cmd)} failed:\n{e}")
            return 1
        lists[profile] = json.loads(o)
    files = sorted(f[:-3] for f in os.listdir(a.kernels) if f.endswith(".cl") and f != "common.cl")
    source_kernels = {}
    for f in files:
        text = open(f"{a.kernels}/{f}.cl").read()
        for name in re.findall(r"__kernel\s+(?:__attribute__\s*\(\(.*?\)\)\s*)?void\s+(\w+)\s*\(", text) + re.findall(r"PARTIAL_KERNEL\((\w+),", text):
            if name != "name": source_kernels[name] = f  # reduce.cl's macro parameter
    for profile, lst in lists.items():
        listed_files = {p["file"] for p in lst["programs"]}
        for f in files:
            if f not in listed_files: fails.append(f"{profile}: Kernels/{f}.cl is in no program of the list")
        named = {k["name"] for p in lst["programs"] for k in p["kernels"]} | {n for p in lst["programs"] for n in p["notBuilt"]}
        for k, f in sorted(source_kernels.items()):
            if k not in named: fails.append(f"{profile}: kernel {k} of {f}.cl is in no program of the list")

    # the jobs: one compile per (target, program)
    jobs = []
    for profile, target, vendor, cand in TARGETS:
        for p in lists[profile]["programs"]:
            src = os.path.join(a.out, "src", p["file"] + ".cl")
            if not os.path.exists(src):
                with open(src, "w") as fh: fh.write(open(f"{a.kernels}/common.cl").read() + "\n" + open(f"{a.kernels}/{p['file']}.cl").read())
            d = os.path.join(a.out, target)
            os.makedirs(d, exist_ok=True)
            jobs.append((profile, target, vendor, p, src, os.path.join(d, p["id"])))
    compilers = {"nvidia": compile_nvidia, "amd": compile_amd, "intel": compile_intel}
    results = {}
    with cf.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        futs = {ex.submit(compilers[v], tools, src, p["options"], target, out): (profile, target, p["id"])
                for profile, target, v, p, src, out in jobs}
        for f in cf.as_completed(futs):
            results[futs[f]] = f.result()
    t1 = time.time()

    # resources, checks, rows
    rows = {t: [] for _, t, _, _ in TARGETS}
    for profile, target, vendor, p, src, out in jobs:
        r = results[(profile, target, p["id"])]
        tag = f"{target} {p['id']}"
        if "error" in r:
            fails.append(f"{tag}: {r['error']}")
            continue
        listed = {k["name"]: k for k in p["kernels"]}
        if vendor == "intel":
            for k, line in sorted(r["spills"].items()):
                reports.append(f"{tag}: {line}")
            for w in r["warnings"]: reports.append(f"{tag}: {w}")
            rows[target].append(dict(program=p, kernel=None, spills=r["spills"], default_spills=r["default_spills"]))
            continue
        built = r["kernels"]
        for k in sorted(set(built) - set(listed)): fails.append(f"{tag}: the compiler built {k}, which the list does not name")
        for k in sorted(set(listed) - set(built)): fails.append(f"{tag}: the list names {k}, which the compiler did not build")
        for name, k in listed.items():
            if name not in built: continue
            res, use, wg = built[name], k["use"], k.get("workGroup")
            dyn = k["localArgumentBytes"]
            row = dict(program=p, kernel=name, use=use, wg=wg, dyn=dyn)
            if vendor == "nvidia":
                if "regs" not in res or "stack" not in res:
                    fails.append(f"{tag}: {name}: ptxas's report cannot be parsed"); continue
                row.update(regs=res["regs"], stack=res["stack"], spill=res["spill_st"] + res["spill_ld"], smem=res["smem"])
                if row["spill"] and use in CHECKED_USES:
                    fails.append(f"{tag}: {name} spills ({res['spill_st']} B stores, {res['spill_ld']} B loads)")
                elif res["stack"] and use in CHECKED_USES:
                    reports.append(f"{tag}: {name} keeps a {res['stack']} B stack frame (no spill)")
                if wg and use != "bench":
                    blocks, occ, limiter, fits = nv_occupancy(target, res["regs"], res["smem"] + dyn, wg)
                    row.update(blocks=blocks, occ=occ, limiter=limiter)
                    if not fits and use != "unused":
                        fails.append(f"{tag}: {name}: {res['regs']} registers and {res['smem'] + dyn} B of shared memory do not fit {wg} threads")
            else:
                if "vgpr_count" not in res or "private_segment_fixed_size" not in res:
                    fails.append(f"{tag}: {name}: the code object's metadata cannot be parsed"); continue
                lds = res.get("group_segment_fixed_size", 0)
                row.update(vgpr=res["vgpr_count"], agpr=res.get("agpr", 0), sgpr=res.get("sgpr_count", 0),
                           scratch=res["private_segment_fixed_size"], vspill=res.get("vgpr_spill_count", 0),
                           sspill=res.get("sgpr_spill_count", 0), lds=lds, wave=res.get("wavefront_size", 64),
                           maxwg=res.get("max_flat_workgroup_size", 0))
                if (row["scratch"] or row["vspill"]) and use in CHECKED_USES:
                    fails.append(f"{tag}: {name} spills ({row['vspill']} VGPRs, {row['scratch']} B/lane of scratch)")
                if row["sspill"] and use in CHECKED_USES:
                    reports.append(f"{tag}: {name} spills {row['sspill']} SGPRs into VGPR lanes")
                if wg and use != "bench":
                    groups, occ, limiter, fits = amd_occupancy(target, row["vgpr"], lds + dyn, wg, row["wave"])
                    row.update(blocks=groups, occ=occ, limiter=limiter)
                    if (not fits or (row["maxwg"] and wg > row["maxwg"])) and use != "unused":
                        fails.append(f"{tag}: {name}: {row['vgpr']} VGPRs and {lds + dyn} B of LDS do not fit {wg} work-items "
                                     f"(the code object allows {row['maxwg']})")
            rows[target].append(row)

    # Intel: a register-tile file is built with 256 registers a thread exactly where a kernel it
    # launches (its fp32 default program's "launched" kernels) spills in the default 128
    # (KernelPlan.largeRegisterFiles; offline, DeviceProfile.spillsInDefaultRegisters says which spill)
    for profile, target, vendor, cand in TARGETS:
        if vendor != "intel": continue
        needs = {}
        for r in rows[target]:
            p = r["program"]
            if p["variant"] == "default" and p["precision"] == "fp32" and p["registerTiles"]:
                launched = {k["name"] for k in p["kernels"] if k["use"] == "launched"}
                needs[p["file"]] = sorted(launched & set(r["default_spills"]))
        for r in rows[target]:
            p = r["program"]
            large, need = LARGE_GRF in p["options"], bool(needs.get(p["file"]))
            if large and not need:
                fails.append(f"{target} {p['id']}: built with {LARGE_GRF}, but no kernel it launches spills without it "
                             f"(DeviceProfile.spillsInDefaultRegisters)")
            if need and not large:
                fails.append(f"{target} {p['id']}: {', '.join(needs[p['file']])} spill in the default registers, but the plan does not "
                             f"build {p['file']}.cl with {LARGE_GRF} (DeviceProfile.spillsInDefaultRegisters)")

    # fitness of the tiled kernels at the default tile
    fitness = []
    for target, need in FITNESS.items():
        for row in rows[target]:
            p = row["program"]
            if row.get("kernel") not in TILED or p["variant"] != "default": continue
            u = reuse(p["options"])
            frame = row.get("stack", row.get("scratch", 0))
            ok = row.get("blocks", 0) >= need and frame == 0 and u is not None and u >= MIN_REUSE
            fitness.append((target, p["id"], row["kernel"], row.get("blocks"), frame, u, ok))
            if not ok:
                fails.append(f"{target} {p['id']}: {row['kernel']} misses its fitness target: {row.get('blocks')} resident work-groups "
                             f"(at least {need}), {frame} B of stack or scratch (none), reuse {u if u is None else round(u, 1)} (at least {MIN_REUSE:.0f})")

    table = render(a.versions, lists, rows, fitness)
    with open(os.path.join(a.out, "RESOURCES.md"), "w") as fh: fh.write(table)
    if a.write:
        with open(a.write, "w") as fh: fh.write(table)
        print(f"gpu-compilers: wrote {a.write}")
    else:
        committed = open(a.compare).read() if os.path.exists(a.compare) else None
        versions = lambda t: [l for l in t.splitlines() if l.startswith("- tool: ")]
        if committed is None:
            fails.append(f"{a.compare} is missing (scripts/gpu-compilers.sh --write makes it)")
        elif versions(committed) != versions(table):
            print(f"gpu-compilers: the tools' versions differ from {a.compare}'s; the table is not compared "
                  f"(the new one: {os.path.join(a.out, 'RESOURCES.md')})")
        elif committed != table:
            fails.append(f"{a.compare} differs from what the compilers report now (run scripts/gpu-compilers.sh --write; "
                         f"the new one: {os.path.join(a.out, 'RESOURCES.md')})")
    for r in reports: print("note: " + r)
    for f in fails: print("FAIL " + f)
    n = sum(len(l["programs"]) for l in lists.values())
    print(f"gpu-compilers: {n} program builds over {len(TARGETS)} targets in {t1 - t0:.0f} s, {len(fails)} failures, "
          f"{len(reports)} notes ({time.time() - t0:.0f} s in all)")
    return 1 if fails else 0


def render(versions, lists, rows, fitness):
    L = []
    w = L.append
    w("# Kernel resources on GPU vendors' compilers\n")
    w("Generated by `bash scripts/gpu-compilers.sh --write` from `cyclegan programs --profile P --json` (do not edit by hand).")
    w("CI (`scripts/test.sh`) runs the same check and compares its table with this file when the tools' versions below are")
    w("the same. What it proves and does not: README.md, \"GPUs\".\n")
    for v in versions.strip().splitlines(): w(f"- tool: {v}")
    w("")
    w("Formulas. **NVIDIA** (CUDA's occupancy calculator): registers allocated per warp in units of 256, from 4 sub-partitions")
    w("of 16,384 per SM; shared memory per block rounded to 128 B plus 1 KiB reserved, 228 KiB per SM (H100) or 164 KiB (A100);")
    w("at most 2,048 threads and 32 blocks per SM; a work-group fits when its warps' registers fit 65,536 and its local memory")
    w("48 KiB. **AMD** gfx90a (wave64): 4 SIMDs per CU, 8 waves and 512 VGPRs (with AGPRs, granule 8) per SIMD, 64 KiB LDS per")
    w("CU (granule 512 B); gfx1100 (wave32, WGP mode): 4 SIMDs per WGP, 16 waves and 1,536 VGPRs (granule 24) per SIMD,")
    w("128 KiB LDS per WGP, 64 KiB per work-group; at most 16 work-groups of more than one wave. Resident work-groups = the least of the limits")
    w("(the limiter column); occupancy = resident threads (waves) over the most the SM (CU, WGP) holds. Local memory")
    w("includes the __local argument (`+`). **Intel**: builds and spill warnings only (Debian's ocloc 22.43 does not")
    w("disassemble). Reuse of a tiled kernel: multiply-adds per float loaded from global memory, (WGM·TM)(WGN·TN)/(WGM·TM + WGN·TN).\n")
    w("Uses: launched; fallback (the packed GEMM where the tiled one runs); direct (`CYCLEGAN_CONV=direct`); unused (built,")
    w("never launched with the default plan: the narrow program's other kernels); bench. Spills fail the check in launched,")
    w("fallback and direct kernels.\n")
    w("## Fitness of the tiled kernels (default tile)\n")
    w(f"At least {FITNESS['sm_90']} resident work-groups per SM on sm_90 and {FITNESS['gfx90a']} per CU on gfx90a, no stack or scratch, "
      f"reuse at least {MIN_REUSE:.0f}.\n")
    w("| target | program | kernel | resident work-groups | stack/scratch B | reuse | |")
    w("|---|---|---|---|---|---|---|")
    for target, pid, k, blocks, frame, u, ok in fitness:
        w(f"| {target} | {pid} | {k} | {blocks} | {frame} | {'-' if u is None else f'{u:.1f}'} | {'ok' if ok else 'MISSED'} |")
    w("")
    for profile, target, vendor, cand in TARGETS:
        lst = lists[profile]
        w(f"## {target} (`--profile {profile}`: {lst['device']}, work-groups up to {lst['maxWorkGroupSize']}, "
          f"{lst['localMemory'] >> 10} KiB local memory)\n")
        trs = rows[target]
        if vendor == "intel":
            w(f"| program | options | spill warnings | with 128 registers (without `{LARGE_GRF}`) |")
            w("|---|---|---|---|")
            for r in trs:
                p = r["program"]
                fmt = lambda d: "; ".join(f"{k}: {v.split('compiled ')[-1]}" for k, v in sorted(d.items())) or "none"
                w(f"| {p['id']} | `{p['options']}` | {fmt(r['spills'])} | "
                  f"{fmt(r['default_spills']) if LARGE_GRF in p['options'] else 'the same build'} |")
            w("")
            continue
        candidate = lambda r: r["program"]["variant"] not in ("default", "narrow")
        sections = [("default and narrow programs", [r for r in trs if not candidate(r)]),
                    ("tune candidates (the tiled kernels)", [r for r in trs if candidate(r) and r["kernel"] in TILED])]
        for title, rs in sections:
            if not rs: continue
            w(f"### {title}\n")
            if vendor == "nvidia":
                w("| program | kernel | use | work-group | registers | stack B | spill B | shared B | resident blocks | occupancy | limiter |")
                w("|---|---|---|---|---|---|---|---|---|---|---|")
                for r in rs:
                    w(f"| {r['program']['id']} | {r['kernel']} | {r['use']} | {r['wg'] or '-'} | {r['regs']} | {r['stack']} | {r['spill']} | "
                      f"{r['smem']}{' + ' + str(r['dyn']) if r['dyn'] else ''} | {r.get('blocks', '-')} | "
                      f"{'%.0f%%' % (100 * r['occ']) if 'occ' in r else '-'} | {r.get('limiter', '-')} |")
            else:
                unit = AMD[target]["unit"]
                w(f"| program | kernel | use | work-group | VGPRs | AGPRs | SGPRs | scratch B/lane | VGPR spills | SGPR spills | LDS B | "
                  f"resident per {unit} | occupancy | limiter |")
                w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
                for r in rs:
                    w(f"| {r['program']['id']} | {r['kernel']} | {r['use']} | {r['wg'] or '-'} | {r['vgpr']} | {r['agpr']} | {r['sgpr']} | "
                      f"{r['scratch']} | {r['vspill']} | {r['sspill']} | {r['lds']}{' + ' + str(r['dyn']) if r['dyn'] else ''} | "
                      f"{r.get('blocks', '-')} | {'%.0f%%' % (100 * r['occ']) if 'occ' in r else '-'} | {r.get('limiter', '-')} |")
            w("")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    sys.exit(main())
