#!/usr/bin/python3
"""Exports qoda's example models from PyTorch to ONNX.

Export recipe (what qoda expects from a PyTorch user)
-----------------------------------------------------
For qoda to find exactly the parameters PyTorch trains, export in training
mode and without constant folding:

    torch.onnx.export(model, example_input, "model.onnx",
                      training=torch.onnx.TrainingMode.TRAINING,
                      do_constant_folding=False, opset_version=14)

Then every tensor of `model.named_parameters()` is a graph initializer under
its PyTorch name and shape, and qoda's trainable set equals
`model.named_parameters()`: weights used through a transpose (nn.Linear on a
3-D input becomes Transpose + MatMul) stay one parameter, and a tied weight
(one nn.Parameter registered in two modules) is exported once, under the name
`named_parameters()` reports (the first registration). BatchNorm running
statistics are exported too, as non-trainable buffers.

The usual eval-mode export (`torch.onnx.export(model, x, path)`: eval mode,
constant folding on) still imports, but PyTorch rewrites the graph: BatchNorm
is folded into the preceding convolution, whose fused weight and bias get
new names such as `onnx::Conv_193`, and transposed weights may be
pre-transposed into new tensors such as `onnx::MatMul_321`. The trainable set
is then sensible (every conv/linear weight, no running statistics) but no
longer matches `named_parameters()` by name.

Usage
-----
    /usr/bin/python3 export_models.py --mode train|eval --out DIR NAME...

NAME is one of the models below, `test` (the small models the lit tests use)
or `all`. For each NAME it writes DIR/NAME.onnx and DIR/NAME.params.json:

    {"model": NAME, "mode": "train", "opset": 14, "torch": "1.13.0",
     "input_shape": [1, 3, 64, 64], "input_dtype": "float32",
     "parameters": {name: shape, ...},     # model.named_parameters()
     "buffers": {name: shape, ...},        # model.named_buffers()
     "tied": {alias: name, ...}}           # extra names of shared parameters

Models (weights are random: weights=None, nothing is downloaded):
    resnet18, mobilenet_v2   torchvision, batch 1, 64x64 images (tests)
    resnet50, vit_b_16       torchvision, batch 1, 224x224 (perf measurement)
    transformer_lm           nn.TransformerEncoder language model: token and
                             position embeddings, output projection tied to
                             the token embedding
    dcgan_generator,         DCGAN for 28x28 one-channel images (Fashion-MNIST)
    dcgan_discriminator      or 64x64 three-channel ones (--image-size 64)
"""

import argparse
import json
import os
import sys
import warnings

import torch
from torch import nn

# torch 1.13's default export opset. 14 to 17 export every model here; 13
# lacks Trilu (the language model's causal mask).
OPSET = 14
OPSETS = range(14, 18)


# ---- models -----------------------------------------------------------------

class TransformerLM(nn.Module):
    """A small causal language model built from torch.nn parts.

    The output projection shares its weight with the token embedding (weight
    tying), so the exported graph uses one tensor through a Gather and, via a
    Transpose, a MatMul.
    """

    def __init__(self, vocab=512, d_model=64, nhead=4, layers=2, max_len=32):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, d_model)
        self.pos_emb = nn.Embedding(max_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, 4 * d_model,
                                           dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers,
                                             enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)
        self.head.weight = self.tok_emb.weight  # tied

    def forward(self, tokens):
        seq = tokens.shape[1]
        pos = torch.arange(seq, device=tokens.device).unsqueeze(0)
        h = self.tok_emb(tokens) + self.pos_emb(pos)
        causal = torch.triu(
            torch.full((seq, seq), float("-inf"), device=tokens.device), 1)
        h = self.encoder(h, mask=causal)
        return self.head(self.norm(h))


def dcgan_generator(image_size, nz=100, ngf=64):
    """DCGAN generator (Radford et al.): z [N, nz, 1, 1] -> image in [-1, 1]."""
    if image_size == 28:
        return nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 7, 1, 0, bias=False),   # 7x7
            nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),  # 14x14
            nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False),        # 28x28
            nn.Tanh())
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),       # 4x4
        nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),  # 8x8
        nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),  # 16x16
        nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),      # 32x32
        nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False),            # 64x64
        nn.Tanh())


def dcgan_discriminator(image_size, ndf=64):
    """DCGAN discriminator: image -> probability that it is real, [N, 1]."""
    if image_size == 28:
        return nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False),                 # 14x14
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),           # 7x7
            nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False),             # 1x1
            nn.Flatten(), nn.Sigmoid())
    return nn.Sequential(
        nn.Conv2d(3, ndf, 4, 2, 1, bias=False),                     # 32x32
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),               # 16x16
        nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),           # 8x8
        nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),           # 4x4
        nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),                 # 1x1
        nn.Flatten(), nn.Sigmoid())


def _torchvision(name, image_size):
    import torchvision  # only the torchvision models need it
    kwargs = {"weights": None}
    if name == "vit_b_16":
        kwargs["image_size"] = image_size
    model = getattr(torchvision.models, name)(**kwargs)
    return model, torch.randn(1, 3, image_size, image_size)


# name -> (builder(image_size) -> (model, example input), default image size,
#          image sizes it accepts or None for any)
MODELS = {
    "resnet18": (lambda s: _torchvision("resnet18", s), 64, None),
    "mobilenet_v2": (lambda s: _torchvision("mobilenet_v2", s), 64, None),
    "resnet50": (lambda s: _torchvision("resnet50", s), 224, None),
    "vit_b_16": (lambda s: _torchvision("vit_b_16", s), 224, None),
    "transformer_lm": (lambda s: (TransformerLM(),
                                  torch.randint(0, 512, (1, 16))), None, ()),
    "dcgan_generator": (lambda s: (dcgan_generator(s),
                                   torch.randn(1, 100, 1, 1)), 28, (28, 64)),
    "dcgan_discriminator": (lambda s: (dcgan_discriminator(s),
                                       torch.randn(1, 1 if s == 28 else 3,
                                                   s, s)), 28, (28, 64)),
}
TEST_MODELS = ["resnet18", "mobilenet_v2", "transformer_lm",
               "dcgan_generator", "dcgan_discriminator"]


# ---- export -----------------------------------------------------------------

def tied_aliases(model):
    """Maps every extra name of a shared nn.Parameter to the name that
    named_parameters() reports for it (torch 1.13 has no remove_duplicate)."""
    first = {}
    aliases = {}
    for mod_name, module in model.named_modules():
        for p_name, p in module._parameters.items():
            if p is None:
                continue
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            if id(p) in first:
                aliases[full] = first[id(p)]
            else:
                first[id(p)] = full
    return aliases


def export(name, mode, out_dir, opset, image_size):
    build, default_size, sizes = MODELS[name]
    if sizes == ():  # not an image model
        if image_size is not None:
            sys.exit(f"export_models.py: {name} takes no image size")
    else:
        image_size = image_size or default_size
        if sizes is not None and image_size not in sizes:
            sys.exit(f"export_models.py: {name} supports image sizes "
                     f"{', '.join(map(str, sizes))}, not {image_size}")
    torch.manual_seed(0)
    model, x = build(image_size)
    onnx_path = os.path.join(out_dir, name + ".onnx")
    if mode == "train":
        torch.onnx.export(model, x, onnx_path, opset_version=opset,
                          training=torch.onnx.TrainingMode.TRAINING,
                          do_constant_folding=False)
    else:
        model.eval()
        torch.onnx.export(model, x, onnx_path, opset_version=opset)
    info = {
        "model": name,
        "mode": mode,
        "opset": opset,
        "torch": torch.__version__,
        "input_shape": list(x.shape),
        "input_dtype": str(x.dtype).replace("torch.", ""),
        "parameters": {n: list(p.shape) for n, p in model.named_parameters()},
        "buffers": {n: list(b.shape) for n, b in model.named_buffers()},
        "tied": tied_aliases(model),
    }
    with open(os.path.join(out_dir, name + ".params.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    return onnx_path


def main():
    ap = argparse.ArgumentParser(
        description="Export qoda's example models from PyTorch to ONNX "
                    "(see the recipe at the top of this file).")
    ap.add_argument("--mode", choices=["train", "eval"], required=True,
                    help="train: TrainingMode.TRAINING, no constant folding "
                         "(qoda's recipe); eval: torch's default export")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--opset", type=int, default=OPSET, choices=OPSETS,
                    help=f"ONNX opset, 14 to 17 (default {OPSET})")
    ap.add_argument("--image-size", type=int,
                    help="input height and width for the image models "
                         "(default: per model, see --help of the file)")
    ap.add_argument("names", nargs="+", metavar="NAME",
                    help=f"{', '.join(MODELS)}, test or all")
    args = ap.parse_args()

    names = []
    for n in args.names:
        if n == "all":
            names += list(MODELS)
        elif n == "test":
            names += TEST_MODELS
        elif n in MODELS:
            names.append(n)
        else:
            ap.error(f"unknown model '{n}'; choose from "
                     f"{', '.join(MODELS)}, test, all")
    os.makedirs(args.out, exist_ok=True)
    # The exporter warns about every BatchNorm in-place update it drops and
    # about tracing; none of it concerns the exported graph's parameters.
    warnings.filterwarnings("ignore")
    for n in dict.fromkeys(names):
        print(export(n, args.mode, args.out, args.opset, args.image_size))


if __name__ == "__main__":
    main()
