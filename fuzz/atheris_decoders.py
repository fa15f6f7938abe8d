"""Coverage-guided fuzzing of the input decoders with atheris (manual; not run in CI).

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/atheris_decoders.py ckt -atheris_runs=1000000

The first argument picks the target (ckt, skt, config, tables; see fuzz/targets.py); the
rest go to libFuzzer. A crash is any exception other than the project's own one-line
refusals; libFuzzer then writes the input that caused it to ``crash-*``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports():
    from fuzz.targets import SEEDS, TARGETS  # noqa: E402


def main() -> None:
    name = sys.argv.pop(1) if len(sys.argv) > 1 and sys.argv[1] in TARGETS else "ckt"
    target = TARGETS[name]
    corpus = Path(__file__).resolve().parent / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)
    (corpus / "seed").write_bytes(SEEDS[name])
    atheris.Setup([sys.argv[0], str(corpus), *sys.argv[1:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
