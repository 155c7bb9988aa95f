#!/usr/bin/env python3
"""Trajectories of the reference AdaBelief (adabelief-pytorch) for `src/optim/adabelief.rs`.

Writes tests/fixtures/adabelief_reference.json: for each setting, two float64 parameter
tensors, the gradient of every step and the parameters after every step. The gradients are
those of a noisy quadratic evaluated at the reference's own parameters, so the Rust test
replays them and compares the parameters step by step (f64, 1e-12 relative).

    python3 -m venv venv && venv/bin/pip install torch==2.15.0 adabelief-pytorch==0.2.1
    venv/bin/python scripts/adabelief_reference.py

Versions used for the committed fixture: torch 2.15.0, adabelief-pytorch 0.2.1.
"""
import importlib.metadata
import json
import pathlib

import torch
from adabelief_pytorch import AdaBelief

STEPS = 36

# (name, optimizer arguments beyond lr); the reference's defaults are eps=1e-16,
# weight_decouple=True, rectify=True, degenerated_to_sgd=True, amsgrad=False, fixed_decay=False.
SETTINGS = [
    ("defaults, paper lr and weight decay", dict(weight_decay=1e-4)),
    ("rectify off", dict(weight_decay=1e-4, rectify=False)),
    ("L2 weight decay", dict(weight_decay=1e-2, weight_decouple=False)),
    ("L2 weight decay, rectify off", dict(weight_decay=1e-2, weight_decouple=False, rectify=False)),
    ("no SGD fallback", dict(weight_decay=1e-4, degenerated_to_sgd=False)),
    ("fixed decay", dict(weight_decay=1e-3, fixed_decay=True)),
    ("amsgrad, rectify off", dict(weight_decay=1e-4, amsgrad=True, rectify=False)),
    ("amsgrad, rectified", dict(weight_decay=1e-4, amsgrad=True)),
    ("eps 1e-8, betas 0.8/0.99", dict(weight_decay=1e-4, eps=1e-8, betas=(0.8, 0.99))),
]


def run(name, kwargs, seed):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(5,), (2, 3)]
    params = [torch.randn(s, generator=gen, dtype=torch.float64, requires_grad=True) for s in shapes]
    centres = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
    scales = [3.0, 0.2]
    lr = 1e-2
    opt = AdaBelief(params, lr=lr, print_change_log=False, **kwargs)
    case = {
        "name": name,
        "lr": lr,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()},
        "shapes": [list(s) for s in shapes],
        "initial": [p.detach().flatten().tolist() for p in params],
        "grads": [],
        "params": [],
    }
    for _ in range(STEPS):
        opt.zero_grad()
        grads = []
        for p, c, k in zip(params, centres, scales):
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            g = k * (p.detach() - c) + 0.5 * noise
            p.grad = g.clone()
            grads.append(g.flatten().tolist())
        opt.step()
        case["grads"].append(grads)
        case["params"].append([p.detach().flatten().tolist() for p in params])
    return case


def main():
    cases = [run(name, kwargs, seed) for seed, (name, kwargs) in enumerate(SETTINGS)]
    out = {
        "generator": "scripts/adabelief_reference.py",
        "torch": torch.__version__.split("+")[0],
        "adabelief_pytorch": importlib.metadata.version("adabelief-pytorch"),
        "steps": STEPS,
        "cases": cases,
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "adabelief_reference.json"
    path.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({len(cases)} cases x {STEPS} steps)")


if __name__ == "__main__":
    main()
