# compare_lib.sh: what test_compare.sh and test_compare_report.sh share (sourced): lib.sh, the
# interpreter and the two scripts under test.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PY=/usr/bin/python3
CMP="$SRC/scripts/compare.sh"
REPORT="$SRC/scripts/py/compare_report.py"
[[ -x $PY ]] || { echo "FAIL: $PY missing (scripts/setup.sh installs python3)"; exit 1; }
