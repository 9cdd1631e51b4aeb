#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) over every first-party source using the dev build's compile database.
source "$(dirname "$0")/lib.sh"
[[ -f ${repo_root}/build/dev/compile_commands.json ]] || build dev
cd "${repo_root}"
mapfile -t files < <(git ls-files 'src/*.cpp' 'apps/*.cpp' | grep -v '_test\.cpp$')
say "clang-tidy on ${#files[@]} files"
printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -n 1 clang-tidy -p build/dev --quiet 2>/dev/null | grep -E '^/.*(error|warning):' | sort -u >"${repo_root}/build/tidy.txt" || true
if [[ -s ${repo_root}/build/tidy.txt ]]; then
  cat "${repo_root}/build/tidy.txt"
  exit 1
fi
say "clang-tidy: clean"
