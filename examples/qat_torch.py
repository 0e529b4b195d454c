"""Quantization-aware training with PyTorch on scikit-learn's digits: an MLP with 3-bit weights.

1. train the float MLP;
2. quantize its weights to 3 bits as they are (post-training quantization, the baseline);
3. fine-tune with smoothround.nn: every weight gets a learned-step Quantizer (per output channel) whose rounding
   is smooth, with k annealed geometrically from 1 (nearly the identity) to 200 (nearly hard rounding);
4. evaluate in eval() mode, where the weights are exactly integer codes times their scales.

    python examples/qat_torch.py            # a few seconds
    python examples/qat_torch.py --compile  # the QAT loop under torch.compile(fullgraph=True)
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from smoothround import schedules
from smoothround.nn import quantize_weights, set_step


def data(seed: int) -> tuple[torch.Tensor, ...]:
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.3, random_state=seed, stratify=digits.target
    )
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    as_y = lambda a: torch.tensor(a, dtype=torch.int64)  # noqa: E731
    return as_x(x_train), as_x(x_test), as_y(y_train), as_y(y_test)


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def fit(model, forward, x, y, *, epochs, lr, batch, seed, on_step=None) -> float:
    """Train with Adam on shuffled full batches; return the seconds the first step took (compilation)."""
    start = time.perf_counter()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    step, first = 0, 0.0
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for lo in range(0, len(x) - batch + 1, batch):  # full batches only: one shape, one compiled graph
            idx = order[lo : lo + batch]
            if on_step is not None:
                on_step(step)
            loss = torch.nn.functional.cross_entropy(forward(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step == 0:
                first = time.perf_counter() - start
            step += 1
    return first


def weight_codes(model: torch.nn.Module) -> list[int]:
    """How many distinct integer codes each quantized layer uses in eval() (at most 2^bits)."""
    model.eval()
    counts = []
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            quantizer = module.parametrizations.weight[0]
            codes = (module.weight / quantizer.scale).detach()
            assert torch.allclose(codes, codes.round(), rtol=0, atol=1e-4)  # integers, up to the division
            counts.append(int(codes.round().unique().numel()))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bits", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30, help="float training epochs (QAT runs as many)")
    parser.add_argument("--quick", action="store_true", help="fewer epochs, for the tests")
    parser.add_argument("--compile", action="store_true", help="QAT under torch.compile(fullgraph=True)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--straight-through", default="false", choices=["false", "identity", "smooth"],
        help="false: smooth forward, k annealed (default); identity: the classic STE (LSQ)",
    )  # fmt: skip
    args = parser.parse_args()
    epochs = 12 if args.quick else args.epochs
    batch = 64
    # one thread: these matrices are tiny, and on a busy machine a second OpenMP thread spins at every barrier
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    x_train, x_test, y_train, y_test = data(args.seed)

    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    start = time.perf_counter()
    fit(model, model, x_train, y_train, epochs=epochs, lr=1e-2, batch=batch, seed=args.seed)
    float_time = time.perf_counter() - start
    print(f"float accuracy:               {accuracy(model, x_test, y_test):.4f}   ({float_time:.1f} s)")

    # post-training quantization: LSQ's initial scales, hard rounding, no training
    ptq = quantize_weights(copy.deepcopy(model), bits=args.bits)
    print(f"{args.bits}-bit post-training accuracy: {accuracy(ptq, x_test, y_test):.4f}")

    steps = epochs * (len(x_train) // batch)
    k = schedules.geometric(1.0, 200.0, steps=steps)
    straight_through = False if args.straight_through == "false" else args.straight_through
    qat_model = quantize_weights(copy.deepcopy(model), bits=args.bits, k=k, straight_through=straight_through)
    forward = torch.compile(qat_model, fullgraph=True) if args.compile else qat_model
    start = time.perf_counter()
    first = fit(qat_model, forward, x_train, y_train, epochs=epochs, lr=3e-3, batch=batch, seed=args.seed + 1,
                on_step=lambda step: set_step(qat_model, step))  # fmt: skip
    qat_time = time.perf_counter() - start
    qat_model.train()  # the smooth weights at the final k
    with torch.no_grad():
        smooth = float((qat_model(x_test).argmax(1) == y_test).float().mean())
    hard = accuracy(qat_model, x_test, y_test)
    how = f"compiled: first step {first:.1f} s, then {qat_time - first:.1f} s" if args.compile else f"{qat_time:.1f} s"
    print(f"{args.bits}-bit QAT, smooth (k=200):     {smooth:.4f}   ({how}, {steps} steps)")
    print(f"codes used per layer:         {weight_codes(qat_model)} of {2 ** args.bits}")
    print(f"hard-quantized accuracy:      {hard:.4f}")


if __name__ == "__main__":
    main()
