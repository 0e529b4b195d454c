"""Quantization-aware training with JAX and optax on scikit-learn's digits: an MLP with 3-bit weights.

The same recipe as examples/qat_torch.py, in pure functions: the quantizer parameters of smoothround.qat are
entries of the params pytree next to the weights, the geometric k schedule is evaluated inside the jitted
update from the step counter (one compilation for every k), and evaluation quantizes hard onto the integer grid.

    python examples/qat_jax.py
"""

from __future__ import annotations

import argparse
import itertools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from smoothround import qat, schedules


def data(seed: int) -> tuple[jax.Array, ...]:
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.3, random_state=seed, stratify=digits.target
    )
    f32 = lambda a: jnp.asarray(a, dtype=jnp.float32)  # noqa: E731
    return f32(x_train), f32(x_test), jnp.asarray(y_train), jnp.asarray(y_test)


def init_mlp(key: jax.Array, sizes: tuple[int, ...]) -> dict:
    params = {}
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        key, sub = jax.random.split(key)
        bound = 1.0 / np.sqrt(n_in)  # PyTorch's Linear initialisation
        params[f"w{i}"] = jax.random.uniform(sub, (n_out, n_in), jnp.float32, -bound, bound)
        params[f"b{i}"] = jnp.zeros(n_out, jnp.float32)
    return params


def forward(params: dict, x: jax.Array, weight=lambda name, w: w) -> jax.Array:
    """The MLP; ``weight(name, w)`` is applied to every weight matrix (identity: the float model)."""
    h = jax.nn.relu(x @ weight("w0", params["w0"]).T + params["b0"])
    return h @ weight("w1", params["w1"]).T + params["b1"]


def quantized(params: dict, quant: dict, *, bits: int, k=None, training: bool):
    """A ``weight`` function for :func:`forward`: smooth fake quantization while training, hard otherwise."""
    return lambda name, w: qat.fake_quantize(
        quant[name], w, k=k, bits=bits, training=training, grad_scale="lsq"
    )


def cross_entropy(logits: jax.Array, y: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def accuracy(logits: jax.Array, y: jax.Array) -> float:
    return float((logits.argmax(1) == y).mean())


def batches(key: jax.Array, n: int, batch: int, epochs: int) -> list[jax.Array]:
    """Shuffled full batches (one shape, one compilation)."""
    out = []
    for _ in range(epochs):
        key, sub = jax.random.split(key)
        order = jax.random.permutation(sub, n)
        out += [order[i : i + batch] for i in range(0, n - batch + 1, batch)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bits", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30, help="float training epochs (QAT runs as many)")
    parser.add_argument("--quick", action="store_true", help="fewer epochs, for the tests")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    epochs, bits, batch = (12 if args.quick else args.epochs), args.bits, 64
    x_train, x_test, y_train, y_test = data(args.seed)
    key = jax.random.PRNGKey(args.seed)

    # 1. the float model
    params = init_mlp(key, (64, 128, 10))
    optimizer = optax.adam(1e-2)

    @jax.jit
    def float_update(params, state, idx):
        loss, grads = jax.value_and_grad(lambda p: cross_entropy(forward(p, x_train[idx]), y_train[idx]))(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    start = time.perf_counter()
    state = optimizer.init(params)
    for idx in batches(jax.random.PRNGKey(args.seed + 1), len(x_train), batch, epochs):
        params, state, _ = float_update(params, state, idx)
    jax.block_until_ready(params)
    print(f"float accuracy:               {accuracy(forward(params, x_test), y_test):.4f}   "
          f"({time.perf_counter() - start:.1f} s)")  # fmt: skip

    # 2. post-training quantization: LSQ's initial scales, hard rounding
    quant = {name: qat.init_params(params[name], bits=bits, axis=0) for name in ("w0", "w1")}
    ptq = forward(params, x_test, quantized(params, quant, bits=bits, training=False))
    print(f"{bits}-bit post-training accuracy: {accuracy(ptq, y_test):.4f}")

    # 3. QAT: the quantizer parameters train with the weights; k follows the schedule inside the jitted step
    qat_params = {"model": params, "quant": quant}
    order = batches(jax.random.PRNGKey(args.seed + 2), len(x_train), batch, epochs)
    schedule = schedules.geometric(1.0, 200.0, steps=len(order))
    optimizer = optax.adam(3e-3)

    def qat_loss(p, idx, step):
        weight = quantized(p["model"], p["quant"], bits=bits, k=schedule(step), training=True)
        return cross_entropy(forward(p["model"], x_train[idx], weight), y_train[idx])

    traces = []  # Python code in a jitted function runs only while tracing: this counts compilations

    @jax.jit
    def qat_update(p, state, idx, step):
        traces.append(step)
        loss, grads = jax.value_and_grad(qat_loss)(p, idx, step)
        updates, state = optimizer.update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss

    start = time.perf_counter()
    state = optimizer.init(qat_params)
    first = 0.0
    for step, idx in enumerate(order):
        qat_params, state, _ = qat_update(qat_params, state, idx, jnp.asarray(step))
        if step == 0:
            first = time.perf_counter() - start
    jax.block_until_ready(qat_params)
    elapsed = time.perf_counter() - start
    p, q = qat_params["model"], qat_params["quant"]
    smooth = forward(p, x_test, quantized(p, q, bits=bits, k=schedule.end, training=True))
    hard = forward(p, x_test, quantized(p, q, bits=bits, training=False))
    codes = [len(np.unique(np.asarray(qat.quantize_codes(q[n], p[n], bits=bits)))) for n in ("w0", "w1")]
    print(f"{bits}-bit QAT, smooth (k=200):     {accuracy(smooth, y_test):.4f}   "
          f"(jit: first step {first:.1f} s, then {elapsed - first:.1f} s, {len(order)} steps, "
          f"traced {len(traces)}x)")  # fmt: skip
    print(f"codes used per layer:         {codes} of {2**bits}")
    print(f"hard-quantized accuracy:      {accuracy(hard, y_test):.4f}")


if __name__ == "__main__":
    main()
