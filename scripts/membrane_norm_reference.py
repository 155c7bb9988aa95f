#!/usr/bin/env python3
"""Forward and backward passes of the reference membrane normalizations for `src/norm/membrane.rs`.

Writes tests/fixtures/membrane_norm_reference.json. Each case is one of the paper's baselines
as its reference implements it, run in float64 on membrane potentials shaped
[T, N, C, H, W] (SpikingJelly's multi-step layout; the Rust test swaps T and N):

- "bn": SpikingJelly 2.0 `layer.BatchNorm2d(step_mode="m")` (PyTorch's BatchNorm2d over
  T·N samples), learned γ and β.
- "bntt": SpikingJelly 2.0 `layer.BatchNormThroughTime2d` (one BatchNorm2d per step with its
  bias removed, as in Kim & Panda's code): a learned scale per step and channel, no shift.
- "tdbn-folded": SpikingJelly 2.0 `layer.ThresholdDependentBatchNorm2d(alpha, v_th)`: γ
  initialized to α·V_th and learned.
- "tdbn-paper": Zheng et al. 2021, eq. 6: y = λ·(α·V_th·x̂) + β with λ (initialized to 1) and β
  learned, α·V_th a constant; written with PyTorch's BatchNorm2d(affine=False).

For each case: the initial parameters, then random parameters set in their place, two
training steps (input, upstream gradient g of the loss sum(y·g), output, input gradient,
parameter gradients), the running statistics after them, and an evaluation-mode output.

    python3 -m venv venv && venv/bin/pip install torch==2.15.0 spikingjelly==2.0.0
    venv/bin/python scripts/membrane_norm_reference.py

Versions used for the committed fixture: torch 2.15.0, spikingjelly 2.0.0.
"""
import importlib.metadata
import json
import pathlib

import torch
from spikingjelly.activation_based import functional, layer

T, N, C, H, W = 4, 3, 2, 2, 3
ALPHA, V_TH = 1.0, 10.0


class TdBnPaper(torch.nn.Module):
    """tdBN as Zheng et al. write it: a learned λ on top of the constant α·V_th."""

    def __init__(self, channels):
        super().__init__()
        self.bn = torch.nn.BatchNorm2d(channels, affine=False)
        self.weight = torch.nn.Parameter(torch.ones(channels))  # λ
        self.bias = torch.nn.Parameter(torch.zeros(channels))  # β

    def forward(self, x_seq):
        y = self.bn(x_seq.flatten(0, 1)).unflatten(0, x_seq.shape[:2])
        shape = (1, 1, -1, 1, 1)
        return self.weight.view(shape) * (ALPHA * V_TH) * y + self.bias.view(shape)

    def stats(self):
        return self.bn.running_mean, self.bn.running_var


def build(name):
    if name == "bn":
        m = layer.BatchNorm2d(C, step_mode="m")
        return m, {"scale": [m.weight], "shift": [m.bias]}, lambda: (m.running_mean, m.running_var)
    if name == "bntt":
        m = layer.BatchNormThroughTime2d(T, C, step_mode="m")
        assert all(bn.bias is None for bn in m.bn_list)
        stats = lambda: (
            torch.cat([bn.running_mean for bn in m.bn_list]),
            torch.cat([bn.running_var for bn in m.bn_list]),
        )
        return m, {"scale": [bn.weight for bn in m.bn_list]}, stats
    if name == "tdbn-folded":
        m = layer.ThresholdDependentBatchNorm2d(ALPHA, V_TH, num_features=C)
        return m, {"scale": [m.weight], "shift": [m.bias]}, lambda: (m.running_mean, m.running_var)
    if name == "tdbn-paper":
        m = TdBnPaper(C)
        return m, {"scale": [m.weight], "shift": [m.bias]}, m.stats
    raise ValueError(name)


def flat(tensors):
    return torch.cat([t.detach().flatten() for t in tensors]).tolist()


def run(name, seed):
    gen = torch.Generator().manual_seed(seed)
    m, params, stats = build(name)
    m = m.double()
    case = {"name": name, "initial": {k: flat(v) for k, v in params.items()}}
    with torch.no_grad():
        for tensors in params.values():
            for p in tensors:
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) + 1.0)
    case["params"] = {k: flat(v) for k, v in params.items()}
    case["steps"] = []
    m.train()
    for _ in range(2):
        functional.reset_net(m)
        x = (3.0 * torch.randn(T, N, C, H, W, generator=gen, dtype=torch.float64) + 2.0).requires_grad_()
        g = torch.randn(T, N, C, H, W, generator=gen, dtype=torch.float64)
        for tensors in params.values():
            for p in tensors:
                p.grad = None
        y = m(x)
        (y * g).sum().backward()
        case["steps"].append(
            {
                "input": flat([x]),
                "upstream": flat([g]),
                "output": flat([y]),
                "input_grad": flat([x.grad]),
                "param_grads": {k: flat([p.grad for p in v]) for k, v in params.items()},
            }
        )
    mean, var = stats()
    case["running_mean"] = flat([mean])
    case["running_var"] = flat([var])
    m.eval()
    functional.reset_net(m)
    x = 3.0 * torch.randn(T, N, C, H, W, generator=gen, dtype=torch.float64) + 2.0
    with torch.no_grad():
        case["eval"] = {"input": flat([x]), "output": flat([m(x)])}
    return case


def main():
    names = ["bn", "bntt", "tdbn-folded", "tdbn-paper"]
    out = {
        "generator": "scripts/membrane_norm_reference.py",
        "torch": torch.__version__.split("+")[0],
        "spikingjelly": importlib.metadata.version("spikingjelly"),
        "shape_tnchw": [T, N, C, H, W],
        "alpha_v_th": ALPHA * V_TH,
        "cases": [run(name, seed) for seed, name in enumerate(names)],
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "membrane_norm_reference.json"
    path.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({len(names)} cases)")


if __name__ == "__main__":
    main()
