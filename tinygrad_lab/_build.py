"""cffi builder (API / out-of-line mode), run by setuptools through ``cffi_modules``.

The cdef is read from csrc/tinygrad_lab.h (the block between the cdef markers) and set_source
includes that same header, so declarations and definitions are checked against each other by the
C compiler at build time.

TL_BUILD_FLAGS (what ``tl.show_config()`` prints as "build flags") is the compile line the
extension really gets: the flags setuptools takes from Python's sysconfig and the environment
($CFLAGS, $CPPFLAGS, CCSHARED), then ours (with $TINYGRAD_LAB_CFLAGS), and the link flags
($LDFLAGS, then ours) -- so a sanitizer build reports its -fsanitize flags.
"""
import glob
import os
import re
import shlex
import sysconfig

from cffi import FFI

try:    # setuptools' own compiler set-up: the flags it will really pass, whatever its version
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler
except ImportError:   # no setuptools (an installed package): this module still imports
    new_compiler = customize_compiler = None

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(os.path.dirname(HERE), "csrc")
HEADER = os.path.join(CSRC, "tinygrad_lab.h")
VERSION = "0.1.0"


def read_cdef(path=HEADER):
    """Return the declaration block of the public header (the text cffi's cdef() receives)."""
    with open(path) as f:
        text = f.read()
    m = re.search(r"/\* cdef-begin \*/(.*?)/\* cdef-end \*/", text, re.S)
    if m is None:
        raise RuntimeError(f"{path}: cdef-begin/cdef-end markers not found")
    return m.group(1)


def _use_threads():
    # TINYGRAD_LAB_THREADS=0 builds a serial library: csrc/pool.c then starts no threads and runs
    # every chunk of work in the calling thread.
    return os.environ.get("TINYGRAD_LAB_THREADS", "1") not in ("0", "", "no", "false")


def _flags():
    # No -march=native: AVX2+FMA kernels are compiled with target attributes and chosen at run
    # time, so the built extension runs on any x86-64 (and the code builds on other CPUs).
    # -fno-trapping-math (Clang's default) lets GCC if-convert and vectorise loops with selects,
    # such as nn.c's exp; -fno-math-errno (no kernel reads errno) lets it vectorise sqrt, e.g. in
    # the Adam/RMSprop updates. Results are unchanged; only FP exception flags/errno are not kept.
    # -fopenmp-simd honours the `omp simd` vectorisation hints without OpenMP's runtime: the
    # threads are csrc/pool.c's own.
    cflags = ["-O3", "-std=gnu11", "-fno-strict-aliasing", "-fno-trapping-math", "-fno-math-errno",
              "-fopenmp-simd", "-pthread", "-Wall", "-Wno-unused-function"]
    ldflags = ["-pthread"]          # (alloc.c's cache has a mutex even in a serial build)
    if not _use_threads():
        cflags.append("-DTL_NO_THREADS")
    extra = os.environ.get("TINYGRAD_LAB_CFLAGS", "").split()
    return cflags + extra, ldflags


def _system_cflags():
    """The flags setuptools puts before ours on each compile line: Python's sysconfig CFLAGS (or
    $CFLAGS in their place), $CPPFLAGS, CCSHARED, read from the compiler it configures."""
    if new_compiler is not None:
        cc = new_compiler()
        customize_compiler(cc)
        if getattr(cc, "compiler_so", None):
            return list(cc.compiler_so[1:])
    env = os.environ
    return (shlex.split(env.get("CFLAGS", sysconfig.get_config_var("CFLAGS") or ""))
            + shlex.split(env.get("CPPFLAGS", ""))
            + shlex.split(sysconfig.get_config_var("CCSHARED") or ""))


def build_flags():
    """(cflags, ldflags, report): our compile and link flags, and the text of TL_BUILD_FLAGS --
    every flag the compiler really gets, in command-line order, then the link flags."""
    cflags, ldflags = _flags()
    link = shlex.split(os.environ.get("LDFLAGS", "")) + ldflags
    report = " ".join(_system_cflags() + cflags) + " ; link: " + " ".join(link)
    return cflags, ldflags, report


def c_string(text):
    """``text`` as a C string literal (for a -D macro value)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_DECL = re.compile(r"([A-Za-z_][\w \t\n*]*?)\b(tl_\w+)\s*\(([^)]*)\)\s*;")


_KINDS = {"int": "i", "int64_t": "i", "int32_t": "i", "uint64_t": "u", "double": "d", "float": "d"}


def _kind(ctype):
    """A C parameter type's tl_arg slot: 'p' pointer, 'd' double, 'u' uint64_t, 'i' integer."""
    if "*" in ctype:
        return "p"
    if ctype not in _KINDS:
        raise RuntimeError(f"_build.py: no tl_arg slot for C parameter type {ctype!r} (add it to "
                           "_KINDS, and to tinygrad_lab/jit.py's _store if it needs a new kind)")
    return _KINDS[ctype]


# not kernels: the allocator (tensor.py's, never recorded), process settings, the replay itself
_NOT_REPLAYED = ("tl_alloc", "tl_free", "tl_set_", "tl_replay")


def replayable(cdef=None):
    """[(name, returns void, [parameter C types])] of the entry points tl_replay can call: every
    function of the cdef that returns a status (int) or nothing and takes arguments, except the
    allocator, the settings and the replay's own entry points."""
    text = re.sub(r"/\*.*?\*/", " ", read_cdef() if cdef is None else cdef, flags=re.S)
    out = []
    for m in _DECL.finditer(text):
        ret, name = " ".join(m.group(1).split()), m.group(2)
        params = [" ".join(p.split()) for p in m.group(3).split(",")]
        if ret not in ("int", "void") or params == ["void"] or name.startswith(_NOT_REPLAYED):
            continue
        out.append((name, ret == "void", [re.sub(r"\s*\b\w+$", "", p).replace(" *", "*") for p in params]))
    return out


def trampolines(cdef=None):
    """C source of tl_replay's trampoline table (csrc/replay.c): one ``int f(const tl_arg *a)``
    per replayable entry point, unpacking its slots into the kernel's parameters."""
    lines, names = [], []
    unpack = {"p": "a[{k}].p", "d": "({t})a[{k}].d", "u": "(uint64_t)a[{k}].i", "i": "({t})a[{k}].i"}
    for name, void, types in replayable(cdef):
        args = ", ".join(unpack[_kind(t)].format(k=k, t=t) for k, t in enumerate(types))
        body = f"{name}({args}); return 0;" if void else f"return {name}({args});"
        lines.append(f"static int tramp_{name}(const tl_arg *a) {{ {body} }}")
        names.append((name, "".join(_kind(t) for t in types)))
    lines.append("typedef int (*tl_trampoline)(const tl_arg *args);")
    lines.append("const tl_trampoline tl_replay_table_[] = {"
                 + ", ".join(f"tramp_{n}" for n, _ in names) + "};")
    lines.append("const char *const tl_replay_names_[] = {"
                 + ", ".join(f'"{n}"' for n, _ in names) + "};")
    lines.append("const char *const tl_replay_signatures_[] = {"
                 + ", ".join(f'"{sig}"' for _, sig in names) + "};")
    lines.append(f"const int64_t tl_replay_count_ = {len(names)};")
    return "\n".join(lines) + "\n"


def make_builder():
    """The cffi builder of tinygrad_lab._C from csrc/ (needs the source tree)."""
    cflags, ldflags, report = build_flags()
    builder = FFI()
    builder.cdef(read_cdef())
    builder.set_source(
        "tinygrad_lab._C",
        '#include "tinygrad_lab.h"\n' + trampolines(),
        sources=sorted(os.path.relpath(p, os.path.dirname(HERE)) for p in glob.glob(os.path.join(CSRC, "*.c"))),
        include_dirs=[CSRC],
        # headers and .inc templates: editing one rebuilds the extension (setuptools compares times)
        depends=sorted(os.path.relpath(p, os.path.dirname(HERE)) for ext in ("*.h", "*.inc")
                       for p in glob.glob(os.path.join(CSRC, ext))),
        define_macros=[("TL_VERSION", f'"{VERSION}"'), ("TL_BUILD_FLAGS", c_string(report))],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )
    return builder


# setup.py's cffi_modules reads this name. An installed copy has no csrc/ (only the source tree
# and the sdist do), so there the module still imports and ffibuilder is None.
ffibuilder = make_builder() if os.path.isfile(HEADER) else None

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
