#!/usr/bin/env python3
"""report.py - turns a Google Benchmark JSON run of the suite into docs/benchmarks.md and
a GFLOP/s chart (PNG, drawn by gnuplot).

    python3 bench/report.py bench/results/latest.json --md docs/benchmarks.md \
        --png docs/bench_gflops.png

Where a benchmark was repeated (--benchmark_repetitions), the median is used: the file's
own median aggregate, or the median of the repetitions when only those were saved.
Python standard library only; gnuplot is needed for the chart alone (--png).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

PASSES = ["fwd", "bwd_data", "bwd_weights"]
PASS_TITLES = {"fwd": "forward (fwd)", "bwd_data": "backward, data gradient (bwd\\_data)",
               "bwd_weights": "backward, weight gradient (bwd\\_weights)"}
COLORS = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb"]
UNIT_TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def load_runs(doc):
    """One record per benchmark (run_name), in the order of the run, medians where repeated."""
    groups = {}
    order = []
    for b in doc.get("benchmarks", []):
        key = b.get("run_name", b["name"])
        if key not in groups:
            groups[key] = {"iterations": [], "median": None, "error": None}
            order.append(key)
        g = groups[key]
        if b.get("error_occurred"):
            g["error"] = b.get("error_message", "error")
        elif b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                g["median"] = b
        else:
            g["iterations"].append(b)
    runs = []
    for key in order:
        g = groups[key]
        rec = {"name": key, "error": g["error"], "reps": len(g["iterations"])}
        if g["median"] is not None:
            row = g["median"]
            rec["reps"] = max(rec["reps"], int(row.get("repetitions", 1)))
            rec.update(fields(row))
        elif g["iterations"]:
            rows = [fields(r) for r in g["iterations"]]
            for k in rows[0]:
                vals = [r[k] for r in rows if isinstance(r.get(k), (int, float))]
                rec[k] = statistics.median(vals) if vals else rows[0][k]
        elif rec["error"] is None:
            continue
        runs.append(rec)
    return runs


def fields(row):
    """Time in ms (CPU time: what the rate counters divide by), the counters, the label."""
    out = {"label": row.get("label", "")}
    scale = UNIT_TO_MS.get(row.get("time_unit", "ns"), 1e-6)
    out["ms"] = row.get("cpu_time", 0.0) * scale
    for k in ("GFLOPS", "peak_frac", "peak_frac_cpu", "images_per_second", "bytes_per_second", "speedup"):
        if k in row:
            out[k] = row[k]
    # A pair's two sides' times (bench_pair.c): t1_ms and t2_ms, direct_ms and wino4_ms.
    out["sides"] = [(k[:-3], row[k]) for k in sorted(row) if k.endswith("_ms") and isinstance(row[k], (int, float))]
    return out


def split_name(name):
    """{'family', 'layer', 'pass', 'path'} from the suite's naming scheme."""
    p = name.split("/")
    if any("_vs_" in q for q in p):
        # Two benchmarks alternated in one run (bench_pair.c): <model or conv_net>/<isa>/t2_vs_t1,
        # conv/<layer>/<pass>/wino4_vs_direct/<isa>. The path is the isa, wherever it is.
        isa = p[-2] if p[-1].endswith("_vs_t1") else p[-1]
        return {"family": "pair", "layer": "/".join(q for q in p if q != isa), "pass": "", "path": isa}
    if p[0] in ("conv", "convt") and len(p) == 5:
        return {"family": p[0], "layer": p[1], "pass": p[2], "path": p[3] + "/" + p[4]}
    if p[0] in ("dense", "pool") and len(p) == 4:
        # A dense layer is one matrix product: the direct algorithm, like conv's.
        path = ("direct/" + p[3]) if p[0] == "dense" else p[3]
        return {"family": p[0], "layer": p[1], "pass": p[2], "path": path}
    if p[0] == "model" and len(p) in (4, 5):
        # model/<model>/<what>/<isa>[/t<threads>]
        return {"family": "model", "layer": p[1], "pass": p[2], "path": p[3],
                "threads": int(p[4][1:]) if len(p) == 5 and p[4][1:].isdigit() else 1}
    # The element-wise kernels: act/<fn>/<pass>/<isa>, loss/<what>/<isa>, sgd/<what>/<isa>.
    # Their "layer" is the kernel, the name without the pass and the isa.
    if p[0] == "act" and len(p) == 4:
        return {"family": "elem", "layer": p[0] + "/" + p[1], "pass": p[2], "path": p[3]}
    if p[0] in ("loss", "sgd") and len(p) == 3:
        # One call each: the loss with its gradient; the update of every parameter.
        return {"family": "elem", "layer": p[0] + "/" + p[1],
                "pass": "fwd+bwd" if p[0] == "loss" else "step", "path": p[2]}
    return {"family": p[0], "layer": "/".join(p[1:]), "pass": "", "path": ""}


def cpu_model(ctx):
    model = ctx.get("cpu_model", "")
    if model and model != "unknown":
        return model
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() + " (this machine's /proc/cpuinfo)"
    except OSError:
        pass
    return "unknown"


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "%g %s" % (n, unit)
        n /= 1024.0


def caches(ctx):
    names = []
    for c in ctx.get("caches", []):
        if c.get("type") == "Instruction":
            continue
        kind = "d" if c.get("type") == "Data" else ""
        shared = c.get("num_sharing", 1)
        names.append("L%d%s %s%s" % (c.get("level", 0), kind, human_bytes(c.get("size", 0)),
                                     " (shared by %d)" % shared if shared > 1 else ""))
    return ", ".join(names)


def fmt(v, digits=2):
    if v is None:
        return ""
    return ("%%.%df" % digits) % v


def table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---:" if h.startswith(("time", "GFLOP", "%", "GiB", "images", "vs"))
                          or any(s in h for s in ("(ms)", "GFLOP", "% of", " vs ")) else "---"
                          for h in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return out


def side_by_side(rows, key, first_cols):
    """One line per key(r) (a layer's pass and algorithm), the vector paths side by side:
    for each, time, GFLOP/s and % of its own ISA's peak (and of the CPU's best peak where
    that differs), then the AVX-512 speed-up over AVX2 where both ran. The scalar path keeps
    its time only. first_cols(r) gives the leading cells."""
    order, groups, isas = [], {}, []
    for r in rows:
        isa = r["path"].split("/")[-1]
        k = key(r)
        if k not in groups:
            groups[k] = {}
            order.append(k)
        groups[k][isa] = r
        if isa not in isas:
            isas.append(isa)
    vector = [i for i in isas if i != "scalar"]
    header = first_cols(None) + (["scalar (ms)"] if "scalar" in isas else [])
    for i in vector:
        header += ["%s (ms)" % i, "%s GFLOP/s" % i, "%s %% of peak" % i]
    both = "avx2" in vector and "avx512" in vector
    if both:
        header.append("avx512 vs avx2")
    out = []
    for k in order:
        g = groups[k]
        any_r = next(iter(g.values()))
        cells = first_cols(any_r)
        if "scalar" in isas:
            s = g.get("scalar")
            cells.append("" if s is None else ("error" if s["error"] else fmt(s.get("ms"), 3)))
        for i in vector:
            r = g.get(i)
            if r is None or r["error"]:
                cells += ["error: " + r["error"] if r else "", "", ""]
                continue
            pct = fmt(100 * r["peak_frac"], 1) if "peak_frac" in r else ""
            if "peak_frac_cpu" in r and abs(r["peak_frac_cpu"] - r.get("peak_frac", 0)) > 1e-9:
                pct += " (%s of CPU)" % fmt(100 * r["peak_frac_cpu"], 1)
            cells += [fmt(r.get("ms"), 3), fmt(r.get("GFLOPS")), pct]
        if both:
            a, b = g.get("avx2"), g.get("avx512")
            ok = a and b and not a["error"] and not b["error"] and a.get("ms") and b.get("ms")
            cells.append("%.2fx" % (a["ms"] / b["ms"]) if ok else "")
        out.append(cells)
    return table(header, out)


def markdown(doc, runs, source, png):
    ctx = doc.get("context", {})
    reps = max([r["reps"] for r in runs] + [1])
    peak = float(ctx.get("peak_gflops", "0") or 0)
    lines = ["# Benchmarks", "",
             "Generated by `make bench-report` from `%s` (the suite in `bench/`, see "
             "`mk/bench.mk`); do not edit by hand. Regenerate: `make bench "
             "ARGS=--benchmark_repetitions=3`, then `make bench-report`." % source, ""]
    lines += ["## Machine and build", ""]
    info = [
        ("CPU", "%s, %s cores at %s MHz (nominal)" % (cpu_model(ctx), ctx.get("num_cpus", "?"),
                                                      ctx.get("mhz_per_cpu", "?"))),
        ("caches", caches(ctx)),
        ("FP32 FMA peak, one core", "%.1f GFLOP/s, measured (%s kernel; `peak/fma`)"
         % (peak, ctx.get("peak_kernel", "?"))
         + ("; %.1f GFLOP/s with AVX-512 (`peak/fma_avx512`)" % float(ctx["peak_gflops_avx512"])
            if ctx.get("peak_gflops_avx512") else "")),
        ("C compiler", "%s, `%s`" % (ctx.get("c_compiler", "?"), ctx.get("c_flags", "?"))),
        ("cnn.h's own choice of path", ctx.get("cnn_simd_auto", "not recorded")),
        ("date", ctx.get("date", "?")),
        ("commit", "`%s`" % ctx["git_commit"] if "git_commit" in ctx else "not recorded"),
        ("figures", "median of %d repetitions, CPU time" % reps if reps > 1
         else "one run each (no repetitions), CPU time"),
        ("load average at start", ", ".join("%.2f" % x for x in ctx.get("load_avg", []))),
    ]
    if ctx.get("library_build_type") == "debug":
        info.append(("Google Benchmark", "the distribution's library reports a debug build; "
                     "it only times the loop, the measured code is built as above"))
    lines += table(["", ""], [[k, v] for k, v in info]) + [""]

    by_family = {}
    for r in runs:
        r.update(split_name(r["name"]))
        by_family.setdefault(r["family"], []).append(r)

    def err_or(r, cells):
        return cells if not r["error"] else cells[:1] + ["error: " + r["error"]] + [""] * (len(cells) - 2)

    if "peak" in by_family:
        lines += ["## Peak", "",
                  "`peak/fma`: 12 independent FMA chains, as many FLOP per cycle as the core "
                  "can retire with AVX2+FMA (NEON, scalar); `peak/fma_avx512`, where the CPU "
                  "has AVX-512, the same with 512-bit vectors: on a core with 512-bit FMA pipes "
                  "it is twice `peak/fma`. Every \"% of peak\" is a fraction of the peak of the "
                  "instruction set the benchmark runs (the avx512 path's of `peak/fma_avx512`), "
                  "measured at the start of the same run; \"of CPU\" is the fraction of the "
                  "best peak of this CPU, the headroom an AVX2 figure leaves.", ""]
        rows = [err_or(r, [r["name"], fmt(r.get("GFLOPS"), 1), r.get("label", "")])
                for r in by_family["peak"]]
        lines += table(["benchmark", "GFLOP/s", "kernel"], rows) + [""]

    # The depthwise layers get their own table: memory-bound, so bytes/s against a copy of the
    # same bytes (bandwidth/DW<i>), not GFLOP/s against the FMA peak.
    depthwise = [r for r in by_family.get("conv", []) if r["layer"].startswith("DW")]
    if depthwise:
        by_family["conv"] = [r for r in by_family["conv"] if not r["layer"].startswith("DW")]
    copies = {r["layer"]: r for r in by_family.get("bandwidth", []) if not r["error"]}

    if "conv" in by_family:
        lines += ["## Convolution", "",
                  "GFLOP/s count direct-convolution work, 2·N·K·C·Ho·Wo·kh·kw, for every "
                  "pass and algorithm. Layers: M1-M3 are the digit model's convolutions at "
                  "batch 64, V1-V4 VGG-like 3x3 layers, S2 a stride-2 layer, K5 a 5x5 kernel.",
                  ""]
        lines += side_by_side(
            by_family["conv"], lambda r: (r["layer"], r["pass"], r["path"].split("/")[0]),
            lambda r: ["layer", "shape", "pass", "algorithm"] if r is None else
            [r["layer"], r.get("label", ""), r["pass"], r["path"].split("/")[0]]) + [""]

    if "convt" in by_family:
        lines += ["## Transposed convolution", "",
                  "`cnn_conv_transpose2d_*` with a workspace (the algorithm cnn.h picks). T1: a "
                  "3x3 stride-2 decoder layer, 8x64x28x28 to 32 channels of 56x56 (pad 1, "
                  "output_padding 1); T2: DCGAN's 4x4 stride-2 layer, 1x128x28x28 to 64x56x56 "
                  "(pad 1). GFLOP/s count 2·N·C·K·H·W·kh·kw per pass.", ""]
        lines += side_by_side(
            by_family["convt"], lambda r: (r["layer"], r["pass"]),
            lambda r: ["layer", "shape", "pass"] if r is None else
            [r["layer"], r.get("label", ""), r["pass"]]) + [""]

    if depthwise or copies:
        lines += ["## Depthwise convolution and memory bandwidth", "",
                  "DW1: 32 channels of 112x112, DW2: 64 at stride 2, DW3: 128 of 56x56 at batch 8; "
                  "3x3, groups = channels. A depthwise pass does 9 multiply-adds per value it "
                  "loads, so it is bound by bandwidth, not by the FMA peak. GiB/s count the bytes "
                  "a pass must read and write at least (input, output, weights, bias); "
                  "`bandwidth/DW<i>` copies as many bytes with memcpy (the fastest way the core "
                  "moves them, from the same cache level), and \"of copy\" is the pass's GiB/s "
                  "over that copy's. `bandwidth/dram` copies 256 MiB, past every cache.", ""]
        rows = [err_or(r, [r["name"], fmt(r.get("ms"), 3),
                           fmt(r["bytes_per_second"] / 2**30, 1) if "bytes_per_second" in r else "",
                           r.get("label", "")])
                for r in by_family.get("bandwidth", [])]
        lines += table(["copy", "time (ms)", "GiB/s", "what"], rows) + [""]

        def of_copy(r):
            c = copies.get(r["layer"])
            if c is None or "bytes_per_second" not in r or not c.get("bytes_per_second"):
                return ""
            return "%.0f%%" % (100 * r["bytes_per_second"] / c["bytes_per_second"])

        rows = [err_or(r, [r["layer"], r["pass"], r["path"].split("/")[-1], fmt(r.get("ms"), 3),
                           fmt(r["bytes_per_second"] / 2**30, 1) if "bytes_per_second" in r else "",
                           of_copy(r), fmt(r.get("GFLOPS"), 1)])
                for r in depthwise]
        lines += table(["layer", "pass", "isa", "time (ms)", "GiB/s", "of copy", "GFLOP/s"], rows) + [""]

    if "dense" in by_family:
        lines += ["## Dense", "", "Batch 64; GFLOP/s count 2·N·in·out per pass.", ""]
        lines += side_by_side(
            by_family["dense"], lambda r: (r["layer"], r["pass"]),
            lambda r: ["layer", "pass"] if r is None else [r["layer"], r["pass"]]) + [""]

    if "pool" in by_family:
        lines += ["## Pooling", "",
                  "2x2 windows, stride 2, on the digit model's maps at batch 64. GiB/s count "
                  "the bytes a pass must read and write.", ""]
        rows = [err_or(r, [r["layer"], r["pass"], r["path"], fmt(r.get("ms"), 3),
                           fmt(r["bytes_per_second"] / 2**30, 1) if "bytes_per_second" in r else ""])
                for r in by_family["pool"]]
        lines += table(["pooling", "pass", "isa", "time (ms)", "GiB/s"], rows) + [""]

    if "elem" in by_family:
        lines += ["## Element-wise kernels", "",
                  "`act/`: `cnn_activation_forward` and `_backward` on the digit model's first "
                  "activation map at batch 64 (64x32x26x26 floats, inputs uniform in [-4, 4), "
                  "backward from the forward output). `loss/`: `cnn_softmax_cross_entropy`, the "
                  "loss and its gradient in one call, at the digit model's 64x10 and an "
                  "ImageNet-size 256x1000. `sgd/`: `cnn_sgd_step` on the digit model, momentum "
                  "0.9 and weight decay 5e-4, with fixed random gradients. GiB/s count the bytes "
                  "a pass must read and write. \"vs scalar\" is the scalar path's time over the "
                  "row's for the same kernel and pass; near 1 where a path runs the same code "
                  "as the scalar one.", ""]
        scalar_ms = {(r["layer"], r["pass"]): r["ms"] for r in by_family["elem"]
                     if r["path"] == "scalar" and not r["error"] and r.get("ms")}

        def vs_scalar(r):
            base = scalar_ms.get((r["layer"], r["pass"]))
            if r["path"] == "scalar" or base is None or not r.get("ms"):
                return ""
            return "%.2fx" % (base / r["ms"])

        # Microseconds: the small loss takes a few, the slowest activation thousands.
        rows = [err_or(r, [r["layer"], r["pass"], r["path"],
                           fmt(1e3 * r["ms"], 1) if "ms" in r else "",
                           fmt(r["bytes_per_second"] / 2**30, 1) if "bytes_per_second" in r else "",
                           vs_scalar(r)])
                for r in by_family["elem"]]
        lines += table(["kernel", "pass", "isa", "time (µs)", "GiB/s", "vs scalar"], rows) + [""]

    if "model" in by_family:
        lines += ["## The digit model", "",
                  "93,322 parameters: Conv(32,3x3,relu), MaxPool 2, Conv(64,3x3,relu), "
                  "MaxPool 2, Conv(64,3x3,relu), Flatten, Dense(64,relu), Dense(10). "
                  "`train_step` is `cnn_train_batch` (forward, backward, SGD with momentum) "
                  "on the same 64 cached images; `fit` is one epoch of `cnn_fit` over 16,384 "
                  "shuffled images (51 MB, more than the caches); "
                  "`infer` is `cnn_forward` in evaluation mode. `digits` runs each convolution "
                  "with the algorithm auto picks, `digits_direct` every one direct. \"vs avx2\" "
                  "and \"vs 1 thread\" compare with the same model and pass of the same run.", ""]
        ms = {(r["layer"], r["pass"], r["path"], r.get("threads", 1)): r["ms"]
              for r in by_family["model"] if not r["error"] and r.get("ms")}

        def ratio(r, key):
            base = ms.get(key)
            if base is None or not r.get("ms") or key == (r["layer"], r["pass"], r["path"], r.get("threads", 1)):
                return ""
            return "%.2fx" % (base / r["ms"])

        rows = [err_or(r, [r["layer"], r["pass"], r.get("label", ""), r["path"], str(r.get("threads", 1)),
                           fmt(r.get("ms"), 3), fmt(r.get("images_per_second"), 0),
                           ratio(r, (r["layer"], r["pass"], "avx2", r.get("threads", 1))) if r["path"] == "avx512" else "",
                           ratio(r, (r["layer"], r["pass"], r["path"], 1))])
                for r in by_family["model"]]
        lines += table(["model", "what", "setting", "isa", "threads", "time (ms)", "images/s", "vs avx2",
                        "vs 1 thread"], rows) + [""]

    if "pair" in by_family:
        lines += ["## Ratios measured inside one run", "",
                  "Two benchmarks run in turn, in blocks of about 5 ms (after an untimed call), in "
                  "one process: one and two threads (`t2_vs_t1`), direct and F(4x4) "
                  "(`wino4_vs_direct`), the digit model all direct and on auto (`auto_vs_direct`). `speedup` is the median over the blocks of the first "
                  "side's time over the second's (bench/README.md); the times are the median of "
                  "one call of each side, wall clock.", ""]
        rows = [err_or(r, [r["layer"], r["path"],
                           ", ".join("%s %.3f" % (name, v) for name, v in r.get("sides", [])),
                           "%.2fx" % r["speedup"] if "speedup" in r else ""])
                for r in by_family["pair"]]
        lines += table(["benchmark", "isa", "time of a call (ms)", "speedup"], rows) + [""]

    if png:
        lines += ["## Chart", "", "![GFLOP/s per layer, pass and path](%s)" % png, ""]
    return "\n".join(lines)


def chart(doc, runs, png_path, gnuplot):
    """Three panels (fwd, bwd_data, bwd_weights) of bars: GFLOP/s per layer, one bar per path."""
    ctx = doc.get("context", {})
    flops = [r for r in runs if r["family"] in ("conv", "dense") and "GFLOPS" in r
             and not r["error"]]
    if not flops:
        print("report.py: no GFLOPS figures to chart", file=sys.stderr)
        return False
    layers, paths = [], []
    for r in flops:
        name = r["layer"] if r["family"] == "conv" else "fc" + r["layer"]
        r["chart_layer"] = name
        if name not in layers:
            layers.append(name)
        if r["path"] not in paths:
            paths.append(r["path"])
    value = {(r["chart_layer"], r["pass"], r["path"]): r["GFLOPS"] for r in flops}
    top = max(value.values())
    reps = max([r["reps"] for r in runs] + [1])
    # The right axis is against the best peak of the CPU (AVX-512 where it has it), so bars
    # of different paths read on one scale.
    peak = max(float(ctx.get("peak_gflops", "0") or 0), float(ctx.get("peak_gflops_avx512", "0") or 0))

    script = ["set terminal pngcairo size 1400,1050 font 'Sans,11'",
              "set output '%s'" % png_path.replace("'", "''"),
              "set datafile missing '?'",
              "set style data histograms",
              "set style histogram clustered gap 1",
              "set style fill solid 0.85 border -1",
              "set boxwidth 0.9",
              "set grid ytics lc rgb '#dddddd'",
              "set yrange [0:%g]" % (top * 1.18),
              "set ylabel 'GFLOP/s'",
              # The right axis reads the same bars as a percentage of the measured peak.
              "set y2range [0:%g]" % (top * 1.18 / peak * 100 if peak > 0 else 1),
              "set y2tics nomirror",
              "set y2label '% of FMA peak'" if peak > 0 else "unset y2tics",
              "set key top left",
              "set xtics nomirror scale 0",
              "set ytics nomirror",
              "set border 11",
              "set multiplot layout 3,1 title \"cnn.h: GFLOP/s per layer and code path "
              "(direct-equivalent FLOP; %s)\\n%s, one core; measured FMA peak %.0f GFLOP/s\" "
              "font 'Sans,13'" % ("median of %d runs" % reps if reps > 1 else "one run",
                                  cpu_model(ctx).replace('"', "'"), peak)]
    n = len(paths)
    for ps in PASSES:
        rows = []
        for lay in layers:
            cells = []
            for p in paths:
                v = value.get((lay, ps, p))
                cells.append("?" if v is None else "%.3f" % v)
            rows.append("%s %s" % (lay, " ".join(cells)))
        block = "$%s" % ps
        script.append("%s << EOD\n%s\nEOD" % (block, "\n".join(rows)))
        script.append("set title '%s'" % PASS_TITLES[ps])
        plots = []
        for i, p in enumerate(paths):
            col = i + 2
            plots.append("%s using %d%s title '%s' lc rgb '%s'"
                         % (block, col, ":xtic(1)" if i == 0 else "", p.replace("_", "\\_"),
                            COLORS[i % len(COLORS)]))
        for i in range(n):
            col = i + 2
            dx = (i - (n - 1) / 2.0) / (n + 1)
            plots.append("%s using ($0%+.3f):%d:(sprintf('%%.1f', $%d)) with labels "
                         "offset 0,0.7 font 'Sans,9' notitle" % (block, dx, col, col))
        script.append("plot " + ", \\\n     ".join(plots))
    script.append("unset multiplot")
    os.makedirs(os.path.dirname(os.path.abspath(png_path)), exist_ok=True)
    try:
        res = subprocess.run([gnuplot], input=("\n".join(script) + "\n").encode(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as e:
        print("report.py: cannot run %s: %s" % (gnuplot, e), file=sys.stderr)
        return False
    if res.returncode != 0:
        print("report.py: gnuplot failed:\n" + res.stderr.decode(errors="replace"),
              file=sys.stderr)
        return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("json", help="a JSON file written with --benchmark_format=json or "
                    "--benchmark_out")
    ap.add_argument("--md", help="write the Markdown report here (default: stdout)")
    ap.add_argument("--png", help="draw the GFLOP/s chart here (needs gnuplot)")
    ap.add_argument("--gnuplot", default="gnuplot")
    args = ap.parse_args()

    with open(args.json) as f:
        doc = json.load(f)
    runs = load_runs(doc)
    if not runs:
        sys.exit("report.py: %s holds no benchmark results" % args.json)
    for r in runs:
        r.update(split_name(r["name"]))

    def rel(path, start):
        return os.path.relpath(os.path.abspath(path), os.path.abspath(start))

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    md_dir = os.path.dirname(args.md) if args.md else "."
    png_link = rel(args.png, md_dir) if args.png else None
    text = markdown(doc, runs, rel(args.json, root), png_link)
    if args.png and not chart(doc, runs, args.png, args.gnuplot):
        sys.exit(1)
    if args.md:
        os.makedirs(md_dir or ".", exist_ok=True)
        with open(args.md, "w") as f:
            f.write(text)
        print("report.py: wrote %s%s" % (args.md, " and %s" % args.png if args.png else ""))
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
