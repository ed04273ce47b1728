#!/usr/bin/env python3
"""Quantizes the project's digits MLP to the fixed-point form that `ocean-zk` proves, and exports the test set.

The float model is the one `examples/onnx/train_digits.py` trains (same data split, same MLPClassifier settings,
same random_state, so the same weights): 64 pixels -> 32 ReLU -> 10 logits. The circuit computes in integers:

  x      = the raw pixel, 0..16 (the float model sees x / 16)
  acc1_j = sum_i w1[i][j] * x_i + b1[j]            w1 int8, b1 int16
  a_j    = max(acc1_j, 0) >> SHIFT                  floor division by 2^SHIFT (SHIFT is fixed by the circuit)
  out_k  = sum_j w2[j][k] * a_j + b2[k]            w2 int8, b2 int16; the class is argmax(out)

Scales are per layer: s1 = 127 / max|W1| (so acc1 = 16 * s1 * the float pre-activation) and s2 = 127 / max|W2|.
Writes, next to this script:
  digits-q.json     the quantized model (what `ocean zk setup` / `prove` read and what the commitment hashes)
  digits-test.json  the 450 held-out images as raw pixels 0..16, their labels, the float model's predictions and
                    the quantized model's logits (computed here, in numpy: the Rust circuit must reproduce them)
  digit-<k>.json    one held-out image per class k as {"pixels": [...]}: a zk job's input

    pip install scikit-learn numpy && python3 examples/zk/quantize_digits.py
"""

import json
import pathlib

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = pathlib.Path(__file__).resolve().parent
SHIFT = 6  # must equal ocean_zk::model::SHIFT


def quantize(mlp):
    w1, w2 = mlp.coefs_
    b1, b2 = mlp.intercepts_
    s1 = 127.0 / np.abs(w1).max()
    w1q = np.round(w1 * s1).astype(np.int64)
    b1q = np.round(b1 * s1 * 16).astype(np.int64)
    # a = acc1 / 2^SHIFT = (16 * s1 / 2^SHIFT) * relu(h): the scale layer 2 sees.
    sa = 16 * s1 / 2**SHIFT
    s2 = 127.0 / np.abs(w2).max()
    w2q = np.round(w2 * s2).astype(np.int64)
    b2q = np.round(b2 * s2 * sa).astype(np.int64)
    for name, v, lim in (("w1", w1q, 127), ("w2", w2q, 127), ("b1", b1q, 2**15 - 1), ("b2", b2q, 2**15 - 1)):
        assert np.abs(v).max() <= lim, f"{name} does not fit: {np.abs(v).max()}"
    return w1q, b1q, w2q, b2q


def infer(q, pixels):
    w1q, b1q, w2q, b2q = q
    acc1 = pixels @ w1q + b1q
    # The circuit decomposes acc1 + 2^17 into 18 bits: acc1 must lie in [-2^17, 2^17).
    assert acc1.min() >= -(2**17) and acc1.max() < 2**17, (acc1.min(), acc1.max())
    a = np.maximum(acc1, 0) >> SHIFT
    return a @ w2q + b2q


def main() -> None:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    mlp = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", max_iter=600, random_state=0)
    mlp.fit(x_train, y_train)
    float_pred = mlp.predict(x_test)
    float_acc = float((float_pred == y_test).mean())

    q = quantize(mlp)
    pixels = np.round(x_test * 16).astype(np.int64)
    logits = infer(q, pixels)
    q_pred = logits.argmax(axis=1)
    q_acc = float((q_pred == y_test).mean())
    agree = float((q_pred == float_pred).mean())
    print(f"float accuracy {float_acc:.4f}, quantized accuracy {q_acc:.4f}, agreement {agree:.4f} on {len(y_test)}")

    w1q, b1q, w2q, b2q = q
    model = {
        "name": "digits-mlp-q",
        "shift": SHIFT,
        "w1": w1q.tolist(),
        "b1": b1q.tolist(),
        "w2": w2q.tolist(),
        "b2": b2q.tolist(),
    }
    (HERE / "digits-q.json").write_text(json.dumps(model, separators=(",", ":")) + "\n")
    test = {
        "pixels": pixels.tolist(),
        "labels": y_test.tolist(),
        "float_predictions": float_pred.tolist(),
        "float_accuracy": float_acc,
        "quantized_accuracy": q_acc,
        "quantized_logits": logits.tolist(),
    }
    (HERE / "digits-test.json").write_text(json.dumps(test, separators=(",", ":")) + "\n")
    for k in range(10):
        i = int(np.flatnonzero(y_test == k)[0])
        (HERE / f"digit-{k}.json").write_text(json.dumps({"pixels": pixels[i].tolist()}) + "\n")


if __name__ == "__main__":
    main()
