"""Data-parallel training: PyTorch DDP on 2 gloo processes against one process on the global batch, and a JAX
jitted forward/gradient with the batch sharded over 2 host devices against the unsharded one.

Both run in fresh interpreters, from the scripts below: the DDP workers are forked from a process that has
imported torch and nothing else (forking pytest's process, with jax loaded, would not be safe), and XLA's device
count is fixed before jax is imported.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

DDP_SCRIPT = '''
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from smoothround import schedules
from smoothround.nn import Quantizer, quantize_weights, set_step

STEPS, BATCH, WORLD = 4, 16, 2


def build():
    torch.manual_seed(0)
    k = schedules.geometric(3.0, 60.0, steps=STEPS)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.ReLU(),
        # activation scale from the first batch: averaged over the ranks, the global batch's LSQ scale;
        # the LSQ gradient scale counts the batch, so a fixed one here keeps DDP and one process comparable
        Quantizer(bits=4, signed=False, zero_point=True, k=k, grad_scale=None),
        torch.nn.Linear(8, 3),
    ).double()
    return quantize_weights(model, bits=3, k=k, zero_point=True)


def data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(STEPS, BATCH, 6, generator=g, dtype=torch.float64)
    return x, torch.randint(0, 3, (STEPS, BATCH), generator=g)


def train(model, forward, xs, ys):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(STEPS):
        set_step(model, step)
        loss = torch.nn.functional.cross_entropy(forward(xs[step]), ys[step])
        opt.zero_grad()
        loss.backward()
        opt.step()


def worker(rank, port, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    model = build()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    xs, ys = data()
    shard = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
    train(model, ddp, xs[:, shard], ys[:, shard])
    torch.save(model.state_dict(), f"{out}.rank{rank}")
    dist.destroy_process_group()


if __name__ == "__main__":
    port, out = int(sys.argv[1]), sys.argv[2]
    # fork: the workers start with torch already imported (nothing has run yet, so no threads to copy)
    mp.start_processes(worker, args=(port, out), nprocs=WORLD, join=True, start_method="fork")
    torch.set_num_threads(1)
    start = build()
    torch.save(start.state_dict(), f"{out}.start")
    xs, ys = data()
    train(start, start, xs, ys)
    torch.save(start.state_dict(), f"{out}.single")
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_on_two_processes_equals_one_process_on_the_global_batch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.distributed.is_available():
        pytest.skip("this torch build has no torch.distributed")
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "state"
    result = subprocess.run(
        [sys.executable, str(script), str(_free_port()), str(out)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-4000:]
    rank0, rank1 = (torch.load(f"{out}.rank{r}") for r in (0, 1))
    single, start = torch.load(f"{out}.single"), torch.load(f"{out}.start")
    assert set(rank0) == set(single)
    learned = [n for n in single if n.endswith(("scale", "zero_point", "original", "bias"))]
    assert len(learned) == 10
    for name in single:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=0, msg=name)  # replicas agree exactly
        torch.testing.assert_close(rank0[name], single[name], rtol=1e-12, atol=1e-14, msg=name)
    for name in learned:  # every learned tensor moved (so agreeing is not trivial)
        assert not torch.allclose(single[name], start[name], rtol=0, atol=1e-9), name
    assert int(single["2.schedule_step"]) == 3 and float(single["2.k"]) == pytest.approx(60.0 ** (3 / 4) * 3.0 ** (1 / 4))


JAX_SCRIPT = '''
import json, os, sys
assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2"
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from smoothround import qat, schedules

jax.config.update("jax_enable_x64", True)
assert len(jax.devices()) == 2, jax.devices()
rng = np.random.default_rng(0)
x = jnp.asarray(rng.normal(size=(32, 8)))
w = jnp.asarray(rng.normal(size=(4, 8)))
schedule = schedules.geometric(2.0, 100.0, steps=10)


def forward(params, w, x, step):
    k = schedule(step)
    wq = qat.fake_quantize(params["w"], w, k=k, bits=3, grad_scale="lsq")
    xq = qat.fake_quantize(params["x"], x, quant_min=0, quant_max=15)
    return xq @ wq.T


def loss(params, w, x, step):
    out = forward(params, w, x, step)
    xq = qat.fake_quantize(params["x"], x, quant_min=0, quant_max=15)
    return jnp.mean((out - 1.0) ** 2), (out, xq)


params = {
    "w": qat.init_params(w, bits=3, axis=0, zero_point=True),
    "x": qat.init_params(x, quant_min=0, quant_max=15, zero_point=True, k=6.0, learn_k=True),
}
step = jnp.asarray(4)
grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True))
(ref_value, (ref_out, _)), ref_grads = grad(params, w, x, step)

mesh = jax.make_mesh((2,), ("batch",), axis_types=(jax.sharding.AxisType.Auto,))
xs = jax.device_put(x, NamedSharding(mesh, P("batch", None)))
assert len(xs.addressable_shards) == 2 and xs.addressable_shards[0].data.shape == (16, 8)
(value, (out, xq)), grads = grad(params, w, xs, step)
# the quantized activation of a sharded batch stays sharded: the quantizer is elementwise
report = {
    "out_sharded": out.sharding.spec[0] == "batch",
    "xq_sharded": len(xq.sharding.device_set) == 2 and xq.sharding.spec[0] == "batch",
    "value": [float(ref_value), float(value)],
    "out": float(jnp.max(jnp.abs(out - ref_out))),
    "grads": [float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(ref_grads), jax.tree.leaves(grads))],
    "grad_sizes": [float(jnp.max(jnp.abs(a))) for a in jax.tree.leaves(ref_grads)],
}
print(json.dumps(report))
'''


def test_jax_sharded_batch_over_two_host_devices_equals_unsharded() -> None:
    pytest.importorskip("jax")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["out_sharded"] and report["xq_sharded"]
    np.testing.assert_allclose(report["value"][1], report["value"][0], rtol=1e-13)
    assert report["out"] < 1e-12
    # params (w: scale, zero_point; x: log_k, scale, zero_point), the weight and the input: all nonzero gradients
    assert len(report["grads"]) == 7 and min(report["grad_sizes"]) > 1e-6
    for diff, size in zip(report["grads"], report["grad_sizes"], strict=True):
        assert diff <= 1e-12 * max(size, 1.0)
