#!/usr/bin/env bash
# Lints ../openapi.json with Redocly's recommended rules and Spectral's `spectral:oas`, at
# the pinned versions of package-lock.json: any error fails, and so does any Spectral
# warning; Redocly's warnings on the three operations that answer no 4XX are listed in
# .redocly.lint-ignore.yaml with the reason.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
command -v npm >/dev/null || { echo "npm is not installed (Node 22.12 or later)" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
echo "---- Redocly (recommended) ----"
npm run --silent redocly
echo "---- Spectral (spectral:oas) ----"
npm run --silent spectral
