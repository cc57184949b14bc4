"""Writes the pix2pix / U-Net reference fixture:

  Tests/Fixtures/pix2pix_reference.safetensors  (+ pix2pix_reference.json)
  Tests/Fixtures/pth/unet128_ngf4_zip.pth        (torch.save, zip format)
  Tests/Fixtures/pth/unet128_ngf4_legacy.pth     (torch.save, legacy format)

The modules below re-create the official junyanz/pytorch-CycleGAN-and-pix2pix classes
(UnetGenerator, UnetSkipConnectionBlock, NLayerDiscriminator, init_weights('normal', 0.02),
GANLoss('vanilla'), Pix2PixModel.optimize_parameters) with identical state-dict keys,
except that nn.Dropout(0.5) is replaced by StreamDropout, whose masks come from a
counter-based generator the Swift side reproduces exactly (see NOTES).

Deterministic: CPU, float32, one thread, fixed seeds. No numpy needed.
Run:  ~/.cache/torch-venv/bin/python Tests/Fixtures/make_pix2pix_reference.py
"""
import functools
import json
import os
import struct
import sys
from array import array

import torch
import torch.nn as nn

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)
assert sys.byteorder == "little"

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_ST = os.path.join(HERE, "pix2pix_reference.safetensors")
OUT_JSON = os.path.join(HERE, "pix2pix_reference.json")
OUT_PTH_ZIP = os.path.join(HERE, "pth", "unet128_ngf4_zip.pth")
OUT_PTH_LEGACY = os.path.join(HERE, "pth", "unet128_ngf4_legacy.pth")

# ----------------------------------------------------------------------------------------
# Counter-based dropout randomness (mirrors CPUBackend.mix64 / uniform01 and the
# splitmix64 RandomStream of the Swift side). Exact integer arithmetic mod 2^64.
# ----------------------------------------------------------------------------------------
GOLDEN = 0x9E3779B97F4A7C15
M64 = (1 << 64) - 1


def mix64(seed, counter):
    z = (seed + ((counter + 1) * GOLDEN)) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def uniform01(seed, counter):
    # ((top 24 bits) + 0.5) / 2^24: exact in float32 (and in the Python double).
    return ((mix64(seed, counter) >> 40) + 0.5) / 16777216.0


class RandomStream:  # splitmix64
    def __init__(self, state):
        self.state = state & M64

    def next(self):
        self.state = (self.state + GOLDEN) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def dropout_mask(seed, shape):
    n = 1
    for s in shape:
        n *= s
    vals = [2.0 if uniform01(seed, i) >= 0.5 else 0.0 for i in range(n)]
    return torch.tensor(vals, dtype=torch.float32).reshape(shape)


class StreamDropout(nn.Module):
    """Stands in for nn.Dropout(0.5). Training: seed = stream.next() at call time; element i
    (flat NCHW index over the whole batch tensor) is kept iff uniform01(seed, i) >= 0.5;
    output x * mask, mask in {2.0, 0.0}. Eval: identity. No parameters or buffers, so the
    state-dict keys are those of the official model."""

    def __init__(self, stream_holder):
        super().__init__()
        # A list so that the stream is shared (and not registered as a submodule).
        self._holder = stream_holder  # [RandomStream, call log shared by the model's dropouts]

    def forward(self, x):
        if not self.training:
            return x
        seed = self._holder[0].next()
        self._holder[1].append({"seed": str(seed), "shape": list(x.shape)})  # for the record
        return x * dropout_mask(seed, tuple(x.shape))


# ----------------------------------------------------------------------------------------
# Official networks (networks.py), dropout swapped for StreamDropout.
# ----------------------------------------------------------------------------------------
class UnetSkipConnectionBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, norm_layer=nn.BatchNorm2d, use_dropout=False, stream=None):
        super().__init__()
        self.outermost = outermost
        if type(norm_layer) == functools.partial:
            use_bias = norm_layer.func == nn.InstanceNorm2d
        else:
            use_bias = norm_layer == nn.InstanceNorm2d
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = norm_layer(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = norm_layer(outer_nc)

        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            down = [downconv]
            up = [uprelu, upconv, nn.Tanh()]
            model = down + [submodule] + up
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1,
                                        bias=use_bias)
            down = [downrelu, downconv]
            up = [uprelu, upconv, upnorm]
            model = down + up
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1,
                                        bias=use_bias)
            down = [downrelu, downconv, downnorm]
            up = [uprelu, upconv, upnorm]
            if use_dropout:
                model = down + [submodule] + up + [StreamDropout(stream)]  # official: nn.Dropout(0.5)
            else:
                model = down + [submodule] + up
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        else:  # add skip connections (the in-place LeakyReLU above also rewrites x, as officially)
            return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, num_downs, ngf=64, norm_layer=nn.BatchNorm2d,
                 use_dropout=False, stream_state=0):
        super().__init__()
        self._stream = [RandomStream(stream_state), []]
        s = self._stream
        unet_block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, input_nc=None, submodule=None,
                                             norm_layer=norm_layer, innermost=True)
        for _ in range(num_downs - 5):
            unet_block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, input_nc=None, submodule=unet_block,
                                                 norm_layer=norm_layer, use_dropout=use_dropout, stream=s)
        unet_block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, input_nc=None, submodule=unet_block,
                                             norm_layer=norm_layer)
        unet_block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, input_nc=None, submodule=unet_block,
                                             norm_layer=norm_layer)
        unet_block = UnetSkipConnectionBlock(ngf, ngf * 2, input_nc=None, submodule=unet_block,
                                             norm_layer=norm_layer)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=unet_block,
                                             outermost=True, norm_layer=norm_layer)

    def forward(self, input):
        return self.model(input)


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3, norm_layer=nn.BatchNorm2d):
        super().__init__()
        if type(norm_layer) == functools.partial:
            use_bias = norm_layer.func == nn.InstanceNorm2d
        else:
            use_bias = norm_layer == nn.InstanceNorm2d
        kw = 4
        padw = 1
        sequence = [nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]
        nf_mult = 1
        nf_mult_prev = 1
        for n in range(1, n_layers):
            nf_mult_prev = nf_mult
            nf_mult = min(2 ** n, 8)
            sequence += [
                nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=2, padding=padw, bias=use_bias),
                norm_layer(ndf * nf_mult),
                nn.LeakyReLU(0.2, True),
            ]
        nf_mult_prev = nf_mult
        nf_mult = min(2 ** n_layers, 8)
        sequence += [
            nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=1, padding=padw, bias=use_bias),
            norm_layer(ndf * nf_mult),
            nn.LeakyReLU(0.2, True),
        ]
        sequence += [nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw)]
        self.model = nn.Sequential(*sequence)

    def forward(self, input):
        return self.model(input)


def init_weights(net, init_type="normal", init_gain=0.02):
    """Official init_weights, 'normal' branch; net.apply is post-order, as officially."""
    def init_func(m):
        classname = m.__class__.__name__
        if hasattr(m, "weight") and (classname.find("Conv") != -1 or classname.find("Linear") != -1):
            assert init_type == "normal"
            nn.init.normal_(m.weight.data, 0.0, init_gain)
            if hasattr(m, "bias") and m.bias is not None:
                nn.init.constant_(m.bias.data, 0.0)
        elif classname.find("BatchNorm2d") != -1:
            nn.init.normal_(m.weight.data, 1.0, init_gain)
            nn.init.constant_(m.bias.data, 0.0)
    net.apply(init_func)


NORM = functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)


class GANLossVanilla(nn.Module):
    """Official GANLoss('vanilla'): BCEWithLogits against 1.0 / 0.0 expanded to the prediction."""
    def __init__(self):
        super().__init__()
        self.register_buffer("real_label", torch.tensor(1.0))
        self.register_buffer("fake_label", torch.tensor(0.0))
        self.loss = nn.BCEWithLogitsLoss()

    def forward(self, prediction, target_is_real):
        target = (self.real_label if target_is_real else self.fake_label).expand_as(prediction)
        return self.loss(prediction, target)


def set_requires_grad(net, flag):
    for p in net.parameters():
        p.requires_grad = flag


def float_state(net):
    """Every float state-dict entry (parameters and running stats), detached clones."""
    return {k: v.detach().clone() for k, v in net.state_dict().items() if v.is_floating_point()}


def n_params(net):
    return sum(p.numel() for p in net.parameters())


# ----------------------------------------------------------------------------------------
# Structure check: unet_256, ngf 64, batch norm, dropout -> 54,413,955 parameters.
# ----------------------------------------------------------------------------------------
tensors = {}

big = UnetGenerator(3, 3, 8, 64, norm_layer=NORM, use_dropout=True)
big_count = n_params(big)
print(f"parameter check: UnetGenerator(3, 3, num_downs=8, ngf=64, batch, dropout) = {big_count:,} "
      f"(expected 54,413,955) -> {'OK' if big_count == 54413955 else 'MISMATCH'}")
assert big_count == 54413955
big_keys = list(big.state_dict().keys())
for k in ["model.model.0.weight", "model.model.1.model.1.weight", "model.model.1.model.2.running_mean",
          "model.model.3.weight", "model.model.3.bias"]:
    assert k in big_keys, k
assert "model.model.0.bias" not in big_keys
del big

# ----------------------------------------------------------------------------------------
# Part 1: U-Net (unet_128 structure), ngf 4, batch 2, 128x128; one training forward/backward
# and one eval forward.
# ----------------------------------------------------------------------------------------
UNET_CFG = dict(input_nc=3, output_nc=3, ngf=4, num_downs=7, norm="batch", use_dropout=True,
                batch_size=2, image_size=128, init_type="normal", init_gain=0.02, seed=1,
                dropout_stream_state=str(0xD1B54A32D192ED03))
torch.manual_seed(UNET_CFG["seed"])
unet = UnetGenerator(3, 3, UNET_CFG["num_downs"], UNET_CFG["ngf"], norm_layer=NORM, use_dropout=True,
                     stream_state=int(UNET_CFG["dropout_stream_state"]))
init_weights(unet, "normal", 0.02)
unet.train()
UNET_CFG["parameters"] = n_params(unet)
print(f"unet (part 1) parameters: {UNET_CFG['parameters']:,}")

init_sd_full = {k: v.detach().clone() for k, v in unet.state_dict().items()}  # incl. num_batches_tracked
for k, v in float_state(unet).items():
    tensors[f"unet/init/{k}"] = v

x = (torch.rand(2, 3, 128, 128) * 2 - 1).requires_grad_(True)
y = unet(x)
gy = torch.randn(y.shape)
(y * gy).sum().backward()
tensors["unet/x"] = x.detach().clone()
tensors["unet/gy"] = gy
tensors["unet/y"] = y.detach().clone()
tensors["unet/grad_x"] = x.grad.detach().clone()
for k, p in unet.named_parameters():
    tensors[f"unet/grad/{k}"] = p.grad.detach().clone()
for k, v in unet.state_dict().items():
    if k.endswith("running_mean") or k.endswith("running_var"):
        tensors[f"unet/after/{k}"] = v.detach().clone()
unet.eval()
with torch.no_grad():
    tensors["unet/y_eval"] = unet(x.detach())

os.makedirs(os.path.dirname(OUT_PTH_ZIP), exist_ok=True)
torch.save(init_sd_full, OUT_PTH_ZIP)
torch.save(init_sd_full, OUT_PTH_LEGACY, _use_new_zipfile_serialization=False)

# ----------------------------------------------------------------------------------------
# Part 2: two iterations of Pix2PixModel.optimize_parameters.
# ----------------------------------------------------------------------------------------
P2P_CFG = dict(input_nc=3, output_nc=3, ngf=4, ndf=8, num_downs=7, netG="unet_128", netD="basic",
               n_layers_D=3, norm="batch", use_dropout=True, batch_size=2, image_size=128,
               lambda_L1=100.0, lr=0.0002, beta1=0.5, beta2=0.999, eps=1e-8, gan_mode="vanilla",
               pool_size=0, direction="AtoB", init_type="normal", init_gain=0.02, seed=2,
               dropout_stream_state=str(0x0123456789ABCDEF))
torch.manual_seed(P2P_CFG["seed"])
netG = UnetGenerator(3, 3, P2P_CFG["num_downs"], P2P_CFG["ngf"], norm_layer=NORM, use_dropout=True,
                     stream_state=int(P2P_CFG["dropout_stream_state"]))
init_weights(netG, "normal", 0.02)
netD = NLayerDiscriminator(6, P2P_CFG["ndf"], P2P_CFG["n_layers_D"], norm_layer=NORM)
init_weights(netD, "normal", 0.02)
netG.train()
netD.train()
P2P_CFG["parameters_G"] = n_params(netG)
P2P_CFG["parameters_D"] = n_params(netD)
print(f"pix2pix G parameters: {P2P_CFG['parameters_G']:,}, D parameters: {P2P_CFG['parameters_D']:,}")
for k, v in float_state(netG).items():
    tensors[f"pix2pix/init/G/{k}"] = v
for k, v in float_state(netD).items():
    tensors[f"pix2pix/init/D/{k}"] = v

criterionGAN = GANLossVanilla()
criterionL1 = nn.L1Loss()
optimizer_G = torch.optim.Adam(netG.parameters(), lr=P2P_CFG["lr"], betas=(P2P_CFG["beta1"], 0.999))
optimizer_D = torch.optim.Adam(netD.parameters(), lr=P2P_CFG["lr"], betas=(P2P_CFG["beta1"], 0.999))

losses = {}
for step in (1, 2):
    real_A = torch.rand(2, 3, 128, 128) * 2 - 1
    real_B = torch.rand(2, 3, 128, 128) * 2 - 1
    tensors[f"pix2pix/step{step}/real_A"] = real_A.clone()
    tensors[f"pix2pix/step{step}/real_B"] = real_B.clone()

    fake_B = netG(real_A)                                        # forward()
    if step == 1:
        tensors["pix2pix/step1/fake_B"] = fake_B.detach().clone()
    # update D
    set_requires_grad(netD, True)
    optimizer_D.zero_grad()
    pred_fake = netD(torch.cat((real_A, fake_B), 1).detach())
    loss_D_fake = criterionGAN(pred_fake, False)
    pred_real = netD(torch.cat((real_A, real_B), 1))
    loss_D_real = criterionGAN(pred_real, True)
    loss_D = (loss_D_fake + loss_D_real) * 0.5
    loss_D.backward()
    if step == 1:
        for k, p in netD.named_parameters():
            tensors[f"pix2pix/step1/grad/D/{k}"] = p.grad.detach().clone()
    optimizer_D.step()
    # update G
    set_requires_grad(netD, False)
    optimizer_G.zero_grad()
    pred_fake = netD(torch.cat((real_A, fake_B), 1))
    loss_G_GAN = criterionGAN(pred_fake, True)
    loss_G_L1 = criterionL1(fake_B, real_B) * P2P_CFG["lambda_L1"]
    loss_G = loss_G_GAN + loss_G_L1
    loss_G.backward()
    if step == 1:
        for k, p in netG.named_parameters():
            tensors[f"pix2pix/step1/grad/G/{k}"] = p.grad.detach().clone()
    optimizer_G.step()

    for k, v in float_state(netG).items():
        tensors[f"pix2pix/after{step}/G/{k}"] = v
    for k, v in float_state(netD).items():
        tensors[f"pix2pix/after{step}/D/{k}"] = v
    losses[step] = dict(G_GAN=loss_G_GAN.item(), G_L1=loss_G_L1.item(),
                        D_real=loss_D_real.item(), D_fake=loss_D_fake.item())
    print(f"step{step} losses: {losses[step]}")


# ----------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------
def tensor_bytes(t):
    t = t.detach().to(torch.float32).contiguous()
    return array("f", t.flatten().tolist()).tobytes()


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, off = [], 0
    for k in sorted(tensors):
        b = tensor_bytes(tensors[k])
        header[k] = {"dtype": "F32", "shape": list(tensors[k].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    out = {}
    for k, info in header.items():
        assert info["dtype"] == "F32"
        b0, b1 = info["data_offsets"]
        a = array("f")
        a.frombytes(data[base + b0: base + b1])
        out[k] = torch.tensor(a.tolist(), dtype=torch.float32).reshape(info["shape"])
    return out, len(data) - base


for k, v in tensors.items():
    assert v.dtype == torch.float32, k
write_safetensors(OUT_ST, tensors, {"torch": torch.__version__, "generator": "make_pix2pix_reference.py"})

NOTES = (
    "Dropout: every official nn.Dropout(0.5) (the num_downs-5 middle U-Net blocks, after their "
    "up-norm) is replaced by a stream dropout so Swift can reproduce the masks. Each generator "
    "owns one splitmix64 RandomStream, initialised with dropout_stream_state (decimal u64). In "
    "training mode, each dropout layer, at the moment it is called, draws seed = stream.next(); "
    "element i (flat NCHW index over the whole batch tensor) is kept iff uniform01(seed, i) >= 0.5, "
    "uniform01(seed, i) = ((mix64(seed, i) >> 40) + 0.5) / 2^24 with mix64 = CPUBackend.mix64; "
    "output = x * mask, mask 2.0 (kept) or 0.0. Call order is execution order: the deepest dropout "
    "block (the one wrapping the innermost block) runs first, then the next one out. Eval: identity, "
    "no draw. Part 1 draws twice (one training forward); part 2 draws twice per G forward, one G "
    "forward per iteration (fake_B is reused for the D and G steps). dropout_calls lists the "
    "(seed, shape) of each call in order. All float state-dict entries are stored (incl. BatchNorm "
    "running stats); num_batches_tracked is not stored. Adam: torch.optim.Adam defaults "
    "(eps 1e-8, no weight decay). In-place LeakyReLU/ReLU as officially."
)
meta = {
    "unet": UNET_CFG,
    "pix2pix": P2P_CFG,
    "step1_losses": losses[1],
    "step2_losses": losses[2],
    "dropout_calls": {"unet": unet._stream[1], "pix2pix_G": netG._stream[1]},
    "notes": NOTES,
    "torch": torch.__version__,
}
with open(OUT_JSON, "w") as f:
    json.dump(meta, f, indent=1, sort_keys=True)
    f.write("\n")

# ----------------------------------------------------------------------------------------
# Verification
# ----------------------------------------------------------------------------------------
back, data_len = read_safetensors(OUT_ST)
assert set(back) == set(tensors), "tensor names differ"
for k, v in tensors.items():
    assert back[k].shape == v.shape and torch.equal(back[k], v), k
assert data_len == sum(v.numel() * 4 for v in tensors.values())
for p in (OUT_PTH_ZIP, OUT_PTH_LEGACY):
    sd = torch.load(p, weights_only=True)
    assert list(sd) == list(init_sd_full), p
    for k, v in init_sd_full.items():
        assert torch.equal(sd[k], v), (p, k)
for k, v in init_sd_full.items():
    if v.is_floating_point():
        assert torch.equal(back[f"unet/init/{k}"], v), k
print(f"verified {len(tensors)} tensors read back bit-exact; "
      f"{os.path.getsize(OUT_ST):,} bytes in {os.path.relpath(OUT_ST)}")
for p in (OUT_JSON, OUT_PTH_ZIP, OUT_PTH_LEGACY):
    print(f"{os.path.getsize(p):,} bytes in {os.path.relpath(p)}")
