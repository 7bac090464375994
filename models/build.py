"""Build the lenswatch feature graph as ONNX, reproducibly, from nothing but this script.

    python -m models.build            # writes models/lenswatch_features.onnx

The graph is fixed signal processing, not trained weights: every constant below is a
window or a DFT basis, so the file is byte-identical on every rebuild and the decisions made
on its outputs (pipeline/health.py) stay explainable to a crew. Costs were measured per node
(benchmarks/speed.py --profile, benchmarks/compare_models.py for A/B): at these sizes every
op is a pass over memory, so the graph is built to make few passes. Horizontal differences
are a MatMul with a -1/+1 matrix (slices and a Sub cost three passes, a 1-channel Conv
several times more), and the DFT is a pair of MatMuls with precomputed bases because ONNX's
DFT op is several times slower.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pipeline.frames import CELL, GRID_H, GRID_W, MOSAIC_H, MOSAIC_W, NATIVE, THUMB_H, THUMB_W

OPSET = 17
FINE = 16    # Welch patches at full scale: periods of 2 to 16 thumbnail pixels (fine moire)
COARSE = 32  # Welch patches at half scale: periods of 4 to 64 thumbnail pixels (stripes)


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], out: str | None = None, **attrs) -> str:
        self._n += 1
        out = out or f"{op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def _dft_basis(n: int) -> np.ndarray:
    """[cos | sin] over frequencies 0..n/2, Hann-windowed: a real DFT as one matrix product.

    The window is separable, so folding it into the basis costs nothing per pixel.
    """
    k = np.arange(n)
    f = np.arange(n // 2 + 1)
    hann = np.hanning(n + 2)[1:-1][:, None]
    ang = 2 * np.pi * np.outer(k, f) / n
    return (hann * np.concatenate([np.cos(ang), np.sin(ang)], axis=1)).astype(np.float32)


def _welch(g: _Graph, img: str, h: int, w: int, n: int, row_step: int, tag: str) -> str:
    """Mean amplitude spectrum over n x n patches (Welch): a stripe pattern, the same frequency
    in every patch, stands out, while scene content, different in each patch, averages into a
    smooth background. `row_step` > 1 takes every k-th row of patches: the average needs only
    a hundred or so patches, and the matrix products are most of the graph's cost.

    The transform along y is a left product of the (window-folded) basis with each patch row
    of the picture as it lies in memory (n rows x the full width), the transform along x a
    right product with the same basis: no transpose pass, and the spectrum comes out as
    (u, v) directly. Measured ~20% cheaper than slicing patches, transforming along x,
    transposing and transforming along y.

    The spectrum is folded: the four cos/sin blocks of the separable transform are squared and
    summed, which gives |F(u,v)|^2 + |F(-u,v)|^2. It keeps every period and the axis angle of
    a stripe (not the sign of a diagonal), for half the products and no complex arithmetic.
    """
    ph, pw = h // n, w // n
    m = n // 2 + 1
    basis = _dft_basis(n)                                                 # n, 2m
    if row_step > 1:
        x = g.op("Reshape", [img, g.const(f"{tag}_shp", np.array(
            [-1, ph // row_step, n * row_step, w], np.int64))])
        x = g.op("Slice", [x, g.const(f"{tag}_rs", np.array([0], np.int64)),
                           g.const(f"{tag}_re", np.array([n], np.int64)),
                           g.const(f"{tag}_ra", np.array([2], np.int64))])
        ph //= row_step
    x = g.op("Reshape", [img if row_step == 1 else x,
                         g.const(f"{tag}_rows", np.array([-1, n, w], np.int64))])  # N*py, y, x
    x = g.op("MatMul", [g.const(f"{tag}_left", np.ascontiguousarray(basis.T)), x])  # ., 2m (u), x
    x = g.op("Reshape", [x, g.const(f"{tag}_pat", np.array([-1, 2 * m, pw, n], np.int64))])
    x = g.op("MatMul", [x, g.const(f"{tag}_basis", basis)])              # ., 2m (u), px, 2m (v)
    x = g.op("Mul", [x, x])
    # Sum the cos/sin blocks: along v with a [I; I] product (a reduction over a strided axis
    # measured 3x slower), along u with a reduction over the outer axis of the two blocks.
    fold = np.concatenate([np.eye(m), np.eye(m)], axis=0).astype(np.float32)
    x = g.op("MatMul", [x, g.const(f"{tag}_fold", fold)])                 # ., 2m (u), px, m (v)
    x = g.op("Reshape", [x, g.const(f"{tag}_blk", np.array([-1, ph, 2, m, pw, m], np.int64))])
    x = g.op("ReduceSum", [x, g.const(f"{tag}_2", np.array([2], np.int64))], keepdims=0)
    x = g.op("ReduceMean", [g.op("Sqrt", [x])], axes=[1, 3], keepdims=0)  # N, u, v
    return g.op("Log", [g.op("Add", [x, g.const(f"{tag}_eps", np.float32(1.0))])],
                f"spec_{tag}")


def _profile_spectrum(g: _Graph, img: str, h: int, w: int, along_rows: bool, strips: int,
                      tag: str) -> str:
    """Log amplitude spectrum of brightness profiles, averaged over strips: rolling bars
    longer than a Welch patch repeat down every strip of the picture, while a person or a car
    changes the profile of one strip only. Rows: profile over y in `strips` vertical strips;
    columns: profile over x in horizontal strips."""
    def c(t: str, v: list[int]) -> str:
        return g.const(f"{tag}_{t}", np.array(v, np.int64))

    if along_rows:
        n = h
        x = g.op("Reshape", [img, c("r", [-1, h, strips, w // strips])])
        x = g.op("ReduceMean", [x], axes=[3], keepdims=0)            # N,h,strips
        x = g.op("Transpose", [x], perm=[0, 2, 1])                    # N,strips,h
    else:
        n = w
        x = g.op("Reshape", [img, c("r", [-1, strips, h // strips, w])])
        x = g.op("ReduceMean", [x], axes=[2], keepdims=0)            # N,strips,w
    m = n // 2 + 1
    x = g.op("Sub", [x, g.op("ReduceMean", [x], axes=[2], keepdims=1)])
    basis = _dft_basis(n)
    z = g.op("MatMul", [x, g.const(f"{tag}_dft", basis)])            # N,strips,2m
    z = g.op("Mul", [z, z])
    z = g.op("Reshape", [z, c("blk", [-1, strips, 2, m])])
    z = g.op("ReduceSum", [z, c("ax", [2])], keepdims=0)              # N,strips,m
    z = g.op("Log", [g.op("Add", [g.op("Sqrt", [z]), g.const(f"{tag}_eps", np.float32(1.0))])])
    return g.op("ReduceMean", [z], f"spec_{tag}", axes=[1], keepdims=0)  # N,m


def _cells(g: _Graph, x: str, k: int, name: str) -> str:
    """Mean over each analysis cell (k x k pixels at this scale), flattened to N x 60.

    Two ReduceSums, the first over a contiguous axis, measured 5x faster than AveragePool."""
    rows = GRID_H * k
    a = g.op("Reshape", [x, g.const(f"{name}_r1", np.array([-1, rows, GRID_W, k], np.int64))])
    a = g.op("ReduceSum", [a, g.const(f"{name}_a1", np.array([3], np.int64))], keepdims=0)
    a = g.op("Reshape", [a, g.const(f"{name}_r2", np.array([-1, GRID_H, k, GRID_W], np.int64))])
    a = g.op("ReduceSum", [a, g.const(f"{name}_a2", np.array([2], np.int64))], keepdims=0)
    a = g.op("Mul", [a, g.const(f"{name}_k", np.float32(1.0 / (k * k)))])
    return g.op("Reshape", [a, g.const(f"{name}_o", np.array([-1, GRID_H * GRID_W], np.int64))],
                name)


def _diff_matrix(k: int) -> np.ndarray:
    """k x k: column j of x @ D is x[j+1] - x[j] for j < k-1; the last column is zero, so a
    cell row keeps its k-1 differences inside the cell and the output keeps the picture's
    layout (k values per cell row)."""
    d = np.zeros((k, k), np.float32)
    j = np.arange(k - 1)
    d[j, j] = -1.0
    d[j + 1, j] = 1.0
    return d


def _grad_cells(g: _Graph, x: str, h: int, w: int, k: int, name: str) -> str:
    """Mean |dI/dx| + |dI/dy| per cell, from differences taken inside each cell.

    Horizontal differences are one MatMul of each cell's k-pixel row segment with a constant
    -1/+1 matrix: one pass over the picture where two shifted slices and a Sub cost three, and
    exact (every product is by 0 or +-1, so each output is the same single rounding of
    x[j+1] - x[j]). Vertical differences are two slices of whole rows and a Sub (a left
    product measured no faster). Both maps are first summed over the rows of each cell row
    (contiguous rows), then added, then summed per cell: the row sums are the only pass over
    each map after its Abs. Taking differences within a cell (k-1 per row) needs no padding;
    the one missing difference per cell row is immaterial to a mean over ~1,000."""
    gw, gh = GRID_W, GRID_H

    def c(tag: str, v: list[int]) -> str:
        return g.const(f"{name}_{tag}", np.array(v, np.int64))

    xr = g.op("Reshape", [x, c("rx", [-1, h, gw, k])])
    dx = g.op("Abs", [g.op("MatMul", [xr, g.const(f"{name}_D", _diff_matrix(k))])])  # N,h,gw,k
    dx = g.op("ReduceSum", [g.op("Reshape", [dx, c("rx2", [-1, gh, k, w])]), c("sx", [2])],
              keepdims=0)                                                     # N,gh,w
    yr = g.op("Reshape", [x, c("ry", [-1, gh, k, w])])
    dy = g.op("Abs", [g.op("Sub", [g.op("Slice", [yr, c("t1", [1]), c("f1", [k]), c("a2", [2])]),
                                   g.op("Slice", [yr, c("t0", [0]), c("f0", [k - 1]),
                                                  c("a2b", [2])])])])       # N,gh,k-1,w
    dy = g.op("ReduceSum", [dy, c("sy", [2])], keepdims=0)                   # N,gh,w
    total = g.op("Reshape", [g.op("Add", [dx, dy]), c("rt", [-1, gh, gw, k])])
    total = g.op("ReduceSum", [total, c("st", [3])], keepdims=0)             # N,gh,gw
    total = g.op("Mul", [total, g.const(f"{name}_n", np.float32(1.0 / (k * (k - 1))))])
    return g.op("Reshape", [total, c("o", [-1, gh * gw])], name)


def _native_spectrum(g: _Graph) -> tuple[onnx.ValueInfoProto, onnx.ValueInfoProto]:
    """Welch spectrum of the native-resolution patches (pipeline.frames.native_mosaic): the
    caller tiles NATIVE x NATIVE patches of the decoded picture into one small image, so the
    same Welch average as `spec_fine` runs on it with one patch per tile. It sees lines 2-16
    camera pixels apart, which the thumbnail's 2-6x area downscale averages away. Kept in its
    own input and output so the rest of the graph does not depend on it."""
    _welch(g, "native", MOSAIC_H, MOSAIC_W, NATIVE, 1, "native")
    m = NATIVE // 2 + 1
    return (helper.make_tensor_value_info("native", TensorProto.FLOAT,
                                          ["N", 1, MOSAIC_H, MOSAIC_W]),
            helper.make_tensor_value_info("spec_native", TensorProto.FLOAT, ["N", m, m]))


def build() -> onnx.ModelProto:
    """The feature graph: a thumbnail and the camera's previous half-scale picture in."""
    g = _Graph()
    h, w = THUMB_H, THUMB_W
    frame, prev = "frame", "prev"
    # The pool writes the `half` output itself (an Identity would copy it once more).
    half = g.op("AveragePool", [frame], "half", kernel_shape=[2, 2], strides=[2, 2])
    quarter = g.op("AveragePool", [half], kernel_shape=[2, 2], strides=[2, 2])
    # Cell means from the quarter-scale picture: the same means (exactly, for 8-bit input:
    # every value is a multiple of 1/16) from a sixteenth of the pixels.
    _cells(g, quarter, CELL // 4, "cell_mean")
    sat = g.op("Cast", [g.op("Greater", [half, g.const("sat_lvl", np.float32(245.0))])],
               to=TensorProto.FLOAT)
    _cells(g, sat, CELL // 2, "cell_sat")
    _grad_cells(g, frame, h, w, CELL, "cell_g1")
    _grad_cells(g, half, h // 2, w // 2, CELL // 2, "cell_g2")
    _grad_cells(g, quarter, h // 4, w // 4, CELL // 4, "cell_g4")
    # Change since the camera's previous sample, at half scale: the caller keeps this
    # sample's `half` output as the next `prev`, so the previous picture costs no second pool.
    # Live sensor noise survives a 2x2 average (halved), which still tells a still scene from
    # a frozen picture, whose change is zero.
    change = g.op("Sub", [half, prev])
    _cells(g, g.op("Abs", [change]), CELL // 2, "cell_diff")
    _welch(g, frame, h, w, FINE, 2, "fine")
    _welch(g, half, h // 2, w // 2, COARSE, 1, "coarse")
    _profile_spectrum(g, half, h // 2, w // 2, True, 4, "rows")
    _profile_spectrum(g, half, h // 2, w // 2, False, 3, "cols")
    # Rolling bars drift: the change since the last sample holds them without the scene,
    # which is what makes faint ones visible (a still scene cancels, a passer-by is local).
    _profile_spectrum(g, change, h // 2, w // 2, True, 4, "drift")
    native_in, native_out = _native_spectrum(g)

    cells = GRID_H * GRID_W
    outputs = [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", cells])
        for n in ("cell_mean", "cell_sat", "cell_g1", "cell_g2", "cell_g4", "cell_diff")
    ] + [
        helper.make_tensor_value_info("spec_fine", TensorProto.FLOAT,
                                      ["N", FINE // 2 + 1, FINE // 2 + 1]),
        helper.make_tensor_value_info("spec_coarse", TensorProto.FLOAT,
                                      ["N", COARSE // 2 + 1, COARSE // 2 + 1]),
        helper.make_tensor_value_info("spec_rows", TensorProto.FLOAT, ["N", h // 4 + 1]),
        helper.make_tensor_value_info("spec_cols", TensorProto.FLOAT, ["N", w // 4 + 1]),
        helper.make_tensor_value_info("spec_drift", TensorProto.FLOAT, ["N", h // 4 + 1]),
        helper.make_tensor_value_info("half", TensorProto.FLOAT, ["N", 1, h // 2, w // 2]),
        native_out,
    ]
    inputs = [helper.make_tensor_value_info(frame, TensorProto.FLOAT, ["N", 1, h, w]),
              helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["N", 1, h // 2, w // 2]),
              native_in]
    graph = helper.make_graph(g.nodes, "lenswatch_features", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="lenswatch models/build.py")
    model.ir_version = 8
    model.doc_string = ("lenswatch feature graph: per-cell brightness, saturation, gradient "
                        "energy at 3 scales, frame difference; Welch spectra (thumbnail and "
                        "native-resolution patches); profile spectra.")
    onnx.checker.check_model(model)
    return model


def main(argv: list[str] | None = None) -> int:
    """Write the model file and print its digest, so a rebuild can be checked against git."""
    from models import FEATURES_MODEL

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=FEATURES_MODEL)
    args = ap.parse_args(argv)
    data = build().SerializeToString()
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
