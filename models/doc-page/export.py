"""Export the trained doc-page net to models/doc-page.onnx with stn's metadata.

    python export.py [--ckpt runs/doc-page.pt]

Asserts that onnxruntime matches torch (homography entries to 1e-4 relative, corners to 1e-4) and
that the file carries the metadata below.
"""

import argparse
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch

import net

HERE = os.path.dirname(os.path.abspath(__file__))
ONNX_PATH = os.path.join(HERE, "..", "doc-page.onnx")

METADATA = {
    "stn.transform": "projective",
    "stn.input_size": f"{net.SIZE}x{net.SIZE}",
    "stn.channels": "1",
    "stn.mean": f"{net.MEAN:g}",
    "stn.std": f"{net.STD:g}",
    "stn.output_size": "1240x1754",
    "stn.align_corners": "false",
    "stn.padding": "border",
    "stn.description": "Photo of a printed page -> flat upright page (A4 portrait at 150 dpi by default). "
                       "Input: the whole photo as a 256x256 grey thumbnail; output: the homography whose "
                       "corners are the predicted page corners (models/doc-page/README.md)",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=os.path.join(HERE, "runs", "doc-page.pt"))
    ap.add_argument("--random", action="store_true", help="untrained weights (a placeholder)")
    ap.add_argument("--out", default=ONNX_PATH)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    m = net.CornerNet()
    if not a.random:
        m.load_state_dict(torch.load(a.ckpt, map_location="cpu", weights_only=False)["model"])
    m.eval()
    exp = net.Exported(m).eval()
    x = torch.randn(3, 1, net.SIZE, net.SIZE) * 0.5
    torch.onnx.export(exp, x, a.out, opset_version=17, dynamo=False,
                      input_names=["image"], output_names=["homography"],
                      dynamic_axes={"image": {0: "N"}, "homography": {0: "N"}})
    model = onnx.load(a.out)
    onnx.helper.set_model_props(model, METADATA)
    model.producer_name = "stn models/doc-page/export.py"
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, a.out)

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(a.out, so, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = exp(x).numpy()
    got = sess.run(["homography"], {"image": x.numpy()})[0]
    rel = np.abs(got / got[:, 2:3, 2:3] - ref / ref[:, 2:3, 2:3]).max()
    assert rel < 1e-4, rel
    assert sess.get_modelmeta().custom_metadata_map == METADATA
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes); onnxruntime vs torch max |dH| = {rel:.2g}")


if __name__ == "__main__":
    main()
