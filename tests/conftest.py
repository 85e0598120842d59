"""Hypothesis profiles for tests/test_properties.py.

`ci` (the default) is derandomized (a fixed seed: the same programs on every run) with a bounded
number of examples, so the suite stays deterministic and fast. `long` draws fresh random programs
for a deep search: `python -m pytest tests/test_properties.py --hypothesis-profile=long
--hypothesis-show-statistics` (the statistics give the number of programs run).
"""
try:
    from hypothesis import HealthCheck, Phase, settings
except ImportError:       # hypothesis comes with the `test` extra; without it the file is skipped
    settings = None

if settings is not None:
    # no "explain" phase: it reruns a failing program 100 times to annotate it (~10 s)
    _common = dict(database=None, print_blob=True,
                   phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    # deadline: generous, since the suite also runs under ASan (several times slower).
    settings.register_profile("ci", derandomize=True, max_examples=500, deadline=5000, **_common)
    settings.register_profile("long", derandomize=False, max_examples=1_000_000, deadline=None,
                              **_common)
    settings.load_profile("ci")   # --hypothesis-profile=NAME, applied after this, overrides it
