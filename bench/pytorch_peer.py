#!/usr/bin/python3
"""PyTorch peer of bench/engine_bench: the same four configs, the same full training step.

A step is what a PyTorch training loop does per batch: zero_grad, forward, loss, backward,
optimizer step. The batch is fixed random data (the engine bench does the same), so only the
step is timed, not data loading. Prints one JSON line per config, like engine_bench:

  {"impl": "pytorch", "config": "tiny", "threads": 1, "steps_per_second": ..., "gflops": ...}

steps_per_second is the median over --repeats timed runs of about --seconds each;
cpu_steps_per_second the same over the thread's CPU time (time.thread_time), which on a shared
machine leaves out the time other processes held the core. gflops counts
the matrix products a dense step performs: 2*batch*in*out for the forward pass and for dW of each
layer, and for dX of every layer but the first (autograd skips it: the input needs no grad).

Run pinned to one core, as bench/run.sh does:
  taskset -c 0 /usr/bin/python3 bench/pytorch_peer.py --threads 1
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn

# name: (layer sizes, batch, loss, optimizer); must match CONFIGS in engine_bench.cc.
CONFIGS = {
    "tiny": ([13, 64, 1], 32, "mse", "adam"),
    "small": ([64, 128, 128, 10], 64, "ce", "adam"),
    "medium": ([784, 256, 256, 10], 128, "ce", "adam"),
    "large": ([1024, 2048, 2048, 1024], 256, "mse", "sgd"),
}


def step_flops(sizes, batch):
    flops = 0
    for index, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        products = 3 if index > 0 else 2
        flops += products * 2 * batch * fan_in * fan_out
    return flops


def build(sizes, batch, loss_name, optimizer_name, seed):
    torch.manual_seed(seed)
    layers = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if index < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    x = torch.randn(batch, sizes[0])
    if loss_name == "mse":
        loss_fn = nn.MSELoss()
        y = torch.randn(batch, sizes[-1])
    else:
        loss_fn = nn.CrossEntropyLoss()
        y = torch.randint(0, sizes[-1], (batch,))
    if optimizer_name == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    return model, x, y, loss_fn, optimizer


def run_steps(model, x, y, loss_fn, optimizer, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    return loss.item()


def measure(name, threads, seconds, repeats, flush_denormals):
    sizes, batch, loss_name, optimizer_name = CONFIGS[name]
    model, x, y, loss_fn, optimizer = build(sizes, batch, loss_name, optimizer_name, seed=1)
    # Warm up (allocator caches, oneDNN primitive creation) and size the timed runs so each
    # lasts about `seconds`.
    steps = 1
    while True:
        start = time.perf_counter()
        run_steps(model, x, y, loss_fn, optimizer, steps)
        elapsed = time.perf_counter() - start
        if elapsed >= 0.2 * seconds:
            break
        steps *= 2
    steps = max(1, int(steps * seconds / elapsed))
    rates, cpu_rates = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.thread_time()
        run_steps(model, x, y, loss_fn, optimizer, steps)
        cpu_rates.append(steps / (time.thread_time() - cpu_start))
        rates.append(steps / (time.perf_counter() - start))
    rate, cpu_rate = statistics.median(rates), statistics.median(cpu_rates)
    return {
        "impl": "pytorch",
        "config": name,
        "threads": threads,
        "batch": batch,
        "steps": steps,
        "repeats": repeats,
        "flush_denormals": flush_denormals,
        "steps_per_second": round(rate, 2),
        "cpu_steps_per_second": round(cpu_rate, 2),
        "gflops": round(rate * step_flops(sizes, batch) / 1e9, 3),
        "cpu_gflops": round(cpu_rate * step_flops(sizes, batch) / 1e9, 3),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one timed run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names")
    parser.add_argument("--flush-denormals", action="store_true",
                        help="torch.set_flush_denormal(True), as engine_bench --flush_denormals")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.flush_denormals and not torch.set_flush_denormal(True):
        parser.error("this CPU cannot flush denormals")
    for name in args.configs.split(","):
        print(json.dumps(measure(name, args.threads, args.seconds, args.repeats,
                                    args.flush_denormals)), flush=True)


if __name__ == "__main__":
    main()
