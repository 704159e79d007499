#!/usr/bin/env python3
"""Records the real loss curves of the diagnosis corpus (tests/engine/diagnosis_corpus_test.cc).

Starts a throwaway descentd on loopback, trains every run below with
`descent -o json submit SPEC --watch` (the examples/*.json jobs and variations of them over
the builtin datasets, optimizers and learning rates), and writes each run's step losses and
epoch-mean train losses, exactly as a watcher receives them, to loss_curves.txt next to this
script. The builtin datasets and the training loop are deterministic in their seeds, so a
rerun on the same engine writes the same file. Standard library only.

Usage: tests/data/record_loss_curves.py [BUILD_DIR]   (default: build)
"""
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
DESCENTD = os.path.join(BUILD, "server", "descentd")
DESCENT = os.path.join(BUILD, "client", "descent")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loss_curves.txt")


def example(name):
    with open(os.path.join(ROOT, "examples", name + ".json")) as f:
        return json.load(f)


def variant(base, name, samples=None, optimizer=None, epochs=None, batch=None, model=None,
            schedule=None, dataset=None):
    spec = copy.deepcopy(example(base))
    spec["name"] = name
    if dataset is not None:
        spec["dataset"]["builtin"]["name"] = dataset
    if samples is not None:
        spec["dataset"]["builtin"]["samples"] = samples
    if optimizer is not None:
        spec["optimizer"] = optimizer
    if epochs is not None:
        spec["training"]["epochs"] = epochs
    if batch is not None:
        spec["training"]["batchSize"] = batch
    if model is not None:
        spec["model"] = model
    if schedule is not None:
        spec["schedule"] = schedule
    # Whole curves: the too-high runs train to the end instead of stopping at the explosion.
    spec["training"]["stopOnDivergence"] = False
    return spec


def sgd(lr, momentum=None):
    o = {"learningRate": lr}
    if momentum is not None:
        o["momentum"] = momentum
    return {"sgd": o}


SMALL = {"hiddenLayers": [{"units": 16, "activation": "RELU"}]}
WIDE = {"hiddenLayers": [{"units": 64, "activation": "TANH"}, {"units": 64, "activation": "TANH"}]}

RUNS = [example(n) for n in
        ["house-prices", "spam", "cat-dog-bird", "lr-just-right", "lr-too-high", "lr-too-low"]] + [
    variant("house-prices", "house-sgd-0.01", samples=800, optimizer=sgd(0.01)),
    variant("house-prices", "house-sgd-0.03", samples=800, optimizer=sgd(0.03)),
    variant("house-prices", "house-sgd-1e-5", samples=800, optimizer=sgd(1e-5)),
    variant("house-prices", "house-sgd-momentum-0.001", samples=800,
            optimizer=sgd(0.001, momentum=0.9)),
    variant("house-prices", "house-adam-0.01", samples=800, optimizer={"adam": {"learningRate": 0.01}}),
    variant("house-prices", "house-adam-0.3", samples=800, optimizer={"adam": {"learningRate": 0.3}}),
    variant("house-prices", "house-rmsprop-0.001", samples=800,
            optimizer={"rmsprop": {"learningRate": 0.001}}),
    variant("house-prices", "house-adagrad-0.05", samples=800,
            optimizer={"adagrad": {"learningRate": 0.05}}),
    variant("house-prices", "house-adam-3-epochs", samples=2000, epochs=3),
    variant("house-prices", "house-sgd-step-schedule", samples=800, optimizer=sgd(0.01),
            schedule={"kind": "STEP", "stepSize": 300, "gamma": 0.1}),
    variant("spam", "spam-sgd-0.01", samples=800, optimizer=sgd(0.01)),
    variant("spam", "spam-sgd-1", samples=800, optimizer=sgd(1.0)),
    variant("spam", "spam-adam-0.05", samples=800, optimizer={"adam": {"learningRate": 0.05}}),
    variant("spam", "spam-adagrad-0.01", samples=800, optimizer={"adagrad": {"learningRate": 0.01}}),
    variant("cat-dog-bird", "cdb-sgd-0.01", samples=1000, optimizer=sgd(0.01)),
    variant("cat-dog-bird", "cdb-adam-0.03", samples=1000, optimizer={"adam": {"learningRate": 0.03}}),
    variant("cat-dog-bird", "cdb-sgd-1e-5", samples=1000, optimizer=sgd(1e-5)),
    variant("cat-dog-bird", "cdb-rmsprop-0.1", samples=1000,
            optimizer={"rmsprop": {"learningRate": 0.1}}),
    variant("spam", "moons-adam-0.01", dataset="moons", samples=800, model=SMALL,
            optimizer={"adam": {"learningRate": 0.01}}, epochs=40),
    variant("spam", "moons-sgd-0.1", dataset="moons", samples=800, model=SMALL,
            optimizer=sgd(0.1), epochs=40),
    variant("cat-dog-bird", "spirals-adam-0.003", dataset="spirals", samples=900, model=WIDE,
            optimizer={"adam": {"learningRate": 0.003}}, epochs=60),
    variant("cat-dog-bird", "spirals-sgd-0.0001", dataset="spirals", samples=900, model=WIDE,
            optimizer=sgd(0.0001), epochs=30),
    variant("cat-dog-bird", "blobs-adam-0.01", dataset="blobs", samples=600, model=SMALL,
            optimizer={"adam": {"learningRate": 0.01}}, epochs=20),
    variant("house-prices", "house-adam-1-epoch-batch-8", samples=2000, epochs=1, batch=8),
]


def main():
    for binary in (DESCENTD, DESCENT):
        if not os.access(binary, os.X_OK):
            sys.exit(f"{binary} is missing: build descentd and descent first")
    data_dir = tempfile.mkdtemp(prefix="record-curves-")
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([DESCENTD, "--listen", "127.0.0.1:0", "--data-dir", data_dir],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        port = None
        for _ in range(100):
            log.seek(0)
            m = re.search(rb"serving gRPC on \S+ \(port (\d+)\)", log.read())
            if m:
                port = m.group(1).decode()
                break
            time.sleep(0.1)
        if port is None:
            sys.exit("descentd did not report its port")
        env = dict(os.environ, DESCENT_SERVER=f"127.0.0.1:{port}")
        blocks = []
        for spec in RUNS:
            blocks.append(record(spec, env))
            print(f"recorded {spec['name']}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
    with open(OUT, "w") as f:
        f.write("# Real loss curves for the diagnosis corpus, written by record_loss_curves.py\n"
                "# (the runs and their specs are listed there). Per curve: its name, the base\n"
                "# learning rate, every step's loss in order from step 1, and every epoch's\n"
                "# (last step, mean train loss), as `descent watch -o json` shows them.\n")
        f.write("".join(blocks))


def learning_rate(spec):
    (kind, options), = spec["optimizer"].items()
    return options.get("learningRate", {"adam": 0.001}.get(kind, 0.01))


def record(spec, env):
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(spec, f)
        f.flush()
        run = subprocess.run([DESCENT, "-o", "json", "submit", f.name, "--watch"], env=env,
                             capture_output=True, text=True)
    steps, epochs = [], []
    for line in run.stdout.splitlines():
        event = json.loads(line)
        if "losses" in event:
            first = int(event["losses"]["firstStep"])
            assert first == len(steps) + 1, (spec["name"], first, len(steps))
            steps.extend(float(v) for v in event["losses"]["losses"])
        elif "epoch" in event:
            e = event["epoch"]
            epochs.append((int(e["lastStep"]), float(e["train"]["loss"])))
    if not steps:
        sys.exit(f"{spec['name']}: no losses (exit {run.returncode}): {run.stderr}")
    fmt = lambda v: "%.6g" % v
    return (f"curve {spec['name']}\n"
            f"learning_rate {learning_rate(spec)!r}\n"
            f"steps {' '.join(fmt(v) for v in steps)}\n"
            f"epochs {' '.join(f'{s}:{fmt(v)}' for s, v in epochs)}\n")


if __name__ == "__main__":
    main()
