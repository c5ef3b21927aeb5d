#!/usr/bin/env bash
# Installs what `make run` and `make test` need on a Debian 12 machine, skipping what is there:
# Debian packages (when root; otherwise it names what to install), the npm tools pinned by
# package-lock.json, and the Go modules. Safe to run again: a second run changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: server binaries, pgTAP + pg_prove, plpgsql_check (supabase db lint),
# Chromium (browser tests).
PACKAGES=(postgresql-15 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
  postgresql-15-plpgsql-check chromium)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  # vendorhub runs its own ephemeral clusters: keep Debian from creating and starting "15 main".
  mkdir -p /etc/postgresql-common/createcluster.d
  [[ -e /etc/postgresql-common/createcluster.d/vendorhub.conf ]] ||
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/vendorhub.conf
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/vendorhub-apt.log 2>&1; }
  if ! apt_install; then
    echo "deps: apt-get install failed; running apt-get update and trying again"
    apt-get update -q >>/tmp/vendorhub-apt.log 2>&1 || true
    if ! apt_install; then
      tail -n 20 /tmp/vendorhub-apt.log >&2
      echo "deps: could not install ${missing[*]} (log: /tmp/vendorhub-apt.log)" >&2
      exit 1
    fi
  fi
fi

# Node.js tools (Supabase CLI, supabase-js, ws, playwright-core), from the committed lockfile.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "deps: Node.js >= 20 and npm are needed: install them (e.g. apt-get install nodejs npm on a distribution shipping Node 20)" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "deps: Node.js >= 20 is needed, found $(node --version)" >&2
  exit 1
fi
# Stale: a package of the lockfile is missing from node_modules or has another version.
lock_ok() {
  node -e '
    const fs = require("fs");
    const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
    for (const [path, meta] of Object.entries(lock.packages || {})) {
      if (!path || meta.optional || meta.dev) continue;
      let got;
      try { got = JSON.parse(fs.readFileSync(path + "/package.json", "utf8")).version; } catch { process.exit(1); }
      if (got !== meta.version) process.exit(1);
    }'
}
if ! lock_ok; then
  echo "deps: npm ci (node_modules missing or different from package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Go modules.
go mod download
