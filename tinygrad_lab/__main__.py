"""`python -m tinygrad_lab [demo|config]` -- the package's command line."""
import argparse
import sys

from ._config import show_config
from .demo import DEFAULTS, run


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygrad_lab",
                                     description="tinygrad_lab: a small autograd engine with a C core.")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser(
        "demo", help="train an MLP on generated spirals, gradcheck it, draw its decision regions",
        description="Train a 2-H-H-3 MLP (tl.nn + tl.optim.Adam) on three interleaved spirals "
                    "generated from the seeded RNG, gradcheck the trained model's loss in float64, "
                    "and draw the learned decision regions in the terminal. Needs no extra "
                    "packages and no network.",
        epilog="Exit status: 0 on success; 1 if gradcheck fails, or if training with the default "
               "--steps/--hidden/--lr (any --seed) ends below 95% training accuracy.")
    demo.add_argument("--steps", type=_positive_int, default=DEFAULTS["steps"], metavar="N",
                      help="full-batch Adam steps (default %(default)s)")
    demo.add_argument("--seed", type=int, default=DEFAULTS["seed"], metavar="S",
                      help="seed for the data and the initial weights (default %(default)s)")
    demo.add_argument("--hidden", type=_positive_int, default=DEFAULTS["hidden"], metavar="H",
                      help="units in each of the two hidden layers (default %(default)s); "
                           "gradcheck time grows with H*H")
    demo.add_argument("--lr", type=_positive_float, default=DEFAULTS["lr"],
                      help="Adam learning rate (default %(default)s)")
    demo.add_argument("--threads", type=_positive_int, default=DEFAULTS["threads"], metavar="T",
                      help="threads for the C kernels (default %(default)s: the demo's matrices "
                           "are small, and on a busy machine threads cost more than they save)")
    demo.add_argument("--plot", metavar="FILE.png",
                      help="also save the loss curve and the decision regions to this PNG "
                           "(needs matplotlib; without it a message says so and the demo goes on)")
    demo.add_argument("--explain", action="store_true",
                      help="also show one training step through tl.viz: its graph (demo_graph.svg, "
                           "or demo_graph.dot without Graphviz), the gradient-flow table and chart "
                           "(demo_grad_flow.png, with matplotlib) and the memory kept for backward")
    demo.add_argument("--out", metavar="DIR", default=".",
                      help="folder for the --explain files (default: the current folder)")
    demo.add_argument("--quiet", action="store_true",
                      help="no progress bar and no terminal plot: just the summary lines")
    sub.add_parser("config", help="print the build and machine configuration (for bug reports)")
    args = parser.parse_args(argv)
    if args.command == "config":
        show_config()
        return 0
    if args.command == "demo":
        return run(steps=args.steps, seed=args.seed, hidden=args.hidden, lr=args.lr,
                   threads=args.threads, plot=args.plot, quiet=args.quiet,
                   explain_dir=args.out if args.explain else None)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
