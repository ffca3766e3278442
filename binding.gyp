# One build for both native artefacts:
#   tethered.node    the N-API bridge between the shim and the TypeScript engine (C++, node-addon-api)
#   libtethered.so   the C interposer, preloadable into any dynamically linked program
#   tethered-strict  the strict-mode supervisor (seccomp user notification), with the shim's matcher
# Every shipped binary loads on glibc 2.28 (test/native/glibc-baseline.test.mjs): the addon and the shim
# are compiled with native/compat/glibc_baseline.h forced in (symbol versions pinned) and link libdl and
# libpthread as NEEDED (--no-as-needed: on glibc < 2.34 the pinned versions live there; on newer ones they
# are empty stubs); tethered-strict is a static PIE and needs no libc at all at run time.
# node-gyp's common.gypi strips a plain '-Werror' from 'cflags', so warnings are made errors
# through cflags_c / cflags_cc, which it leaves alone.
{
  "targets": [
    {
      "target_name": "tethered",
      "sources": ["native/addon/addon.cc", "native/addon/strict.cc", "native/strict/filter.c", "native/compat/glibc_compat.c", "native/shim/pin.c"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/compat"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-include", "glibc_baseline.h", "-DTETHERED_PIN_LIBDL"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE", "-include", "glibc_baseline.h", "-DTETHERED_PIN_LIBDL"],
      "ldflags": ["-Wl,--no-as-needed", "-l:libdl.so.2", "-Wl,--as-needed"]
    },
    {
      "target_name": "libtethered",
      "product_name": "tethered",
      "product_prefix": "lib",
      "type": "shared_library",
      "sources": [
        "native/shim/address.c", "native/shim/api.c", "native/shim/config.c", "native/shim/detour.c", "native/shim/dl.c", "native/shim/elf.c", "native/shim/connect.c", "native/shim/current.c", "native/shim/decide.c", "native/shim/dns.c", "native/shim/dnssend.c", "native/shim/dnswire.c", "native/shim/fdkind.c", "native/shim/fds.c",
        "native/shim/events.c", "native/shim/exec.c", "native/shim/unchecked.c", "native/shim/hostmap.c", "native/shim/idna.c",
        "native/shim/ip.c", "native/shim/logsink.c", "native/shim/lookup.c", "native/shim/name.c", "native/shim/patch.c", "native/shim/pin.c", "native/shim/policy.c", "native/shim/policy_image.c", "native/shim/sha256.c",
        "native/shim/policy_file.c", "native/shim/real.c", "native/shim/resolv.c", "native/shim/resolvconf.c", "native/shim/rule.c", "native/shim/scope.c",
        "native/shim/send.c", "native/shim/socket.c", "native/shim/strictexec.c", "native/shim/syscall.c",
        "native/compat/glibc_compat.c"
      ],
      "include_dirs": ["native/compat"],
      "cflags": ["-fPIC", "-fvisibility=hidden"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE", "-include", "glibc_baseline.h"],
      "ldflags": ["-Wl,--as-needed", "-Wl,--no-undefined", "-Wl,-z,now", "-Wl,-z,relro"],
      "libraries": ["-Wl,--no-as-needed", "-l:libdl.so.2", "-l:libpthread.so.0", "-Wl,--as-needed"]
    },
    {
      "target_name": "tethered-strict",
      "type": "executable",
      "sources": [
        "native/strict/calls.c", "native/strict/config.c", "native/strict/filter.c", "native/strict/judge.c",
        "native/strict/main.c", "native/strict/privileges.c", "native/strict/serve.c", "native/strict/stubs.c", "native/strict/supervise.c", "native/strict/target.c",
        "native/strict/names.c", "native/strict/resolver.c", "native/shim/dns.c", "native/shim/hostmap.c",
        "native/shim/idna.c", "native/shim/ip.c", "native/shim/name.c", "native/shim/policy.c",
        "native/shim/policy_file.c", "native/shim/policy_image.c", "native/shim/rule.c", "native/shim/sha256.c"
      ],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"],
      "cflags": ["-fPIE"],
      "ldflags": ["-static-pie", "-Wl,-z,now", "-Wl,-z,relro"]
    }
  ]
}
