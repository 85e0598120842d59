"""What the five lesson scripts share: a registry of listings, a runner, and comparison printers.

Each lesson script decorates one function per listing with ``@lesson.listing("...")`` (the
label quotes the lesson: its heading, or the first line of the listing) and ends with
``sys.exit(lesson.main(__doc__))``. The runner calls every listing in order with one shared
namespace ``run`` (``run.quick`` is the --quick flag; listings that continue an earlier one read
its variables from ``run``), catches what a listing raises so the others still run, prints a
summary naming each failure and its error, and exits 1 when any listing failed.

This file is not a lesson: it only runs them (python examples/lessons/lesson_*.py --help).
"""
import argparse
import math
import traceback
import types

_LISTINGS = []


def listing(label, kind="listing"):
    """Register the decorated function as the lesson's next listing. kind: "listing" (code the
    lesson shows), "exercise" (a task the lesson sets; the function is its solution) or
    "concept" (a computation the lesson states in prose or inline code, made runnable)."""
    def register(fn):
        _LISTINGS.append((fn, label, kind))
        return fn
    return register


def show(label, ours, lesson=None, fmt="{}"):
    """Print one of our numbers, and the lesson's own next to it when the lesson gives one."""
    text = fmt.format(ours) if not isinstance(ours, str) else ours
    if lesson is None:
        print(f"  {label}: {text}")
    else:
        print(f"  {label}: {text}    (lesson: {lesson})")


def _as_float_list(x):
    if hasattr(x, "detach"):                    # a tensor: compare its values
        x = x.detach().tolist()
    if hasattr(x, "tolist"):                    # a NumPy array or scalar
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            out.extend(_as_float_list(v))
        return out
    return [float(x)]


def agree(label, ours, reference, atol=1e-6, rtol=1e-5):
    """Print the largest difference between two results (tensors, arrays, lists or numbers) and
    raise AssertionError when they disagree, so a wrong cross-check fails its listing."""
    a, b = _as_float_list(ours), _as_float_list(reference)
    if len(a) != len(b):
        raise AssertionError(f"{label}: {len(a)} values vs {len(b)}")
    diff = max((abs(x - y) for x, y in zip(a, b)), default=0.0)
    ok = all(abs(x - y) <= atol + rtol * abs(y) or (math.isnan(x) and math.isnan(y))
             for x, y in zip(a, b))
    print(f"  {label}: max |difference| {diff:.2e}  {'agree' if ok else 'DISAGREE'}")
    if not ok:
        raise AssertionError(f"{label}: results differ by {diff:.3e}")


def main(doc, argv=None):
    """Run the registered listings; return 0 when all ran, else 1."""
    ap = argparse.ArgumentParser(description=doc.strip().split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(doc.strip().split("\n")[1:]))
    ap.add_argument("--quick", action="store_true",
                    help="small sizes and few epochs, so the whole lesson runs in seconds")
    ap.add_argument("--only", metavar="TEXT", default=None,
                    help="run only the listings whose function name or label contains TEXT")
    ap.add_argument("--list", action="store_true", help="list the listings and exit")
    args = ap.parse_args(argv)
    chosen = [(fn, label, kind) for fn, label, kind in _LISTINGS
              if args.only is None or args.only in fn.__name__ or args.only in label]
    if args.list:
        for fn, label, kind in chosen:
            print(f"{fn.__name__:40s} {kind:9s} {label}")
        return 0
    run = types.SimpleNamespace(quick=args.quick)
    failed = []
    for n, (fn, label, kind) in enumerate(chosen, 1):
        print(f"\n=== [{n}/{len(chosen)}] {kind}: {label}  ({fn.__name__}) ===")
        try:
            fn(run)
        except Exception as e:                 # report and go on: every listing gets its run
            where = traceback.extract_tb(e.__traceback__)[-1]
            msg = f"{type(e).__name__}: {e}".splitlines()[0]
            print(f"  FAILED: {msg}  [at {where.name}, line {where.lineno}]")
            failed.append((fn.__name__, msg))
        else:
            print("  -> ok")
    print(f"\n{len(chosen) - len(failed)} of {len(chosen)} listings ran"
          + ("." if not failed else f"; {len(failed)} failed:"))
    for name, msg in failed:
        print(f"  {name}: {msg}")
    return 1 if failed else 0
