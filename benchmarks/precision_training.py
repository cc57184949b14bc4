"""PyTorch reference training statistics for the project's precision modes (fp32, amp, tf32).

Trains the official CycleGAN (junyanz/pytorch-CycleGAN-and-pix2pix semantics: networks from
pytorch_reference.py beside this file, official state-dict keys, ImagePool, optimize_parameters)
on the built-in demo configuration of `cyclegan train`: unpaired trainA/trainB PNGs, PIL bicubic
resize to 72x72, random 64x64 crop, random flip, [-1, 1]; batch 1; resnet_6blocks ngf 32, basic D
ndf 32, instance norm; lsgan, lambda_A = lambda_B = 10, lambda_identity 0.5; pool 50; Adam 2e-4,
betas (0.5, 0.999), constant lr. It prints the eight official losses per iteration and their mean
over iterations [150, 200) (the last 50 when --iters < 200), and writes them to --out as JSON.

Precisions:
  fp32  plain FP32 (CPU).
  amp   torch.autocast("cpu", float16) around forwards and losses; one GradScaler("cpu") for
        both optimisers, updated once per iteration; the scale and skipped steps are recorded.
  tf32  every Conv2d/ConvTranspose2d rounds its input and weight to TF32 (RNE to 10 mantissa
        bits), and in backward also grad_output, with FP32 accumulation and an FP32 bias.
Start weights: --init DIR holds <label>_net_{G_A,G_B,D_A,D_B}.safetensors; missing ones are first
made with init_weights('normal', 0.02) from torch.manual_seed(--init_seed), so every run (and the
Swift trainer, `--continue_train --epoch init`) starts from the same weights.
Needs torch and Pillow (pip install Pillow), no numpy.
Usage: python benchmarks/precision_training.py --dataroot DIR --init DIR --precision fp32|amp|tf32
         [--iters 200] [--seed 0] [--threads 1] [--out FILE.json]
       python benchmarks/precision_training.py --selftest   (checks the TF32 convolution)
"""
import argparse, json, os, random, struct, sys, time
from array import array
from collections import OrderedDict
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_reference import n_layer_discriminator, resnet_generator  # noqa: E402

NETS = ("G_A", "G_B", "D_A", "D_B")
LOSSES = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")
EXTS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff")
ROUNDING = [True]  # TF32 rounding in EmuConv2d / EmuConvTranspose2d (off only in the self-test)


# ---- TF32 emulation -------------------------------------------------------------------------
def round_tf32(x):
    """x (float32) rounded to nearest even at 10 mantissa bits; inf and nan kept."""
    u = x.contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    r = ((u + 0xFFF + ((u >> 13) & 1)) & ~0x1FFF) & 0xFFFFFFFF
    r = torch.where((u & 0x7F800000) == 0x7F800000, u, r)
    return torch.where(r >= 2**31, r - 2**32, r).to(torch.int32).view(torch.float32)


class TF32Conv(torch.autograd.Function):
    """conv2d / conv_transpose2d on TF32-rounded operands; backward rounds grad_output too."""

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, output_padding, transposed):
        rnd = ROUNDING[0]
        xr, wr = (round_tf32(x), round_tf32(w)) if rnd else (x, w)
        ctx.save_for_backward(xr, wr)
        ctx.conf = (stride, padding, output_padding, transposed, rnd, b is not None)
        y = (F.conv_transpose2d(xr, wr, None, stride, padding, output_padding) if transposed
             else F.conv2d(xr, wr, None, stride, padding))
        return y if b is None else y + b.view(1, -1, 1, 1)  # bias in FP32, unrounded

    @staticmethod
    def backward(ctx, gy):
        xr, wr = ctx.saved_tensors
        stride, padding, output_padding, transposed, rnd, has_bias = ctx.conf
        gyr = round_tf32(gy) if rnd else gy.contiguous()
        # input grad = conv of gy with w, weight grad = correlation of x with gy, both rounded
        gx, gw, _ = torch.ops.aten.convolution_backward(
            gyr, xr, wr, None, list(stride), list(padding), [1, 1], transposed, list(output_padding), 1,
            [ctx.needs_input_grad[0], ctx.needs_input_grad[1], False])
        gb = gy.sum((0, 2, 3)) if has_bias and ctx.needs_input_grad[2] else None
        return gx, gw, gb, None, None, None, None


class EmuConv2d(nn.Conv2d):  # same parameters and keys as nn.Conv2d
    def forward(self, x):
        return TF32Conv.apply(x, self.weight, self.bias, self.stride, self.padding, self.output_padding, False)


class EmuConvTranspose2d(nn.ConvTranspose2d):
    forward = lambda self, x: TF32Conv.apply(x, self.weight, self.bias, self.stride, self.padding,
                                             self.output_padding, True)


def emulate_tf32(net):
    for m in net.modules():
        swap = {nn.Conv2d: EmuConv2d, nn.ConvTranspose2d: EmuConvTranspose2d}.get(type(m))
        if swap:
            assert m.padding_mode == "zeros" and m.groups == 1 and m.dilation == (1, 1)
            m.__class__ = swap


def selftest():
    v = round_tf32(torch.tensor([1 + 2**-11, 1 + 3 * 2**-11, -(1 + 3 * 2**-11), 3.4028235e38, float("inf"),
                                 float("nan")])).tolist()
    assert v[:5] == [1.0, 1 + 2**-9, -(1 + 2**-9), float("inf"), float("inf")] and v[5] != v[5], v
    torch.manual_seed(0)
    rel = lambda a, b: float((a - b).norm() / b.norm())
    for name, m in [("conv k3 s1 p0", EmuConv2d(5, 6, 3)), ("conv k4 s2 p1", EmuConv2d(5, 6, 4, 2, 1)),
                    ("convT k3 s2 p1 op1", EmuConvTranspose2d(5, 6, 3, 2, 1, 1))]:
        ROUNDING[0] = False  # the function's own gradients, in float64
        f = lambda x, w, b: TF32Conv.apply(x, w, b, m.stride, m.padding, m.output_padding, m.transposed)
        d = [t.detach().double().requires_grad_() for t in (torch.randn(1, 5, 5, 6), m.weight, m.bias)]
        assert torch.autograd.gradcheck(f, d)
        x, res = torch.randn(2, 5, 9, 11), {}
        for mode in ("plain", "off", "on"):  # FP32: nn's own module, rounding off, rounding on
            xi = x.clone().requires_grad_(True)
            m.zero_grad()
            ROUNDING[0] = mode == "on"
            y = type(m).__mro__[1].forward(m, xi) if mode == "plain" else m(xi)
            gy = res["plain"][4] if res else torch.randn_like(y)
            y.backward(gy)
            res[mode] = [t.detach().clone() for t in (y, xi.grad, m.weight.grad, m.bias.grad)] + [gy]
        off, on = ([rel(a, b) for a, b in zip(res[k][:4], res["plain"])] for k in ("off", "on"))
        print(f"{name:20s} rel. diff to FP32 of y gx gw gb, rounding off: {' '.join(f'{v:.1e}' for v in off)};"
              f" on: {' '.join(f'{v:.1e}' for v in on)}")
        assert max(off) < 1e-6, "the function's results differ from FP32 autograd"
        assert all(1e-5 < v < 2e-3 for v in on[:3]) and on[3] < 1e-6, "rounding effect not at the TF32 level"
    ROUNDING[0] = True
    print("selftest passed (gradcheck in float64 with rounding off, TF32 rounding on at ~3e-4)")


# ---- networks and safetensors ---------------------------------------------------------------
def make_net(name):  # keys `model.<i>...` as the official ResnetGenerator / NLayerDiscriminator
    return nn.Sequential(OrderedDict(model=resnet_generator(32, 6) if name[0] == "G" else n_layer_discriminator(32)))


def save_safetensors(path, sd):
    header, blobs, off = {}, [], 0
    for k, t in sd.items():
        b = array("f", t.detach().float().flatten().tolist()).tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # data 8-byte aligned
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(path + ".tmp", path)


def load_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header, base, sd = json.loads(data[8:8 + n]), 8 + n, {}
    for k, v in ((k, v) for k, v in header.items() if k != "__metadata__"):
        assert v["dtype"] == "F32", f"{path}: {k} is {v['dtype']}, not F32"
        s, e = v["data_offsets"]
        sd[k] = torch.frombuffer(bytearray(data[base + s:base + e]), dtype=torch.float32).reshape(v["shape"])
    return sd


def initial_nets(folder, label, init_seed):
    paths = {n: os.path.join(folder, f"{label}_net_{n}.safetensors") for n in NETS}
    have = [os.path.exists(p) for p in paths.values()]
    if any(have) and not all(have):
        sys.exit(f"{folder}: only some of the {label}_net_*.safetensors files exist")
    if not any(have):
        os.makedirs(folder, exist_ok=True)
        torch.manual_seed(init_seed)
        for n in NETS:  # official order: define_G(G_A), define_G(G_B), define_D(D_A), define_D(D_B)
            net = make_net(n)
            for m in net.modules():  # init_weights('normal', 0.02)
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.normal_(m.weight, 0.0, 0.02)
                    nn.init.constant_(m.bias, 0.0)
            save_safetensors(paths[n], net.state_dict())
        print(f"wrote initial weights {label}_net_*.safetensors to {folder} (init_seed {init_seed})")
    nets = {n: make_net(n) for n in NETS}
    for n, net in nets.items():
        net.load_state_dict(load_safetensors(paths[n]), strict=True)
    return nets


# ---- data and pool --------------------------------------------------------------------------
def load_folder(folder, load_size):
    from PIL import Image
    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs if f.lower().endswith(EXTS))
    if not files:
        sys.exit(f"no images in {folder}")
    out = []
    for p in files:  # the resize is deterministic: done once
        im = Image.open(p).convert("RGB").resize((load_size, load_size), Image.BICUBIC)
        out.append(torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
                   .view(load_size, load_size, 3).permute(2, 0, 1).float())
    return out


def transform(img, rng, crop):
    x, y = rng.randint(0, img.shape[2] - crop), rng.randint(0, img.shape[1] - crop)
    t = img[:, y:y + crop, x:x + crop]
    t = t.flip(2) if rng.random() < 0.5 else t
    return ((t / 255 - 0.5) / 0.5).unsqueeze(0).contiguous()


def unaligned_items(A, B, rng, crop):
    while True:  # epochs of max(|A|, |B|) items, shuffled; A[i mod |A|] with a random B
        order = list(range(max(len(A), len(B))))
        rng.shuffle(order)
        for i in order:
            b = B[rng.randrange(len(B))]  # drawn first, then A's crop and flip, then B's
            yield transform(A[i % len(A)], rng, crop), transform(b, rng, crop)


# ---- the Swift trainer's random streams (--swift_seed) ---------------------------------------
# Mirrors RandomStream.swift (SplitMix64), CPUBackend.mix64 and the draws of
# UnalignedDataset.item / shuffledOrder and of the image pools, so that a run here sees the
# very data order, crops, flips, B draws and pool draws of `cyclegan train --seed S`: a paired
# comparison, run by run, instead of one between the spreads of independent runs.
M64 = (1 << 64) - 1


def _finalize(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def mix64(seed, counter):
    return _finalize((seed + (counter + 1) * 0x9E3779B97F4A7C15) & M64)


class SwiftStream:  # RandomStream: next, uniform in [0, 1), int below n
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        return _finalize(self.state)

    def uniform(self, a=0.0, b=1.0):  # (ImagePool's rng.uniform(0, 1))
        return (self.next() >> 11) / 9007199254740992.0

    def randint(self, a, b):  # (ImagePool's rng.randint(0, size - 1))
        return a + self.next() % (b - a + 1)


def swift_items(A, B, seed, crop):
    """The Swift trainer's items for --seed `seed`, epoch by epoch from 1."""
    epoch = 1
    while True:
        n = max(len(A), len(B))
        order, r = list(range(n)), SwiftStream(mix64(seed ^ 0x53485546464C4531, epoch))
        for i in range(n - 1, 0, -1):  # Fisher-Yates
            j = r.next() % (i + 1)
            order[i], order[j] = order[j], order[i]
        for i in order:
            r = SwiftStream(mix64(mix64(seed, epoch), i))
            b = r.next() % len(B)
            out = []
            for img in (A[i % len(A)], B[b]):  # A's crop and flip, then B's
                x, y = r.next() % (img.shape[2] - crop + 1), r.next() % (img.shape[1] - crop + 1)
                t = img[:, y:y + crop, x:x + crop]
                t = t.flip(2) if r.uniform() < 0.5 else t
                out.append(((t / 255 - 0.5) / 0.5).unsqueeze(0).contiguous())
            yield tuple(out)
        epoch += 1


class ImagePool:  # official util/image_pool.py
    def __init__(self, size, rng):
        self.size, self.rng, self.images = size, rng, []

    def query(self, images):
        out = []
        for im in images.detach().unsqueeze(1):
            if len(self.images) < self.size:
                self.images.append(im); out.append(im)
            elif self.rng.uniform(0, 1) > 0.5:
                j = self.rng.randint(0, self.size - 1)
                out.append(self.images[j].clone()); self.images[j] = im
            else:
                out.append(im)
        return torch.cat(out, 0)


# ---- training -------------------------------------------------------------------------------
def train(args):
    nets = initial_nets(args.init, args.init_label, args.init_seed)
    if args.precision == "tf32":
        for net in nets.values():
            emulate_tf32(net)
    GA, GB, DA, DB = (nets[n] for n in NETS)
    opt_G = torch.optim.Adam(list(GA.parameters()) + list(GB.parameters()), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(list(DA.parameters()) + list(DB.parameters()), lr=2e-4, betas=(0.5, 0.999))
    amp = args.precision == "amp"
    scaler = torch.amp.GradScaler("cpu") if amp else None
    autocast = lambda: torch.autocast("cpu", dtype=torch.float16, enabled=amp)
    backward = (lambda loss: scaler.scale(loss).backward()) if amp else (lambda loss: loss.backward())
    step = (lambda opt: scaler.step(opt)) if amp else (lambda opt: opt.step())

    def steps_taken(opt):  # Adam's step count: unchanged when GradScaler skipped the step
        p = opt.param_groups[0]["params"][0]
        return int(opt.state[p]["step"]) if "step" in opt.state.get(p, {}) else 0

    gan = lambda pred, real: F.mse_loss(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))  # lsgan
    set_requires_grad = lambda flag: [p.requires_grad_(flag) for p in opt_D.param_groups[0]["params"]]

    data_rng, pool_rng = random.Random(f"data{args.seed}"), random.Random(f"pool{args.seed}")
    A, B = (load_folder(os.path.join(args.dataroot, "train" + d), 72) for d in "AB")
    items = unaligned_items(A, B, data_rng, 64)
    if args.swift_seed is not None:  # the Swift trainer's streams for its --seed
        items = swift_items(A, B, args.swift_seed, 64)
        pool_rng = SwiftStream(mix64(args.swift_seed, 0x9001))
    pool_A, pool_B = ImagePool(50, pool_rng), ImagePool(50, pool_rng)
    lam, lam_idt = 10.0, 0.5
    losses = {k: [] for k in LOSSES}
    scale, skipped, seconds = [], {"G": [], "D": []}, []
    for it in range(args.iters):
        real_A, real_B = next(items)
        t0 = time.perf_counter()
        with autocast():  # forward
            fake_B = GA(real_A); rec_A = GB(fake_B); fake_A = GB(real_B); rec_B = GA(fake_A)
        set_requires_grad(False)  # G step, D frozen
        opt_G.zero_grad()
        with autocast():
            idt_A = GA(real_B); l_idt_A = F.l1_loss(idt_A, real_B) * lam * lam_idt
            idt_B = GB(real_A); l_idt_B = F.l1_loss(idt_B, real_A) * lam * lam_idt
            l_G_A, l_G_B = gan(DA(fake_B), True), gan(DB(fake_A), True)
            l_cyc_A, l_cyc_B = F.l1_loss(rec_A, real_A) * lam, F.l1_loss(rec_B, real_B) * lam
            loss_G = l_G_A + l_G_B + l_cyc_A + l_cyc_B + l_idt_A + l_idt_B
        before = steps_taken(opt_G), steps_taken(opt_D)
        scale += [scaler.get_scale()] if amp else []
        backward(loss_G); step(opt_G)
        set_requires_grad(True)  # D step
        opt_D.zero_grad()
        with autocast():
            fb = pool_B.query(fake_B)
            l_D_A = (gan(DA(real_B), True) + gan(DA(fb), False)) * 0.5
        backward(l_D_A)
        with autocast():
            fa = pool_A.query(fake_A)
            l_D_B = (gan(DB(real_A), True) + gan(DB(fa), False)) * 0.5
        backward(l_D_B); step(opt_D)
        if amp:
            scaler.update()
            skipped["G"].append(steps_taken(opt_G) == before[0])
            skipped["D"].append(steps_taken(opt_D) == before[1])
        seconds.append(time.perf_counter() - t0)
        for k, v in zip(LOSSES, (l_D_A, l_G_A, l_cyc_A, l_idt_A, l_D_B, l_G_B, l_cyc_B, l_idt_B)):
            losses[k].append(float(v))
        extra = f" scale {scale[-1]:g}" + " skipG" * skipped["G"][-1] + " skipD" * skipped["D"][-1] if amp else ""
        print(f"iter {it:3d} " + " ".join(f"{k}: {losses[k][-1]:.4f}" for k in LOSSES)
              + f" ({seconds[-1]:.2f} s){extra}", flush=True)
    a, b = (150, 200) if args.iters >= 200 else (max(0, args.iters - 50), args.iters)
    means = {k: sum(v[a:b]) / (b - a) for k, v in losses.items()}
    for k in LOSSES:
        print(f"mean[{a},{b}) {k:8s} {means[k]:.5f}")
    per_iter = sum(seconds[1:]) / max(1, len(seconds) - 1)  # the first iteration is warm-up
    print(f"{args.precision}: {per_iter:.3f} s per iteration ({args.threads} thread(s))")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"precision": args.precision, "seed": args.seed, "swift_seed": args.swift_seed, "iters": args.iters, "losses": losses,
                       "window": [a, b], "means": means, "scale": scale, "skipped": skipped,
                       "seconds_per_iter": per_iter, "threads": args.threads, "torch": torch.__version__}, f, indent=1)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataroot", help="folder with trainA/ and trainB/ (the demo: <checkpoints>/demo/demo_data)")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "amp", "tf32"])
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0, help="data order, crops, flips, B draws and pool draws")
    ap.add_argument("--swift_seed", type=int, default=None,
                    help="instead, the data and pool draws of `cyclegan train --seed S` (a paired comparison)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="", help="JSON file for the losses and means")
    ap.add_argument("--init", default="", help="folder of the start weights <label>_net_*.safetensors "
                    "(made there if missing; default: <dataroot>/precision_init)")
    ap.add_argument("--init_label", default="init")
    ap.add_argument("--init_seed", type=int, default=1, help="torch.manual_seed for making the start weights")
    ap.add_argument("--selftest", action="store_true", help="check the TF32 convolution and exit")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.selftest:
        sys.exit(selftest())
    if not args.dataroot or args.iters < 1:
        ap.error("--dataroot is required, and --iters must be at least 1")
    args.init = args.init or os.path.join(args.dataroot, "precision_init")
    train(args)
