#!/usr/bin/env python3
"""Turns the classic tables Debian's python3-sklearn ships into plain CSV with a header row.

sklearn's data files start with a count line ("150,4,setosa,versicolor,virginica": rows,
features, class names) instead of a header, and their labels are indices. This writes
iris.csv (3 classes), breast_cancer.csv (2 classes) and diabetes.csv (regression) with
named columns and, for classifiers, the class names as text labels, as a user's export would
have them. Standard library only; the files it writes are committed next to it.

Usage: tests/data/make_real_tables.py [SKLEARN_DATA_DIR] [OUT_DIR]
"""
import csv
import gzip
import os
import sys

DATA = sys.argv[1] if len(sys.argv) > 1 else "/usr/lib/python3/dist-packages/sklearn/datasets/data"
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))

IRIS_FEATURES = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
# sklearn's load_breast_cancer feature_names, spaces as underscores.
CANCER_STATS = ["radius", "texture", "perimeter", "area", "smoothness", "compactness",
                "concavity", "concave_points", "symmetry", "fractal_dimension"]
CANCER_FEATURES = ([f"mean_{s}" for s in CANCER_STATS] + [f"{s}_error" for s in CANCER_STATS] +
                   [f"worst_{s}" for s in CANCER_STATS])
# sklearn's load_diabetes(scaled=False) columns: age, sex, body mass index, mean blood
# pressure, six blood serum measurements; target: disease progression one year later.
DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def labelled(name, features, target):
    with open(os.path.join(DATA, name), newline="") as f:
        rows = list(csv.reader(f))
    count = rows[0]
    samples, n_features, classes = int(count[0]), int(count[1]), count[2:]
    assert n_features == len(features), name
    body = rows[1:]
    assert len(body) == samples, name
    out = [features + [target]]
    for row in body:
        out.append(row[:n_features] + [classes[int(row[n_features])]])
    return out


def diabetes():
    with gzip.open(os.path.join(DATA, "diabetes_data_raw.csv.gz"), "rt") as f:
        data = [line.split() for line in f if line.strip()]
    with gzip.open(os.path.join(DATA, "diabetes_target.csv.gz"), "rt") as f:
        target = [line.strip() for line in f if line.strip()]
    assert len(data) == len(target) == 442
    out = [DIABETES_FEATURES + ["progression"]]
    for row, y in zip(data, target):
        out.append(row + ["%g" % float(y)])
    return out


def write(name, rows):
    with open(os.path.join(OUT, name), "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


write("iris.csv", labelled("iris.csv", IRIS_FEATURES, "species"))
write("breast_cancer.csv", labelled("breast_cancer.csv", CANCER_FEATURES, "diagnosis"))
write("diabetes.csv", diabetes())
