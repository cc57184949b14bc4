"""Compares the training statistics of `cyclegan train --precision P` with PyTorch's.

For each precision, each loss's mean over iterations [150, 200) (0-based; the log's iters
151..200) of our runs (`cyclegan train ... --print_freq 1` logs) against the spread
(min..max) of the same mean over PyTorch runs (`precision_training.py --out` JSON files).
Prints one table per precision: PyTorch's runs, their spread, ours, and whether each of ours
lies within the spread; then, against `--baseline` (fp32), what each precision changes in
each implementation. Plain Python 3, no torch.

Usage: python3 benchmarks/precision_compare.py --ours mixed:'/tmp/prec/ours_mixed_*.log' \\
           --torch mixed:'/tmp/prec/torch_amp_*.json' [--ours ... --torch ...]
       python3 benchmarks/precision_compare.py --pair mixed:'ours_mixed_*.log':'paired_amp_*.json'
(--pair: PyTorch runs made with `precision_training.py --swift_seed S`, each against ours of --seed S).
"""
import argparse, glob, json, re

LOSSES = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")
LINE = re.compile(r"\(epoch: \d+, iters: (\d+),.*?\) (.*)$")


def our_means(path, window):
    """Each loss's mean over the window from a train log (one line per iteration)."""
    by_iter = {}
    for line in open(path):
        m = LINE.search(line.strip())
        if m:
            vals = dict(zip(m.group(2).split()[0::2], m.group(2).split()[1::2]))
            by_iter[int(m.group(1)) - 1] = {k.rstrip(":"): float(v) for k, v in vals.items()}
    its = [i for i in range(*window)]
    missing = [i for i in its if i not in by_iter]
    if missing:
        raise SystemExit(f"{path}: iterations {missing[:3]}... are not logged (train with --print_freq 1)")
    return {k: sum(by_iter[i][k] for i in its) / len(its) for k in LOSSES}


def paired(specs, window):
    """--pair PRECISION:OURS_GLOB:TORCH_GLOB: PyTorch runs made with --swift_seed S against our
    run of --seed S (the number at the end of our log's name): per loss, our window mean minus
    PyTorch's, seed by seed. The same data and pool draws leave only the two implementations'
    rounding (and, across precisions, the precision's own effect) between the two."""
    for spec in specs:
        p, og, tg = spec.split(":", 2)
        ours = {int(re.search(r"(\d+)\.log$", f).group(1)): our_means(f, window) for f in glob.glob(og)}
        ref = {r["swift_seed"]: r["means"] for r in (json.load(open(f)) for f in glob.glob(tg)) if r.get("swift_seed") is not None}
        seeds = sorted(set(ours) & set(ref))
        print(f"\n{p}, paired (same data and pool draws) over seeds {seeds}: ours minus PyTorch, each seed's window mean")
        for k in LOSSES:
            d = [ours[s][k] - ref[s][k] for s in seeds]
            rel = max(abs(x) / ref[s][k] for x, s in zip(d, seeds))
            print(f"{k:8} mean {sum(d) / len(d):+.4f}   per seed " + " ".join(f"{x:+.4f}" for x in d) + f"   largest {100 * rel:.1f}%")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", action="append", default=[], help="PRECISION:GLOB of train logs")
    ap.add_argument("--torch", action="append", default=[], help="PRECISION:GLOB of precision_training.py JSON files")
    ap.add_argument("--window", default="150,200")
    ap.add_argument("--baseline", default="fp32", help="the precision whose means the others' changes are taken from")
    ap.add_argument("--pair", action="append", default=[], help="PRECISION:OURS_GLOB:TORCH_GLOB (PyTorch with --swift_seed)")
    a = ap.parse_args()
    window = tuple(int(v) for v in a.window.split(","))
    if a.pair:
        paired(a.pair, window)
    torch_runs = {p: sorted(glob.glob(g)) for p, g in (s.split(":", 1) for s in a.torch)}
    tables = {}
    for spec in a.ours:
        p, g = spec.split(":", 1)
        ours = [our_means(f, window) for f in sorted(glob.glob(g))]
        ref = [json.load(open(f)) for f in torch_runs.get(p, [])]
        for r in ref:
            assert tuple(r["window"]) == window, (r["window"], window)
        print(f"\n{p}: mean over iterations [{window[0]}, {window[1]}), {len(ours)} of ours, {len(ref)} PyTorch runs")
        print(f"{'loss':8} {'PyTorch runs':>26} {'spread':>15} {'ours':>26}  within")
        inside = 0
        for k in LOSSES:
            t = [r["means"][k] for r in ref]
            o = [m[k] for m in ours]
            lo, hi = (min(t), max(t)) if t else (float("nan"), float("nan"))
            ok = sum(lo <= v <= hi for v in o)
            inside += ok
            print(f"{k:8} {' '.join(f'{v:.3f}' for v in t):>26} {lo:7.3f}..{hi:.3f} {' '.join(f'{v:.3f}' for v in o):>26}  {ok}/{len(o)}")
        print(f"{inside} of {len(ours) * len(LOSSES)} of our means lie within PyTorch's spread")
        tables[p] = (ours, ref)
    # What each precision changes, in each implementation: the mean over runs of a loss's
    # window mean, minus the baseline precision's (the precision's own effect, whatever
    # offset the two implementations have between them).
    if a.baseline in tables:
        base_ours, base_ref = tables[a.baseline]
        mean = lambda runs, k: sum(r[k] for r in runs) / len(runs)
        for p, (ours, ref) in tables.items():
            if p == a.baseline or not ref or not base_ref:
                continue
            print(f"\n{p} minus {a.baseline}: change of each loss's mean (ours, PyTorch), and the spread of "
                  f"{a.baseline}'s runs (ours, PyTorch)")
            for k in LOSSES:
                d_ours = mean(ours, k) - mean(base_ours, k)
                d_ref = mean([r["means"] for r in ref], k) - mean([r["means"] for r in base_ref], k)
                s_ours = max(r[k] for r in base_ours) - min(r[k] for r in base_ours)
                s_ref = max(r["means"][k] for r in base_ref) - min(r["means"][k] for r in base_ref)
                print(f"{k:8} {d_ours:+.4f} {d_ref:+.4f}   spread {s_ours:.4f} {s_ref:.4f}")


if __name__ == "__main__":
    main()
