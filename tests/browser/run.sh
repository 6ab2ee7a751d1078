#!/usr/bin/env bash
# Browser tests of chatpay's payment pages: Debian's Chromium driven by
# playwright-core, axe-core for accessibility. Builds nothing: it tests the
# binary named by CHATPAY_BIN (an absolute path). Screenshots go to
# build/screenshots/ at the top of the repository.
#
#   CHATPAY_BIN=$PWD/build/chatpay tests/browser/run.sh
#
# Needs node (>= 20) and npm, and /usr/bin/chromium (apt-get install chromium).
# The npm packages (exact versions in package-lock.json) are installed into
# tests/browser/node_modules when it is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
  echo "tests/browser: $*" >&2
  exit 2
}

if [[ -z "${CHATPAY_BIN:-}" || "${CHATPAY_BIN}" != /* ]]; then
  die "CHATPAY_BIN must be the absolute path of the chatpay binary (e.g. CHATPAY_BIN=\$PWD/build/chatpay)"
fi
[[ -x "$CHATPAY_BIN" ]] || die "CHATPAY_BIN=$CHATPAY_BIN is not an executable file (run make first)"

chromium=${CHROMIUM_BIN:-/usr/bin/chromium}
[[ -x "$chromium" ]] || die "$chromium not found: install Debian's chromium (apt-get install -y chromium; scripts/install-deps does it)"

command -v node >/dev/null || die "node not found: install nodejs (scripts/install-deps does it)"
command -v npm >/dev/null || die "npm not found: install npm (scripts/install-deps does it)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "node $(node --version) is too old: playwright-core needs node >= 20"

cd "$here"
if [[ ! -d node_modules/playwright-core || ! -d node_modules/axe-core ]]; then
  echo "tests/browser: npm ci" >&2
  # the browser comes from Debian: never let an install step fetch one
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 600 npm ci --no-audit --no-fund
fi

export CHATPAY_BIN CHROMIUM_BIN="$chromium"
# every test and hook has its own timeout; this bounds the whole run
exec timeout --kill-after=30 900 npm test --silent
