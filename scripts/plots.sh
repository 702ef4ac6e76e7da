#!/usr/bin/env bash
# Draws the benchmark plots (docs/img/*.png) from bench-results/ with matplotlib from PyPI,
# installed into .venv-plots (created on first use). CI does not run this; the PNGs are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv-plots/bin/python3 ]]; then
  python3 -m venv .venv-plots
  .venv-plots/bin/pip install --quiet 'matplotlib>=3.8,<4'
fi
.venv-plots/bin/python3 scripts/plots.py
