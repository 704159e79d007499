#!/usr/bin/env python3
"""Writes the spec_binary_fuzzer seeds: each spec_json_fuzzer seed that protobuf's own JSON
parser accepts, as a serialized SubmitJobRequest (with and without a request_id).

Usage: tests/fuzz/make_binary_corpus.py   (needs protoc and python3-protobuf; run from anywhere)
"""
import glob
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def main():
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out", out,
                        *glob.glob(os.path.join(ROOT, "proto", "descent", "v1", "*.proto"))],
                       check=True)
        sys.path.insert(0, out)
        from google.protobuf import json_format
        from descent.v1 import training_pb2

        target = os.path.join(CORPUS, "spec_binary_fuzzer")
        os.makedirs(target, exist_ok=True)
        for path in sorted(glob.glob(os.path.join(CORPUS, "spec_json_fuzzer", "*.json"))):
            request = training_pb2.SubmitJobRequest()
            try:
                json_format.Parse(open(path).read(), request.spec)
            except json_format.ParseError as error:
                print("skipped %s: %s" % (os.path.basename(path), error))
                continue
            stem = os.path.splitext(os.path.basename(path))[0]
            with open(os.path.join(target, stem + ".pb"), "wb") as f:
                f.write(request.SerializeToString())
            request.request_id = "retry-" + stem
            with open(os.path.join(target, stem + "-request-id.pb"), "wb") as f:
                f.write(request.SerializeToString())


if __name__ == "__main__":
    main()
