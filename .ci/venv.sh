# shellcheck shell=bash
# Sourced by .ci/helm-check.sh and .ci/image-check.sh: installs pinned Python tools into venvs
# under a cache directory, one venv per requirements file, rebuilt when the file changes.
#
#   MEETING_SERVICE_CI_CACHE  cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/meeting-service-ci)
#   PYTHON                    interpreter for the venvs (default python3; >= 3.10)

ci_cache_dir() {
  printf '%s\n' "${MEETING_SERVICE_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meeting-service-ci}"
}

# ensure_venv NAME REQUIREMENTS_FILE -> prints the venv directory.
ensure_venv() {
  local name=$1 requirements=$2 python=${PYTHON:-python3} cache hash dir
  cache=$(ci_cache_dir)
  hash=$(sha256sum "$requirements" | cut -c1-12)
  dir="$cache/venv-$name-$hash"
  if [[ ! -x "$dir/bin/python" || ! -f "$dir/.complete" ]]; then
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
      echo "error: $python is older than Python 3.10 (needed by helm-python-sdk)" >&2
      return 1
    fi
    echo "installing $name tools from ${requirements#"$PWD/"} into $dir" >&2
    rm -rf "$dir"
    mkdir -p "$cache"
    "$python" -m venv "$dir" >&2
    PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
      "$dir/bin/pip" install --quiet --no-input --requirement "$requirements" >&2
    touch "$dir/.complete"
    # Drop venvs of older versions of the same requirements.
    find "$cache" -maxdepth 1 -name "venv-$name-*" ! -name "venv-$name-$hash" -exec rm -rf {} + 2>/dev/null || true
  fi
  printf '%s\n' "$dir"
}
