#!/usr/bin/env bash
# Installs the Debian packages the build and the test suite need, when they are missing.
#   bash scripts/system-deps.sh          build + test needs
#   bash scripts/system-deps.sh --lint   also the linters CI runs (clang-format)
#   bash scripts/system-deps.sh --prebuilds   also what building and testing the linux-arm64 prebuilds needs
#                                        (the aarch64 cross toolchain, qemu-user); flags combine. A user's
#                                        `npm install` needs none of this: the package ships the binaries.
# Runs apt-get only as root and only for what is missing; otherwise says what to install and exits 1.
set -euo pipefail

# command:package pairs
needs=(
  g++:g++ make:make python3:python3     # node-gyp
  readelf:binutils nm:binutils          # the native build tests inspect libtethered.so
  unshare:util-linux mount:mount        # the private network namespace of the test harness
  ip:iproute2                           # bringing up its loopback
  curl:curl                             # a real client program the shim tests run
  pg_config:libpq-dev                   # libpq's headers: pg-native's addon builds against them
  psql:postgresql-client                # the driver tests' real programs
  go:golang-go                          # strict mode's tests: a pure-Go program (CGO_ENABLED=0)
  musl-gcc:musl-tools                   # strict mode's tests: musl's resolver (a static musl program)
)
for flag in "$@"; do
  case "$flag" in
    --lint) needs+=(clang-format:clang-format) ;;
    --prebuilds) needs+=(aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu aarch64-linux-gnu-g++:g++-aarch64-linux-gnu
                         qemu-aarch64:qemu-user) ;;
    *) echo "system-deps.sh: unknown option $flag" >&2; exit 2 ;;
  esac
done

missing=()
for pair in "${needs[@]}"; do
  cmd=${pair%%:*} pkg=${pair#*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$cmd && ! -x /sbin/$cmd ]]; then
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
  fi
done
# The PostgreSQL server the driver tests start in the namespace (initdb and postgres live outside PATH).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
# Strict mode's tests: an io_uring probe (liburing's header) and static probes (glibc's libc.a).
if [[ ! -e /usr/include/liburing.h ]]; then
  missing+=(liburing-dev)
fi
if ! ls /usr/lib/*/libc.a >/dev/null 2>&1; then
  missing+=(libc6-dev)
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "tethered: missing system packages: ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "tethered: installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
