"""PyTorch reference timings for `cyclegan bench` comparisons, on the CPU or a CUDA GPU.

Builds the official CycleGAN networks (ResnetGenerator, NLayerDiscriminator, instance
norm, reflect padding) in plain torch.nn, runs the official training iteration
(optimize_parameters: G step with D frozen, then D step with the 0.5 factor), and times:
  - one training iteration at the given sizes (median of N),
  - the 3x3 256->256 conv at 64x64 (forward, backward-data, backward-weight) in GFLOP/s.
Usage: python benchmarks/pytorch_reference.py --sizes 128,256 --repeats 5 [--threads 2]
       python benchmarks/pytorch_reference.py --device cuda --tf32 off|on|default [--batch 4]
       /usr/bin/time -f %M python benchmarks/pytorch_reference.py --translate 3000x2000
         (the generator's no_grad forward on one image, as `cyclegan test` runs it)
On CUDA every timing synchronises, and the peak of torch.cuda.max_memory_allocated is
reported. --tf32 off is strict FP32 (cudnn.allow_tf32 and cuda.matmul.allow_tf32 False);
default leaves PyTorch's settings (convolutions in TF32 on Ampere and later).
"""
import argparse, json, statistics, time
import torch
import torch.nn as nn


def resnet_generator(ngf=64, n_blocks=9, nc=3):
    class Block(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.conv_block = nn.Sequential(
                nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True),
                nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim))

        def forward(self, x):
            return x + self.conv_block(x)

    m = [nn.ReflectionPad2d(3), nn.Conv2d(nc, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
    for i in range(2):
        mult = 2 ** i
        m += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(ngf * mult * 2), nn.ReLU(True)]
    m += [Block(ngf * 4) for _ in range(n_blocks)]
    for i in range(2):
        mult = 2 ** (2 - i)
        m += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1),
              nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU(True)]
    m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, nc, 7), nn.Tanh()]
    return nn.Sequential(*m)


def n_layer_discriminator(ndf=64, n_layers=3, nc=3):
    seq = [nn.Conv2d(nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, n_layers):
        prev, mult = mult, min(2 ** n, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1), nn.InstanceNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]
    prev, mult = mult, min(2 ** n_layers, 8)
    seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1), nn.InstanceNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]
    seq += [nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
    return nn.Sequential(*seq)


DEVICE = torch.device("cpu")


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def iteration_time(size, ngf, n_blocks, repeats, batch=1):
    torch.manual_seed(0)
    GA, GB = resnet_generator(ngf, n_blocks).to(DEVICE), resnet_generator(ngf, n_blocks).to(DEVICE)
    DA, DB = n_layer_discriminator(ngf).to(DEVICE), n_layer_discriminator(ngf).to(DEVICE)
    optG = torch.optim.Adam(list(GA.parameters()) + list(GB.parameters()), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(list(DA.parameters()) + list(DB.parameters()), lr=2e-4, betas=(0.5, 0.999))
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    a, b = torch.randn(batch, 3, size, size, device=DEVICE), torch.randn(batch, 3, size, size, device=DEVICE)

    def gan(pred, real):
        return mse(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))

    # --amp: the forwards and losses under autocast (FP16), one GradScaler for both optimisers
    autocast = lambda: torch.autocast(DEVICE.type, dtype=torch.float16, enabled=AMP)
    scaler = torch.amp.GradScaler(DEVICE.type, enabled=AMP)

    def step():
        with autocast():
            fake_b = GA(a); rec_a = GB(fake_b); fake_a = GB(b); rec_b = GA(fake_a)
        for p in list(DA.parameters()) + list(DB.parameters()):
            p.requires_grad_(False)
        optG.zero_grad()
        with autocast():
            idt_a = GA(b); idt_b = GB(a)
            loss = (gan(DA(fake_b), True) + gan(DB(fake_a), True) + l1(rec_a, a) * 10 + l1(rec_b, b) * 10
                    + l1(idt_a, b) * 5 + l1(idt_b, a) * 5)
        scaler.scale(loss).backward(); scaler.step(optG)
        for p in list(DA.parameters()) + list(DB.parameters()):
            p.requires_grad_(True)
        optD.zero_grad()
        with autocast():
            loss_da = (gan(DA(b), True) + gan(DA(fake_b.detach()), False)) * 0.5
            loss_db = (gan(DB(a), True) + gan(DB(fake_a.detach()), False)) * 0.5
        scaler.scale(loss_da).backward()
        scaler.scale(loss_db).backward()
        scaler.step(optD)
        scaler.update()

    step(); step(); sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); step(); sync(); times.append(time.perf_counter() - t0)
    return statistics.median(times)


def conv_gflops(repeats):
    torch.manual_seed(0)
    x = torch.randn(1, 256, 64, 64, device=DEVICE, requires_grad=True)
    conv = nn.Conv2d(256, 256, 3, padding=1, padding_mode="reflect").to(DEVICE)
    flops = 2 * 256 * 64 * 64 * 256 * 9
    out = {}
    y = conv(x); gy = torch.randn_like(y)
    for name, fn in [("forward", lambda: conv(x)),
                     ("backward-data", lambda: torch.autograd.grad(conv(x), x, gy)),
                     ("backward-weight", lambda: torch.autograd.grad(conv(x), conv.weight, gy))]:
        fn(); sync()
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter(); fn(); sync(); ts.append(time.perf_counter() - t0)
        t = statistics.median(ts)
        if name != "forward":  # the autograd calls include a forward: subtract it
            t -= out["forward"]["seconds"]
        out[name] = {"seconds": t, "gflops": flops / t / 1e9}
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="128,256")
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--n_blocks", type=int, default=9)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--tf32", default="default", choices=["off", "on", "default"])
    ap.add_argument("--amp", action="store_true", help="the iterations under torch.autocast (FP16) with a GradScaler: "
                    "what `--precision mixed` follows")
    ap.add_argument("--translate", default="", help="WxH: only time the generator's no_grad forward on one WxH "
                    "image (what `cyclegan test` does; measure memory with /usr/bin/time -f %%M)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.translate:
        w, h = (int(v) for v in args.translate.split("x"))
        g = resnet_generator(args.ngf, args.n_blocks).to(args.device).eval()
        x = torch.rand(1, 3, h, w, device=args.device) * 2 - 1
        with torch.no_grad():
            t0 = time.perf_counter()
            y = g(x)
            if args.device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - t0
        print(json.dumps({"torch": torch.__version__, "translate": args.translate, "seconds": seconds,
                          "threads": torch.get_num_threads(), "mean": float(y.mean())}))
        raise SystemExit(0)
    DEVICE = torch.device(args.device)
    AMP = args.amp
    if args.tf32 != "default":
        torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
        torch.backends.cuda.matmul.allow_tf32 = args.tf32 == "on"
    result = {"torch": torch.__version__, "device": args.device, "tf32": args.tf32, "amp": args.amp, "batch": args.batch,
              "threads": torch.get_num_threads(), "conv_3x3_256_64x64": conv_gflops(args.repeats)}
    if args.device == "cuda":
        result["gpu"] = torch.cuda.get_device_name()
        torch.cuda.reset_peak_memory_stats()
    for s in [int(v) for v in args.sizes.split(",")]:
        result[f"iteration_{s}_ms"] = 1000 * iteration_time(s, args.ngf, args.n_blocks, max(1, args.repeats // 2), args.batch)
        if args.device == "cuda":
            result[f"iteration_{s}_peak_memory_bytes"] = torch.cuda.max_memory_allocated()
            torch.cuda.reset_peak_memory_stats()
    print(json.dumps(result, indent=1))
