/* Forced (-include, binding.gyp) into every translation unit of the addon and libtethered.so, so that they
 * load on glibc 2.28 (RHEL 8, Debian 10) although they are built on a newer glibc.
 *
 * A program links each libc function at the newest version the build machine's glibc defines. 2.34 merged
 * libdl and libpthread into libc (2.32 already moved pthread_sigmask): dlopen, pthread_create ... got a
 * GLIBC_2.34 version. Their old version (the architecture's first: GLIBC_2.2.5 on x86-64, GLIBC_2.17 on
 * aarch64) stays in libc as a compat alias of the same function, and the ".symver" pins below bind to it.
 * On glibc < 2.34 that version is defined by libdl.so.2 / libpthread.so.0, which binding.gyp therefore
 * links as NEEDED (the loader looks a pinned reference up by version name in every loaded object).
 * Functions that did not exist in 2.28 at all (stat64@GLIBC_2.33, gettid@GLIBC_2.30) are defined in
 * glibc_compat.c instead. test/native/glibc-baseline.test.mjs reads the versions of every built binary and
 * fails above GLIBC_2.28 (GLIBCXX_3.4.25 for the addon's libstdc++): a new call at a newer version is
 * caught there; pin it here or give it a compat definition.
 *
 * No system header is included here: some files choose their feature macros (_FILE_OFFSET_BITS) first.
 * Only functions the binaries call and do not define may be pinned: ".symver" on a function a file defines
 * would version the definition (the shim defines dlsym and dlvsym itself, hooks.def), hence the libdl set
 * only where TETHERED_PIN_LIBDL is defined (the addon). Never pin a function whose old version is another
 * ABI (pthread_cond_*@GLIBC_2.2.5 is the pre-NPTL condition variable); each pin below was checked to be an
 * alias of the current function (objdump -T libc.so.6). */
#ifndef TETHERED_GLIBC_BASELINE_H
#define TETHERED_GLIBC_BASELINE_H

/* glibc only: musl has no symbol versions (a musl build from source takes no pins) */
#if defined(__linux__) && __has_include(<gnu/libc-version.h>)

#if defined(__x86_64__)
#define TD_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define TD_GLIBC_BASE "GLIBC_2.17"
#else
#error "glibc_baseline.h: no symbol version baseline for this architecture"
#endif

#define TD_PIN(name) __asm__(".symver " #name "," #name "@" TD_GLIBC_BASE);

/* libpthread, merged into libc in 2.34 (pthread_sigmask in 2.32) */
TD_PIN(pthread_attr_setstacksize)
TD_PIN(pthread_create)
TD_PIN(pthread_detach)
TD_PIN(pthread_getspecific)
TD_PIN(pthread_join)
TD_PIN(pthread_key_create)
TD_PIN(pthread_key_delete)
TD_PIN(pthread_kill)
TD_PIN(pthread_once)
TD_PIN(pthread_setspecific)
TD_PIN(pthread_sigmask)
/* libdl: the shim calls dladdr only (it defines dlsym and dlvsym) */
TD_PIN(dladdr)
#if defined(TETHERED_PIN_LIBDL)
TD_PIN(dlerror)
TD_PIN(dlopen)
TD_PIN(dlsym)
#endif

#endif
#endif
