#!/usr/bin/env bash
# Fails when src/gen/ is not what `npm run generate` produces from proto/ (someone edited the
# proto without regenerating, or edited generated code by hand). Also runs buf lint.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent generate
if ! git diff --quiet --exit-code -- src/gen || [ -n "$(git ls-files --others --exclude-standard -- src/gen)" ]; then
  echo "check-generated: src/gen is stale. Run 'npm run generate' and commit the result:" >&2
  git status --short -- src/gen >&2
  exit 1
fi
echo "check-generated: src/gen is fresh; buf lint is clean"
