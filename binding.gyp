# One build for both native artefacts:
#   tethered.node    the N-API bridge between the shim and the TypeScript engine (C++, node-addon-api)
#   libtethered.so   the C interposer, preloadable into any dynamically linked program
#   tethered-strict  the strict-mode supervisor (seccomp user notification), with the shim's matcher
# node-gyp's common.gypi strips a plain '-Werror' from 'cflags', so warnings are made errors
# through cflags_c / cflags_cc, which it leaves alone.
{
  "targets": [
    {
      "target_name": "tethered",
      "sources": ["native/addon/addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror"],
      "libraries": ["-ldl"]
    },
    {
      "target_name": "libtethered",
      "product_name": "tethered",
      "product_prefix": "lib",
      "type": "shared_library",
      "sources": [
        "native/shim/address.c", "native/shim/api.c", "native/shim/config.c", "native/shim/detour.c", "native/shim/dl.c", "native/shim/elf.c", "native/shim/connect.c", "native/shim/current.c", "native/shim/decide.c", "native/shim/dns.c", "native/shim/dnssend.c", "native/shim/dnswire.c", "native/shim/fdkind.c", "native/shim/fds.c",
        "native/shim/events.c", "native/shim/exec.c", "native/shim/unchecked.c", "native/shim/hostmap.c", "native/shim/idna.c",
        "native/shim/ip.c", "native/shim/logsink.c", "native/shim/lookup.c", "native/shim/name.c", "native/shim/patch.c", "native/shim/policy.c", "native/shim/policy_image.c", "native/shim/sha256.c",
        "native/shim/policy_file.c", "native/shim/real.c", "native/shim/resolv.c", "native/shim/resolvconf.c", "native/shim/rule.c", "native/shim/scope.c",
        "native/shim/send.c", "native/shim/socket.c", "native/shim/syscall.c"
      ],
      "cflags": ["-fPIC", "-fvisibility=hidden"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"],
      "ldflags": ["-Wl,--as-needed", "-Wl,--no-undefined", "-Wl,-z,now", "-Wl,-z,relro"],
      "libraries": ["-ldl", "-lpthread"]
    },
    {
      "target_name": "tethered-strict",
      "type": "executable",
      "sources": [
        "native/strict/calls.c", "native/strict/config.c", "native/strict/filter.c", "native/strict/judge.c",
        "native/strict/main.c", "native/strict/privileges.c", "native/strict/stubs.c", "native/strict/supervise.c", "native/strict/target.c",
        "native/shim/idna.c", "native/shim/ip.c", "native/shim/name.c", "native/shim/policy.c",
        "native/shim/policy_file.c", "native/shim/policy_image.c", "native/shim/rule.c", "native/shim/sha256.c"
      ],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"],
      "ldflags": ["-Wl,--as-needed", "-Wl,-z,now", "-Wl,-z,relro"]
    }
  ]
}
