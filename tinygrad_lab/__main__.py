"""`python -m tinygrad_lab [demo|config]` -- the package's command line."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygrad_lab",
                                     description="tinygrad_lab: a small autograd engine with a C core.")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="train a small model and verify its gradients (the quick start)")
    demo.add_argument("--steps", type=int, default=300, help="gradient steps (default 300)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sub.add_parser("config", help="print the build and machine configuration (for bug reports)")
    args = parser.parse_args(argv)
    if args.command == "config":
        import tinygrad_lab as tl
        tl.show_config()
        return 0
    if args.command == "demo":
        from .demo import run
        return run(steps=args.steps, seed=args.seed)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
