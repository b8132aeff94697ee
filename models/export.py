"""Export the trained localisation net (only) to models/stn-mnist-rts.onnx.

    python export.py

Input `input` [N,1,42,42] float32 = (x01 - mean) / std, output `theta` [N,2,3] float32 mapping output
normalised coords to input normalised coords (PyTorch affine_grid convention, align_corners=False).
Asserts that onnxruntime matches torch to 1e-5.
"""

import os

import numpy as np
import onnx
import onnxruntime as ort
import torch

import common as c

ONNX_PATH = os.path.join(c.HERE, "stn-mnist-rts.onnx")
CHECK_SEED = 4242  # distortions used only for the torch-vs-onnxruntime comparison

METADATA = {
    "stn.input_size": "42x42",
    "stn.channels": "1",
    "stn.mean": f"{c.MEAN:g}",
    "stn.std": f"{c.STD:g}",
    "stn.output_size": "28x28",
    "stn.align_corners": "false",
    "stn.description": "Affine STN localisation net for RTS-distorted MNIST digits (42x42 grayscale, white "
                       "digit on black); theta maps the 28x28 output to the input in PyTorch affine_grid "
                       "convention",
}


def main():
    c.setup_torch(1)
    loc = c.LocNet()
    loc.load_state_dict(torch.load(c.ckpt("loc.pt")))
    loc.eval()
    dummy = torch.zeros(2, 1, c.CANVAS, c.CANVAS)
    torch.onnx.export(
        loc, dummy, ONNX_PATH, opset_version=17, dynamo=False,
        input_names=["input"], output_names=["theta"],
        dynamic_axes={"input": {0: "N"}, "theta": {0: "N"}},
    )
    model = onnx.load(ONNX_PATH)
    onnx.helper.set_model_props(model, METADATA)
    model.producer_name = "stn models/export.py"
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, ONNX_PATH)

    # torch vs onnxruntime on distorted train digits, several batch sizes
    x, _, _ = c.load_split("train")
    g = torch.Generator().manual_seed(CHECK_SEED)
    dist, _, _ = c.distort(c.to_tensor01(x[:512]), g)
    inp = c.normalise(dist)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(ONNX_PATH, so, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = loc(inp).numpy()
    worst = 0.0
    for n in (1, 7, 64, 512):
        got = sess.run(["theta"], {"input": inp[:n].numpy()})[0]
        assert got.shape == (n, 2, 3), got.shape
        worst = max(worst, float(np.abs(got - ref[:n]).max()))
    assert worst <= 1e-5, worst
    meta = sess.get_modelmeta().custom_metadata_map
    assert meta == METADATA, meta
    print(f"wrote {ONNX_PATH} ({os.path.getsize(ONNX_PATH)} bytes), opset 17, "
          f"inputs={[(i.name, i.shape) for i in sess.get_inputs()]} "
          f"outputs={[(o.name, o.shape) for o in sess.get_outputs()]}")
    print(f"onnxruntime vs torch max |diff| = {worst:.3g} (batches 1, 7, 64, 512)")
    for k, v in meta.items():
        print(f"  {k} = {v}")


if __name__ == "__main__":
    main()
