#!/usr/bin/env bash
# Install everything the tests need, then run them (the README's test command; CI runs the whole
# suite through .ci/run, after ruff and mypy). Safe to run again: the .venv is reused, and every
# install is skipped once it is satisfied (pip's only when pyproject.toml changed).
#
#   bash scripts/test.sh            the whole suite (~20 min on 2 cores)
#   bash scripts/test.sh --quick    the quick tier (under 2 min): every test that needs no browser,
#                                   no server, no worker process and no real training run
#   bash scripts/test.sh --checks   ruff and mypy only (settings in pyproject.toml); .ci/run runs it first
#   bash scripts/test.sh ARGS       ARGS go to pytest, e.g. -m "not slow" or tests/test_loss.py
#
#   * a .venv (made with python3 if there is none) with the project installed editable and its
#     dev extra (pyproject.toml), the book's d2l==0.17.6 (--no-deps: its own pins do not install
#     on Python 3.11), and d2l==1.0.3 in bench/_d2l_env/ (git-ignored; the same package name, so
#     not in the .venv);
#   * Debian's chromium for the browser tests, where apt-get can install it (root or sudo);
#     where it cannot, the browser tests skip, saying why (not for --quick);
#   * Debian's fonts-noto-cjk and fonts-noto-color-emoji, so screenshots show Chinese and icons
#     (not for --quick);
#   * g++ for the fused GRU kernel (core/fast), where apt-get can install it;
#   * FRA_ENG_PATH = ../shared/data/fra-eng.zip (the book's data, read in place) unless set.
#
# Exits with pytest's status: non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# The quick tier: the markers (pyproject.toml) of the four kinds of test it leaves out.
QUICK_TIER='not slow and not browser and not load and not trains and not process'
quick=false checks=false
if [ "${1:-}" = "--quick" ]; then quick=true; shift; set -- -m "$QUICK_TIER" "$@"; fi
if [ "${1:-}" = "--checks" ]; then quick=true checks=true; shift; fi

as_root() {   # run a command as root: directly, through sudo without a password, or not at all
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
  else return 1
  fi
}

apt_install() {   # apt_install LOG PACKAGE...: three tries (another apt may hold the lock a moment)
  local log=$1; shift
  command -v apt-get >/dev/null 2>&1 || return 1
  for attempt in 1 2 3; do
    if (as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive \
          apt-get install -y -qq "$@") >"$log" 2>&1; then
      return 0
    fi
    [ "$attempt" -lt 3 ] && sleep 10
  done
  return 1
}

have_chromium() {
  if [ -n "${CHROMIUM_PATH:-}" ]; then [ -x "$CHROMIUM_PATH" ]; return; fi
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || [ -x /usr/bin/google-chrome ]
}

# Debian's chromium for the real-browser tests (playwright drives it; its own download is not used).
if ! $quick && ! have_chromium; then
  apt_install "${TMPDIR:-/tmp}/seq2seq-apt-chromium.log" chromium || true
  have_chromium || echo "scripts/test.sh: chromium could not be installed here (needs apt-get and root" \
    "or sudo; see ${TMPDIR:-/tmp}/seq2seq-apt-chromium.log): the browser tests will skip, saying so" >&2
fi

# A CJK font and an emoji font, so that the browser tests' screenshots of the Chinese interface
# show its characters and the views' icons (not boxes).
if ! $quick && ! (command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ] \
      && fc-list 2>/dev/null | grep -qi "color emoji"); then
  apt_install "${TMPDIR:-/tmp}/seq2seq-apt-cjk.log" fonts-noto-cjk fonts-noto-color-emoji \
    || echo "scripts/test.sh: fonts-noto-cjk / fonts-noto-color-emoji could not be installed: screenshots show boxes" >&2
fi

# A C++ compiler for the fused GRU kernel (core/fast/fused_gru.py); its tests need it.
if ! command -v g++ >/dev/null 2>&1; then
  apt_install "${TMPDIR:-/tmp}/seq2seq-apt-gxx.log" g++ \
    || echo "scripts/test.sh: g++ could not be installed: training falls back to nn.GRU" >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
# pip runs only when pyproject.toml (the one list of dependencies) changed since the last install.
stamp=.venv/.seq2seq-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1) d2l==0.17.6"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python -m pip install -q --upgrade pip
  python -m pip install -q -e ".[dev]"
  # The book's code for the parity tests; its pins do not install on Python 3.11 (see pyproject.toml).
  python -m pip install -q --no-deps d2l==0.17.6
  echo "$want" >"$stamp"
fi
# d2l 1.0's class API for the import tests: also a package named d2l, so beside it, in its own folder.
[ -f bench/_d2l_env/d2l-1.0.3/d2l/torch.py ] || \
  python -m pip install -q --no-deps --target bench/_d2l_env/d2l-1.0.3 d2l==1.0.3

if $checks; then
  ruff check .
  mypy
  exit 0
fi

# The book's data file, read in place (never copied into the repo).
if [ -z "${FRA_ENG_PATH:-}" ] && [ -f ../shared/data/fra-eng.zip ]; then
  FRA_ENG_PATH="$(cd ../shared/data && pwd)/fra-eng.zip"
  export FRA_ENG_PATH
fi

# -rs: every skipped test says why (e.g. no chromium). Slow tests (marked `slow`) are included.
python -m pytest -q -rs "$@"
