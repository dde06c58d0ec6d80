#!/usr/bin/python3
"""Checks ONNX files written by Fluxion with the ONNX checker (full_check: also strict shape inference).

Not run in CI. Needs Debian's python3-onnx (apt-get install python3-onnx). Produce the files with
  FLUXION_ONNX_DIR=/tmp/onnx dotnet test tests/Fluxion.Tests -c Release --filter "FullyQualifiedName~OnnxExportTests"
(and/or `fluxion export m.safetensors --onnx m.onnx`), then run
  /usr/bin/python3 tools/onnx_check.py /tmp/onnx/*.onnx m.onnx
Exit code 0 when every file passes.
"""
import sys

import onnx


def main(paths):
    failed = 0
    for path in paths:
        try:
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
            g = model.graph
            print(f"OK    {path}: ir_version {model.ir_version}, opset {model.opset_import[0].version}, "
                  f"{len(g.node)} nodes, {len(g.initializer)} initializers, "
                  f"input {[d.dim_param or d.dim_value for d in g.input[0].type.tensor_type.shape.dim]}")
        except Exception as e:  # the checker raises several exception types
            failed += 1
            print(f"FAIL  {path}: {e}")
    print(f"{len(paths) - failed} of {len(paths)} files pass the ONNX checker")
    return 1 if failed or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
