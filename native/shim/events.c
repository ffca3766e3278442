/* Events: one JSON line per attempt (docs/rules.md event fields plus reason, exe and native frames), written
 * with a single write() so that lines from threads and child processes sharing a log never interleave.
 * Built in a stack buffer: no malloc, no stdio. Where the line goes (a private descriptor, checked before
 * each write) is logsink.c's business. */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

struct out {
    char buf[8192];
    size_t n;
};

/* Appends, keeping room for the closing "}\n"; what does not fit is cut. */
static void put(struct out *o, const char *s, size_t len) {
    size_t room = o->n < sizeof o->buf - 2 ? sizeof o->buf - 2 - o->n : 0;
    if (len > room) len = room;
    for (size_t i = 0; i < len; i++) o->buf[o->n + i] = s[i];
    o->n += len;
}

static void puts_(struct out *o, const char *s) {
    put(o, s, strlen(s));
}

static void put_num(struct out *o, long long v) {
    char tmp[24];
    size_t n = 0;
    int neg = v < 0;
    unsigned long long u = neg ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg) tmp[n++] = '-';
    for (size_t i = 0; i < n / 2; i++) {
        char t = tmp[i];
        tmp[i] = tmp[n - 1 - i];
        tmp[n - 1 - i] = t;
    }
    put(o, tmp, n);
}

static void put_str(struct out *o, const char *s) {
    if (!s) {
        puts_(o, "null");
        return;
    }
    puts_(o, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(o, e, 2);
        } else if (c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(o, e, 6);
        } else {
            put(o, (const char *)&c, 1);
        }
    }
    puts_(o, "\"");
}

static void put_field(struct out *o, const char *key, const char *value) {
    puts_(o, ",\"");
    puts_(o, key);
    puts_(o, "\":");
    put_str(o, value);
}

/* 2026-11-24T01:02:03.456Z, without gmtime (no locale, no locks). */
static void put_time(struct out *o) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long days = ts.tv_sec / 86400, secs = ts.tv_sec % 86400;
    /* civil from days (Howard Hinnant) */
    long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    long long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    long long parts[] = {y, m, d, secs / 3600, secs / 60 % 60, secs % 60, ts.tv_nsec / 1000000};
    static const char *const seps[] = {"-", "-", "T", ":", ":", ".", "Z"};
    static const int widths[] = {4, 2, 2, 2, 2, 2, 3};
    puts_(o, "\"");
    for (int i = 0; i < 7; i++) {
        char tmp[8];
        long long v = parts[i];
        for (int k = widths[i] - 1; k >= 0; k--, v /= 10) tmp[k] = (char)('0' + v % 10);
        put(o, tmp, (size_t)widths[i]);
        puts_(o, seps[i]);
    }
    puts_(o, "\"");
}

/* "+0x1c" */
static void put_offset(struct out *o, unsigned long off) {
    char hex[20];
    int h = 0;
    do {
        hex[h++] = "0123456789abcdef"[off & 15];
        off >>= 4;
    } while (off);
    puts_(o, "+0x");
    while (h) put(o, &hex[--h], 1);
}

/* Where the main program is mapped (set once, at start-up): its frames are written as "program+0x1c"
 * without asking dladdr, whose symbol search walks the object's whole symbol table under the loader's lock
 * (node exports tens of thousands: about 2 ms an event). */
static uintptr_t program_lo, program_hi, program_base;

static int note_program(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (start < lo) lo = start;
        if (end > hi) hi = end;
    }
    if (lo < hi) {
        program_lo = lo;
        program_hi = hi;
        program_base = info->dlpi_addr;
    }
    return 1; /* the first entry is the main program */
}

void td_events_init(void) {
    dl_iterate_phdr(note_program, NULL);
}

/* A few native frames of the caller, outside this library: "libfoo.so(function+0x1c)". */
static void put_native_stack(struct out *o) {
    void *frames[24];
    int n = backtrace(frames, 24);
    int written = 0;
    puts_(o, ",\"nativeStack\":[");
    for (int i = 0; i < n && written < 8; i++) {
        uintptr_t at = (uintptr_t)frames[i];
        if (at >= program_lo && at < program_hi) {
            const char *exe = strrchr(td_exe_path, '/');
            struct out f = {{0}, 0};
            puts_(&f, exe ? exe + 1 : td_exe_path[0] ? td_exe_path : "program");
            put_offset(&f, (unsigned long)(at - program_base));
            char frame[512];
            size_t len = f.n < sizeof frame - 1 ? f.n : sizeof frame - 1;
            memcpy(frame, f.buf, len);
            frame[len] = 0;
            if (written++) puts_(o, ",");
            put_str(o, frame);
            continue;
        }
        Dl_info info;
        if (!dladdr(frames[i], &info) || !info.dli_fname) continue;
        if (strcmp(info.dli_fname, td_self_path) == 0) continue;
        const char *base = strrchr(info.dli_fname, '/');
        base = base ? base + 1 : info.dli_fname;
        char frame[512];
        struct out f = {{0}, 0};
        puts_(&f, base);
        if (info.dli_sname) {
            puts_(&f, "(");
            puts_(&f, info.dli_sname);
            put_offset(&f, (unsigned long)((char *)frames[i] - (char *)info.dli_saddr));
            puts_(&f, ")");
        } else {
            put_offset(&f, (unsigned long)((char *)frames[i] - (char *)info.dli_fbase));
        }
        size_t len = f.n < sizeof frame - 1 ? f.n : sizeof frame - 1;
        memcpy(frame, f.buf, len);
        frame[len] = 0;
        if (written++) puts_(o, ",");
        put_str(o, frame);
    }
    puts_(o, "]");
}

static _Atomic tethered_sink sink;
static atomic_ullong next_seq = 1;

TETHERED_EXPORT unsigned long long tethered_event_seq(void) {
    return atomic_fetch_add_explicit(&next_seq, 1, memory_order_relaxed);
}

/* The sink (the addon's) belongs to the process that set it: in a fork() or vfork() child on its way to
 * exec (where the exec hooks report programs they cannot follow) it would take locks and allocate, and
 * whatever it queued would die with the child. A child's lines go instead to a few slots in a shared
 * anonymous mapping made when the sink is set (every later fork child shares it), and a futex on the same
 * page wakes a thread of the sink's process, which hands them to the sink. No descriptor is involved: none
 * that the program could close, reuse or read from. A child that finds every slot taken drops the line. */
#define TD_RELAY_SLOTS 64
#define TD_RELAY_LINE 8192 /* an event line's most (struct out) */

enum { SLOT_FREE, SLOT_WRITING, SLOT_READY };

struct relay_slot {
    uint32_t state;
    uint32_t len;
    uint64_t ticket;    /* the order of posting: lines are handed on in it */
    uint64_t collector; /* the noEgress() scope collecting the line, or 0 */
    char line[TD_RELAY_LINE];
};

struct relay {
    uint32_t bell; /* bumped by every post: the futex the relay thread waits on */
    uint64_t tickets;
    struct relay_slot slots[TD_RELAY_SLOTS];
};

static pid_t sink_pid;
static struct relay *_Atomic relay_area;

/* Async-signal-safe: atomics, memcpy and one futex wake. 1 when posted. */
static int relay_post(const char *line, size_t n, uint64_t collector) {
    struct relay *r = atomic_load(&relay_area);
    if (!r || n == 0 || n > TD_RELAY_LINE) return 0;
    for (int i = 0; i < TD_RELAY_SLOTS; i++) {
        struct relay_slot *s = &r->slots[i];
        uint32_t free_ = SLOT_FREE;
        if (!__atomic_compare_exchange_n(&s->state, &free_, SLOT_WRITING, 0, __ATOMIC_ACQUIRE,
                                         __ATOMIC_RELAXED))
            continue;
        memcpy(s->line, line, n);
        s->len = (uint32_t)n;
        s->collector = collector;
        s->ticket = __atomic_add_fetch(&r->tickets, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&s->state, SLOT_READY, __ATOMIC_RELEASE);
        __atomic_add_fetch(&r->bell, 1, __ATOMIC_RELEASE);
        syscall(SYS_futex, &r->bell, FUTEX_WAKE, 1, NULL, NULL, 0); /* shared, not FUTEX_PRIVATE */
        return 1;
    }
    return 0;
}

/* Event lines are handed on under this lock, by the relay thread and by a JavaScript thread about to hand on
 * a line of its own: that one first hands on what other threads posted before (a native thread's refused
 * connect, joined before the JavaScript thread's next attempt, is reported before it), so the handler sees
 * the events of one chain of calls in the order they happened. Held only with every signal blocked. A
 * child's warnings (td_relay_say) are said by the relay thread alone, outside the lock: writing to stderr
 * may block, and no JavaScript thread waits for that. */
static pthread_mutex_t relay_mutex = PTHREAD_MUTEX_INITIALIZER;
static char relay_line[TD_RELAY_LINE + 1];                              /* under relay_mutex */
static __thread int in_sink __attribute__((tls_model("initial-exec"))); /* this thread holds relay_mutex */

/* The slots ready now whose line is (`events`) or is not an event line, in the order they were posted. */
static int relay_ready(struct relay *r, int events, int order[TD_RELAY_SLOTS]) {
    int ready = 0;
    for (int i = 0; i < TD_RELAY_SLOTS; i++) {
        if (__atomic_load_n(&r->slots[i].state, __ATOMIC_ACQUIRE) != SLOT_READY) continue;
        if ((r->slots[i].line[0] == '{') != events) continue;
        int k = ready++;
        for (; k > 0 && r->slots[order[k - 1]].ticket > r->slots[i].ticket; k--) order[k] = order[k - 1];
        order[k] = i;
    }
    return ready;
}

/* Copies slot i's line into `line` (TD_RELAY_LINE + 1 bytes) and frees the slot: its length. */
static size_t relay_take(struct relay *r, int i, char *line, uint64_t *collector) {
    struct relay_slot *s = &r->slots[i];
    size_t n = s->len <= TD_RELAY_LINE ? s->len : TD_RELAY_LINE;
    *collector = s->collector;
    memcpy(line, s->line, n);
    line[n] = 0;
    __atomic_store_n(&s->state, SLOT_FREE, __ATOMIC_RELEASE);
    return n;
}

/* With relay_mutex held: hands the event lines ready now to the sink. */
static void relay_hand_on(struct relay *r) {
    int order[TD_RELAY_SLOTS];
    int ready = relay_ready(r, 1, order);
    for (int k = 0; k < ready; k++) {
        uint64_t collector;
        size_t n = relay_take(r, order[k], relay_line, &collector);
        tethered_sink to_sink = atomic_load(&sink);
        if (to_sink) to_sink(relay_line, n, collector);
    }
}

static void *relay(void *arg) {
    struct relay *r = arg;
    char said[TD_RELAY_LINE + 1];
    for (;;) {
        uint32_t rang = __atomic_load_n(&r->bell, __ATOMIC_ACQUIRE);
        pthread_mutex_lock(&relay_mutex);
        in_sink = 1;
        relay_hand_on(r);
        in_sink = 0;
        pthread_mutex_unlock(&relay_mutex);
        int order[TD_RELAY_SLOTS];
        int ready = relay_ready(r, 0, order);
        for (int k = 0; k < ready; k++) {
            uint64_t unused;
            relay_take(r, order[k], said, &unused);
            td_say(said); /* a warning a child asked this process to say (td_relay_say) */
        }
        /* returns at once if a post rang since `rang` was read */
        syscall(SYS_futex, &r->bell, FUTEX_WAIT, rang, NULL, NULL, 0);
    }
    return NULL;
}

/* The relay of the process that set the sink. A child made by fork() that sets a sink of its own (it goes
 * on without exec) gets its own: the area it inherited is its parent's, drained by its parent's relay
 * thread, and the lock may have been copied held by that thread, which the child does not have. */
static void start_relay(void) {
    static pid_t relay_pid;
    pid_t me = getpid();
    if (__atomic_exchange_n(&relay_pid, me, __ATOMIC_ACQ_REL) == me) return;
    /* no thread of this process takes the lock before the sink is set (sink_pid is another process's) */
    pthread_mutex_init(&relay_mutex, NULL);
    struct relay *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED) {
        atomic_store(&relay_area, NULL); /* never drain a parent's area */
        return;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the process's signals are not the relay's business */
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    int rc = pthread_create(&t, &attr, relay, r);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        munmap(r, sizeof *r);
        atomic_store(&relay_area, NULL); /* never drain a parent's area */
        return;
    }
    atomic_store(&relay_area, r);
}

/* In a child of the sink's process (before exec), a line is better said by that process, on the stderr
 * it had: the child's own fd 2 is whatever its parent set up for the new program (a pipe spawnSync reads
 * and may throw away). 1 when it was handed over. */
int td_relay_say(const char *line) {
    size_t n = strlen(line);
    if (!atomic_load(&sink) || getpid() == sink_pid || n == 0) return 0;
    return relay_post(line, n, 0);
}

/* The threads that hand their lines to the sink themselves: the JavaScript threads of the sink's process
 * (the addon says which: a blocked call's error is made there from the line, and noEgress() reads its lines
 * when it settles), with the signal mask they normally run with. Any other thread, and one of these
 * running with another mask (a signal handler, whose signal is blocked while it runs), posts its line to
 * the relay instead: the sink allocates and takes locks, which a handler must not, since the code it
 * interrupted may hold them (malloc's). */
static __thread int sink_direct __attribute__((tls_model("initial-exec")));
static __thread sigset_t sink_mask __attribute__((tls_model("initial-exec")));
#define KERNEL_SIGSET_BYTES (_NSIG / 8)

TETHERED_EXPORT void tethered_sink_thread(void) {
    sigset_t none;
    sigemptyset(&none);
    if (pthread_sigmask(SIG_BLOCK, &none, &sink_mask) == 0) sink_direct = 1;
}

/* A line for the sink, from this process: handed over here, or through the relay (see above). A relay that
 * stays full for a while (a flood) drops the line; the attempt was judged all the same. */
static void to_sink_from_here(tethered_sink to_sink, const char *line, size_t n, uint64_t collector,
                              const sigset_t *mask) {
    if (sink_direct && mask && memcmp(mask, &sink_mask, KERNEL_SIGSET_BYTES) == 0) {
        struct relay *r = atomic_load(&relay_area);
        if (!r || in_sink) { /* no relay; or an attempt made by the sink itself, which holds the lock */
            to_sink(line, n, collector);
            return;
        }
        pthread_mutex_lock(&relay_mutex);
        in_sink = 1;
        relay_hand_on(r);
        to_sink(line, n, collector);
        in_sink = 0;
        pthread_mutex_unlock(&relay_mutex);
        return;
    }
    if (n > TD_RELAY_LINE || !atomic_load(&relay_area)) {
        if (sink_direct && mask) to_sink(line, n, collector); /* never seen: the relay takes every line */
        return;
    }
    for (int tries = 0; tries < 2000; tries++) {
        if (relay_post(line, n, collector)) return;
        sched_yield();
    }
}

void td_set_sink(tethered_sink fn) {
    if (fn) {
        start_relay(); /* first: this process's threads take the relay's lock once sink_pid is theirs */
        sink_pid = getpid();
    }
    atomic_store(&sink, fn);
}

void td_emit(const struct td_config *cfg, const struct td_event *e) {
    tethered_sink to_sink = atomic_load(&sink);
    if (!cfg || (cfg->log == TD_LOG_OFF && !to_sink)) return;
    int saved = errno;
    /* No signal handler runs on this thread while the event is made: reporting takes locks (the loader's,
     * for the native stack; the addon's queue, through the sink) that a handler's own refused attempt would
     * take again, and the thread would wait for itself. The handler's attempt is judged, and reported,
     * once this one is out. */
    sigset_t all, before;
    sigfillset(&all);
    int masked = pthread_sigmask(SIG_BLOCK, &all, &before) == 0;
    struct out o;
    o.n = 0;
    puts_(&o, "{\"time\":");
    put_time(&o);
    puts_(&o, ",\"pid\":");
    put_num(&o, getpid());
    puts_(&o, ",\"tid\":");
    put_num(&o, gettid());
    puts_(&o, ",\"seq\":"); /* this process's event number: the addon matches JavaScript's evidence to it */
    put_num(&o, (long long)atomic_fetch_add_explicit(&next_seq, 1, memory_order_relaxed));
    put_field(&o, "decision", e->decision);
    put_field(&o, "op", e->op);
    put_field(&o, "protocol", e->protocol);
    put_field(&o, "host", e->host);
    put_field(&o, "ip", e->ip);
    puts_(&o, ",\"port\":");
    if (e->port >= 0)
        put_num(&o, e->port);
    else
        puts_(&o, "null");
    put_field(&o, "rule", e->rule);
    put_field(&o, "reason", e->reason);
    put_field(&o, "scopeLabel", e->scope_label);
    put_field(&o, "exe", td_exe_path);
    if (e->error) put_field(&o, "error", e->error);
    if (e->program) put_field(&o, "program", e->program);
    if (e->unchecked) put_field(&o, "unchecked", e->unchecked);
    if (e->with_stack) put_native_stack(&o);
    o.buf[o.n++] = '}'; /* put() always leaves room for these two */
    o.buf[o.n++] = '\n';
    if (to_sink && getpid() == sink_pid) {
        to_sink_from_here(to_sink, o.buf, o.n, e->collector, masked ? &before : NULL);
    } else if (to_sink) { /* a child of the sink's process: one atomic write */
        relay_post(o.buf, o.n, 0);
    }
    if (cfg->log != TD_LOG_OFF) td_log_write(cfg->log_sink, o.buf, o.n);
    if (masked) pthread_sigmask(SIG_SETMASK, &before, NULL);
    errno = saved;
}

void td_warn_once(int *flag, const char *message) {
    if (__atomic_exchange_n(flag, 1, __ATOMIC_ACQ_REL)) return;
    td_say(message);
}
