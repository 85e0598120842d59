"""A long fuzz run of tests/test_properties.py that counts programs and mismatches.

    python tools/fuzz_properties.py --minutes 15 [--seed N] [--torch-only] [--save FILE]

``pytest --hypothesis-profile=long`` stops at the first failing program (and an interrupted
run prints no statistics); this runner draws programs from the same strategy for a fixed time,
checks each one with the two property tests' bodies (NumPy + central differences, and PyTorch
when installed), keeps going after a mismatch, and prints the number of programs run (special
ones with NaN/inf/-0/huge leaves counted apart) and every mismatch (its program and the first
line of the assertion). No shrinking: a mismatch is reported as drawn; ``--save`` pickles every
mismatching case (program, leaf data, output weights) to replay it.
"""
import argparse
import os
import pickle
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from tests import test_properties as tp  # noqa: E402


class _TimeUp(Exception):
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=None, help="fixed seed (default: random)")
    ap.add_argument("--torch-only", action="store_true", help="skip the NumPy/central-differences check")
    ap.add_argument("--save", help="pickle the mismatching cases to this file")
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    checks = [] if args.torch_only else [("numpy", tp.test_random_programs_match_numpy_and_central_differences)]
    if have_torch:
        checks.append(("torch", tp.test_random_programs_match_torch))
    stop = time.monotonic() + 60 * args.minutes
    counts = {"programs": 0, "special": 0}
    mismatches = []

    @settings(max_examples=10**9, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(tp.programs())
    def one(case):
        if time.monotonic() > stop:
            raise _TimeUp
        counts["programs"] += 1
        counts["special"] += bool(case[0]["special"])
        for name, check in checks:
            try:
                check.hypothesis.inner_test(case)
            except AssertionError as e:
                msg = " | ".join(line.strip() for line in str(e).splitlines()[:6])
                mismatches.append((name, case, msg))
                if args.save:
                    with open(args.save, "wb") as f:
                        pickle.dump(mismatches, f)
                print(f"MISMATCH ({name}): {msg}", flush=True)

    if args.seed is not None:
        one = seed(args.seed)(one)
    t0 = time.monotonic()
    try:
        one()
    except _TimeUp:
        pass
    print(f"{counts['programs']} programs ({counts['special']} with NaN/inf/-0/huge leaves) in "
          f"{(time.monotonic() - t0) / 60:.1f} min, checks {[n for n, _ in checks]}: "
          f"{len(mismatches)} mismatches")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
