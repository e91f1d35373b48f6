#!/usr/bin/env bash
# Refresh the README's screenshots (docs/screenshots/*.png): the browser tests that take them,
# with SEQ2SEQ_SCREENSHOTS_DIR pointing there (a plain test run writes them to a temp folder).
# Needs what `bash scripts/test.sh` installs (the .venv, chromium). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[ -x "$py" ] || py=python3
"$py" -c 'import sys; from tests.browser import streamlit_server as s
r = s.browser_missing_reason()
sys.exit(f"scripts/screenshots.sh: cannot take screenshots: {r}" if r else 0)'
SEQ2SEQ_SCREENSHOTS_DIR="$PWD/docs/screenshots" exec "$py" -m pytest -q -p no:cacheprovider \
  tests/browser/test_browser.py tests/browser/test_step_view.py tests/browser/test_figure.py \
  -k "test_every_view_opens or test_train_tiny_run or test_decode_step_by_step or test_deep_link_to_model or test_step_opens \
or test_a_decode_link_draws or test_the_figure_in_chinese or test_at_a_phones_width or each_draw_their_figure" "$@"
