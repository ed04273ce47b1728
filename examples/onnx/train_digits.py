#!/usr/bin/env python3
"""Trains the small digits classifier that Ocean's ONNX example and tests use, and exports it as ONNX.

Data: scikit-learn's bundled `load_digits` (1,797 8x8 grey-scale images, shipped inside the package: nothing is
downloaded). Model: a multi-layer perceptron, 64 -> 32 (ReLU) -> 10 (softmax), trained by scikit-learn's
MLPClassifier with a fixed random_state. The ONNX graph is written by hand with onnx.helper from the learned
weights, using only MatMul/Add/Relu/Softmax (opset 13), so any ONNX runtime (tract included) can run it.

Writes, next to this script:
  digits.onnx           the model (input "input": float32[1,64], pixel values / 16; output "probabilities")
  digit-<k>.f32         one test image per class k, raw little-endian float32, ready for the onnx guest
  expected.txt          for each sample file: its true label and the class scikit-learn predicts

    pip install scikit-learn onnx numpy && python3 examples/onnx/train_digits.py
"""

import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = pathlib.Path(__file__).resolve().parent


def main() -> None:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    mlp = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", max_iter=600, random_state=0)
    mlp.fit(x_train, y_train)
    accuracy = mlp.score(x_test, y_test)
    print(f"test accuracy {accuracy:.4f} on {len(y_test)} held-out images")

    w1, w2 = (w.astype(np.float32) for w in mlp.coefs_)
    b1, b2 = (b.astype(np.float32) for b in mlp.intercepts_)
    graph = helper.make_graph(
        nodes=[
            helper.make_node("MatMul", ["input", "w1"], ["h1"]),
            helper.make_node("Add", ["h1", "b1"], ["h1b"]),
            helper.make_node("Relu", ["h1b"], ["a1"]),
            helper.make_node("MatMul", ["a1", "w2"], ["h2"]),
            helper.make_node("Add", ["h2", "b2"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        name="digits_mlp",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])],
        outputs=[helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 10])],
        initializer=[
            numpy_helper.from_array(w1, "w1"),
            numpy_helper.from_array(b1, "b1"),
            numpy_helper.from_array(w2, "w2"),
            numpy_helper.from_array(b2, "b2"),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="ocean-ai examples/onnx/train_digits.py",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, HERE / "digits.onnx")

    lines = []
    for k in range(10):
        i = int(np.flatnonzero(y_test == k)[0])
        sample = x_test[i : i + 1]
        (HERE / f"digit-{k}.f32").write_bytes(sample.astype("<f4").tobytes())
        lines.append(f"digit-{k}.f32 label {k} sklearn {int(mlp.predict(sample)[0])}")
    (HERE / "expected.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
