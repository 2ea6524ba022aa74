#!/usr/bin/env python3
"""Int8 dynamic quantization of an ONNX export's weight MatMuls, for ONNX Runtime's CPU provider.

    /usr/bin/python3 training/quantize.py models/reranker/model.onnx models/reranker/model.int8.onnx

Needs only the `onnx` and `numpy` packages (Debian: python3-onnx), not onnxruntime: it does what
onnxruntime.quantization.quantize_dynamic does for MatMul, for the graphs training/ exports
(BERT-family encoders from shopassist_training.export).

Every MatMul whose second input is a constant 2-D float32 weight W [K, N] (used by no other node)
becomes one com.microsoft DynamicQuantizeMatMul node (ORT contrib op, CPU provider):

    A             float activations, quantized at run time to uint8 with one scale and zero point
                  per call (per tensor: over every row of the batch, padding included)
    B             int8 weights round(W / b_scale), symmetric, in [-63, 63] (7 bits, see QMAX)
    b_scale       float32 [N]: max |W[:, n]| / 63, one scale per output column
    b_zero_point  int8 [N] zeros
    bias          float32 [N]: the constant vector of an Add that alone consumes the MatMul's
                  output (a Linear layer's bias), folded in; that Add is removed
    Y             float: (A_u8 - a_zp)·a_scale @ B·b_scale + bias

Everything else stays float: embeddings, LayerNorm, GELU, softmax, attention's activation x
activation MatMuls, and Gemm nodes (BERT's pooler and classifier, one row per sequence).

For models/reranker (BERT L2/H128, max length 32) in ONNX Runtime 1.30 on x86 with AVX512-VNNI,
the quantized MatMuls take about half the time of the fp32 ones and a ranking Score of 50 pairs
about half the CPU time of model.onnx. The scores move by the rounding (on the judged dev pairs:
max |diff| 0.16 logit, Spearman >= 0.97 per query, mean 0.996) and, because the activations are
quantized per call, depend slightly on which pairs share a batch. ranking's
TestRerankerInt8Agreement compares the two files on those pairs; run it, and
`assistant eval search --stage final`, after every re-export.
"""
import argparse
import collections
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

MS_DOMAIN = "com.microsoft"

# Largest weight magnitude: 7 bits, as quantize_dynamic's reduce_range. x86 CPUs without VNNI run
# ORT's u8 x s8 GEMM with vpmaddubsw, which saturates the sum of two products at 32767;
# 255 * 63 * 2 = 32130 never does, so every CPU computes the same scores. On models/reranker
# it ranks as 8 bits do (TestRerankerInt8Agreement) at the same speed.
QMAX = 63


def quantize_columns(w: np.ndarray):
    """Symmetric per-column weights in [-QMAX, QMAX]: (int8 [K, N], float32 scales [N])."""
    amax = np.abs(w).max(axis=0)
    scale = np.where(amax > 0, amax / QMAX, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -QMAX, QMAX).astype(np.int8)
    return q, scale


def quantize(m: onnx.ModelProto) -> int:
    """Rewrites m in place; returns the number of MatMuls replaced."""
    g = m.graph
    init = {t.name: t for t in g.initializer}
    consumers = collections.defaultdict(list)
    for n in g.node:
        for i in n.input:
            consumers[i].append(n)
    graph_outputs = {o.name for o in g.output}

    def const(name):
        t = init.get(name)
        return None if t is None else numpy_helper.to_array(t)

    replaced, dropped, unused, new_inits = {}, set(), set(), []
    for n in g.node:
        if n.op_type != "MatMul" or n.domain not in ("", "ai.onnx"):
            continue
        w = const(n.input[1])
        if w is None or w.ndim != 2 or w.dtype != np.float32 or len(consumers[n.input[1]]) != 1:
            continue
        q, scale = quantize_columns(w)
        base = n.name.strip("/").replace("/", "_") or f"matmul_{len(replaced)}"
        ins = [n.input[0], base + "_B_int8", base + "_b_scale", base + "_b_zero_point"]
        new_inits += [
            numpy_helper.from_array(q, ins[1]),
            numpy_helper.from_array(scale, ins[2]),
            numpy_helper.from_array(np.zeros(scale.shape, np.int8), ins[3]),
        ]
        unused.add(n.input[1])
        out = n.output[0]
        users = consumers[out]
        if len(users) == 1 and users[0].op_type == "Add" and out not in graph_outputs:
            add = users[0]
            other = [i for i in add.input if i != out]
            bias = const(other[0]) if len(other) == 1 else None
            if bias is not None and bias.shape == (w.shape[1],) and bias.dtype == np.float32:
                ins.append(other[0])  # the bias initializer, reused as is
                out = add.output[0]
                dropped.add(id(add))
        replaced[id(n)] = helper.make_node("DynamicQuantizeMatMul", ins, [out], name=n.name + "_quant", domain=MS_DOMAIN)

    # The bias Add always follows its MatMul in a valid (topologically sorted) graph, and the
    # fused node only needs the MatMul's inputs, so putting it at the MatMul's place keeps the order.
    nodes = [replaced.get(id(n), n) for n in g.node if id(n) not in dropped]
    del g.node[:]
    g.node.extend(nodes)
    kept = [t for t in g.initializer if t.name not in unused]
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    if replaced and not any(o.domain == MS_DOMAIN for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return len(replaced)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="float32 ONNX model")
    ap.add_argument("dst", help="quantized ONNX model to write")
    args = ap.parse_args(argv)
    m = onnx.load(args.src)
    n = quantize(m)
    if n == 0:
        print(f"quantize: {args.src} has no MatMul with a constant float weight", file=sys.stderr)
        return 1
    onnx.checker.check_model(m)
    onnx.save(m, args.dst)
    print(f"{args.dst}: {n} MatMuls -> DynamicQuantizeMatMul (int8 per-column weights, |w| <= {QMAX})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
