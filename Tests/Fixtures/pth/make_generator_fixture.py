"""Writes tiny_G.pth (zip), tiny_G_legacy.pth and tiny_G_io.safetensors: a 6-block
ResnetGenerator (ngf 4) saved by real torch.save in both formats, with an input and
PyTorch's output for it, so the Swift tests can check a native .pth import end to end.
Needs torch (e.g. ~/.cache/torch-venv/bin/python); run from the repository root."""
import json, struct, sys
import torch
sys.path.insert(0, "benchmarks")
from pytorch_reference import resnet_generator

class ResnetGenerator(torch.nn.Module):
    """The official class keeps its layers in `self.model`: keys model.<i>.*."""
    def __init__(self):
        super().__init__()
        self.model = resnet_generator(ngf=4, n_blocks=6)

    def forward(self, x):
        return self.model(x)

torch.manual_seed(5)
g = ResnetGenerator()
for m in g.modules():
    if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
        torch.nn.init.normal_(m.weight, 0.0, 0.2)
        torch.nn.init.normal_(m.bias, 0.0, 0.1)
x = torch.rand(1, 3, 20, 24) * 2 - 1
with torch.no_grad():
    y = g(x)
out = "Tests/Fixtures/pth/"
torch.save(g.state_dict(), out + "tiny_G.pth")
torch.save(g.state_dict(), out + "tiny_G_legacy.pth", _use_new_zipfile_serialization=False)

def safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        b = t.contiguous().numpy().astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)

safetensors(out + "tiny_G_io.safetensors", {"input": x, "output": y})
print("wrote tiny_G.pth, tiny_G_legacy.pth, tiny_G_io.safetensors")
