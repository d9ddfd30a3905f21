"""Run one fuzz target under atheris (libFuzzer).

    fuzz/.venv/bin/python fuzz/run.py TARGET [libFuzzer flags] [corpus dirs or files]
    fuzz/.venv/bin/python fuzz/run.py --list
    fuzz/.venv/bin/python fuzz/run.py TARGET --smoke N [flags]   (CI: N seeds, scratch corpus)

With no corpus argument the target reads fuzz/seeds/TARGET (written here from
tests/data/conformance, plus the reproducers fuzz/findings/F<n>-TARGET-*.input) and
reads and grows fuzz/corpus/TARGET. Default flags, each
overridable by passing it: -max_len=4096 -timeout=10 -rss_limit_mb=4096
-dict=fuzz/json.dict -artifact_prefix=fuzz/artifacts/TARGET/ -print_final_stats=1.

libFuzzer inside atheris must be loaded before the instrumented extension, or its
SanitizerCoverage callbacks are undefined symbols: this script re-executes itself with
atheris's ``ubsan_with_fuzzer.so`` (UBSan's runtime with libFuzzer linked in) in
LD_PRELOAD, so atheris uses that libFuzzer and the extension's counters, PC table and
compare hooks all register with it (see README.md, "How coverage is wired").
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shlex
import sys
import tempfile
from pathlib import Path

FUZZ_DIR = Path(__file__).resolve().parent
TARGETS_DIR = FUZZ_DIR / "targets"


def targets() -> list[str]:
    return sorted(p.stem for p in TARGETS_DIR.glob("*.py") if not p.stem.startswith("_"))


def _ensure_preload() -> None:
    import atheris  # noqa: PLC0415 - only to find its directory; it does not load libFuzzer

    preload = str(Path(atheris.path()) / "ubsan_with_fuzzer.so")
    current = os.environ.get("LD_PRELOAD", "")
    if preload in current.split(":"):
        return
    env = dict(os.environ)
    env["LD_PRELOAD"] = f"{preload}:{current}" if current else preload
    # UBSan's runtime only carries libFuzzer here (nothing is UBSan-instrumented).
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def _regressions(name: str) -> list[bytes]:
    """The reproducers of past findings of this target (fuzz/findings/F<n>-TARGET-*.input)."""
    return [p.read_bytes() for p in sorted((FUZZ_DIR / "findings").glob(f"F*-{name}-*.input"))]


def _write_seeds(name: str, module: object) -> Path:
    out = FUZZ_DIR / "seeds" / name
    out.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for seed in [*_regressions(name), *module.seeds()]:  # type: ignore[attr-defined]
        wanted[hashlib.sha1(seed).hexdigest()] = seed
    for stale in out.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    for digest, seed in wanted.items():
        path = out / digest
        if not path.exists():
            path.write_bytes(seed)
    return out


def main() -> None:
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        print("targets:", " ".join(targets()))
        raise SystemExit(0 if args else 2)
    if args[0] == "--list":
        print("\n".join(targets()))
        return
    name, flags = args[0], args[1:]
    smoke = 0
    if flags[:1] == ["--smoke"]:
        smoke, flags = int(flags[1]), flags[2:]
    if name not in targets():
        raise SystemExit(f"unknown target {name!r}; targets: {' '.join(targets())}")
    _ensure_preload()

    sys.path.insert(0, str(FUZZ_DIR))
    import atheris  # noqa: PLC0415

    module = importlib.import_module(f"targets.{name}")
    given = {flag.split("=", 1)[0] for flag in flags if flag.startswith("-")}
    defaults = {
        "-max_len": "4096",
        "-timeout": "10",
        "-rss_limit_mb": "4096",
        "-dict": str(FUZZ_DIR / "json.dict"),
        "-artifact_prefix": f"{FUZZ_DIR / 'artifacts' / name}{os.sep}",
        "-print_final_stats": "1",
    }
    extra = [f"{flag}={value}" for flag, value in defaults.items() if flag not in given]
    (FUZZ_DIR / "artifacts" / name).mkdir(parents=True, exist_ok=True)
    if smoke:
        # A fresh corpus and at most `smoke` seeds, evenly spread, and a fixed seed.
        scratch = Path(tempfile.mkdtemp(prefix=f"lumora-fuzz-{name}-"))
        all_seeds = list(module.seeds())
        step = max(1, len(all_seeds) // smoke)
        for i, seed in enumerate([*_regressions(name), *all_seeds[::step][:smoke]]):
            (scratch / f"seed-{i:04d}").write_bytes(seed)
        extra += [] if "-seed" in given else ["-seed=1"]
        extra.append(str(scratch))
    elif not any(not flag.startswith("-") for flag in flags):
        corpus = FUZZ_DIR / "corpus" / name
        corpus.mkdir(parents=True, exist_ok=True)
        extra += [str(corpus), str(_write_seeds(name, module))]
    # libFuzzer re-runs argv[0] through the shell for -minimize_crash and -merge: make it
    # the whole command that runs this target.
    argv0 = shlex.join([sys.executable, str(Path(__file__).resolve()), name])
    atheris.Setup([argv0, *extra, *flags], module.test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
