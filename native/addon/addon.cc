// The N-API bridge between the TypeScript engine and libtethered.so. It loads the shim (or finds it already
// preloaded), pushes the compiled policy down, patches the process, and carries the shim's events up to
// JavaScript through a thread-safe function: the shim never waits for JavaScript, whatever thread it is on.
//
// Anything in the process can require() this file and call its exports with any arguments, so every export
// checks its arguments and throws a TypeError (never aborts the process), and the lock's key never leaves
// native memory (see LockHolder).
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <napi.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "../shim/tethered.h"
#include "strict.h"

namespace {

struct Shim {
    void* handle = nullptr;
    int (*configure)(const tethered_settings*, const unsigned char*, const unsigned char*, char*,
                     size_t) = nullptr;
    int (*disable)(const unsigned char*) = nullptr;
    int (*patch)() = nullptr;
    int (*preloaded)() = nullptr;
    int (*active)() = nullptr;
    int (*abi)() = nullptr;
    int (*set_sink)(tethered_sink) = nullptr;
    void (*status)(struct tethered_status*) = nullptr;
    tethered_scope* (*scope_new)(const tethered_settings*, const char*, const tethered_scope*, int, char*,
                                 size_t) = nullptr;
    void (*scope_free)(tethered_scope*) = nullptr;
    unsigned long long (*scope_id)(const tethered_scope*) = nullptr;
    void (*set_scope_source)(tethered_scope_source) = nullptr;
    int (*image_write)(const tethered_settings*, char*, size_t, char*, size_t) = nullptr;
    void (*decide)(const char*, size_t, int, const tethered_scope*, int, tethered_decision*) = nullptr;
    unsigned long long (*event_seq)() = nullptr;
    volatile unsigned* (*generation_mirror)() = nullptr;
    volatile unsigned* (*js_scope_word)() = nullptr;
    unsigned (*js_scope_set)(const tethered_scope*) = nullptr;
    int (*check_peer)(int, const char*) = nullptr;
    void (*sink_thread)() = nullptr;
};

Shim shim;

// Where event lines go: one JavaScript function at a time, for the whole process (every copy of the
// package that loads this addon, every realm, every worker). activate() makes its own copy's handler the
// one (configure's fourth argument, under the lock like the policy itself); onEvents() sets one only when
// there is none. Replaced under events_mutex, which Sink holds only to queue a line.
std::mutex events_mutex;
napi_threadsafe_function events = nullptr;
// The function behind `events`, in events_env: the same function again needs no new thread-safe function
// (an old one is freed only once the event loop runs: activate() in a loop would pile them up).
napi_ref events_fn = nullptr;
napi_env events_env = nullptr;

template <typename T>
bool Resolve(T& field, const char* name) {
    field = reinterpret_cast<T>(dlsym(shim.handle, name));
    return field != nullptr;
}

// ---- argument checks: each returns false with a JavaScript exception pending ----

// Largest rule list accepted (a sparse array can claim a length of 2^32 - 1).
constexpr uint32_t kMaxList = 1u << 22;

bool Throw(Napi::Env env, const std::string& message) {
    if (!env.IsExceptionPending())
        Napi::TypeError::New(env, "tethered: " + message).ThrowAsJavaScriptException();
    return false;
}

napi_valuetype TypeOf(Napi::Env env, napi_value v) {
    napi_valuetype t = napi_undefined;
    if (v == nullptr || napi_typeof(env, v, &t) != napi_ok) return napi_undefined;
    return t;
}

bool Missing(Napi::Env env, napi_value v) {
    napi_valuetype t = TypeOf(env, v);
    return t == napi_undefined || t == napi_null;
}

bool GetString(Napi::Env env, napi_value v, std::string* out, const std::string& what) {
    if (TypeOf(env, v) != napi_string) return Throw(env, what + " must be a string");
    size_t len = 0;
    if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok)
        return Throw(env, what + " is unreadable");
    std::vector<char> buf(len + 1);
    if (napi_get_value_string_utf8(env, v, buf.data(), buf.size(), &len) != napi_ok)
        return Throw(env, what + " is unreadable");
    // A NUL would end the C string early: a rule cut short could allow more than it says.
    if (memchr(buf.data(), 0, len) != nullptr) return Throw(env, what + " must not contain a NUL character");
    out->assign(buf.data(), len);
    return true;
}

// A property of `o`; false when reading it threw (a getter, a proxy), with that exception pending.
bool GetProperty(Napi::Env env, napi_value o, const char* key, napi_value* out) {
    if (napi_get_named_property(env, o, key, out) != napi_ok)
        return Throw(env, std::string("cannot read ") + key);
    return true;
}

bool GetBool(Napi::Env env, napi_value o, const char* key, int* out) {
    napi_value v;
    if (!GetProperty(env, o, key, &v)) return false;
    napi_valuetype t = TypeOf(env, v);
    if (t == napi_undefined) {
        *out = 0;
        return true;
    }
    bool b = false;
    if (t != napi_boolean || napi_get_value_bool(env, v, &b) != napi_ok)
        return Throw(env, std::string(key) + " must be a boolean");
    *out = b ? 1 : 0;
    return true;
}

bool GetStrings(Napi::Env env, napi_value o, const char* key, bool required, std::vector<std::string>* out) {
    napi_value v;
    if (!GetProperty(env, o, key, &v)) return false;
    if (!required && TypeOf(env, v) == napi_undefined) return true;
    bool array = false;
    uint32_t n = 0;
    if (napi_is_array(env, v, &array) != napi_ok || !array || napi_get_array_length(env, v, &n) != napi_ok)
        return Throw(env, std::string(key) + " must be an array of strings");
    if (n > kMaxList) return Throw(env, std::string(key) + " has too many entries");
    out->reserve(n);
    for (uint32_t i = 0; i < n; i++) {
        napi_value item;
        if (napi_get_element(env, v, i, &item) != napi_ok)
            return Throw(env, std::string("cannot read ") + key);
        std::string text;
        if (!GetString(env, item, &text, std::string(key) + "[" + std::to_string(i) + "]")) return false;
        out->push_back(std::move(text));
    }
    return true;
}

// Set on each JavaScript thread that calls into the addon once the shim is loaded: its event lines go to
// the sink from the thread itself (tethered_sink_thread); other threads' go through the shim's relay.
thread_local bool sink_thread_said = false;

bool NeedShim(Napi::Env env) {
    if (shim.handle) {
        if (!sink_thread_said) {
            sink_thread_said = true;
            shim.sink_thread();
        }
        return true;
    }
    Napi::Error::New(env, "tethered: the shim is not loaded (call load() first)")
        .ThrowAsJavaScriptException();
    return false;
}

// Compiled scopes handed to JavaScript carry this tag: an External from anywhere else is refused.
const napi_type_tag kScopeTag = {0x7465746865726564ULL, 0x73636f7065000001ULL};

bool GetScope(Napi::Env env, napi_value v, tethered_scope** out) {
    if (TypeOf(env, v) != napi_external) return Throw(env, "expected a scope made by scopeNew()");
    Napi::External<tethered_scope> e(env, v);
    if (!e.CheckTypeTag(&kScopeTag) || env.IsExceptionPending())
        return Throw(env, "expected a scope made by scopeNew()");
    *out = e.Data();
    return true;
}

// A libtethered.so some other copy of the package loaded already (at whatever path), or null.
void* LoadedShim() {
    std::string found;
    dl_iterate_phdr(
        [](struct dl_phdr_info* i, size_t, void* out) -> int {
            const char* name = i->dlpi_name;
            size_t n = name ? strlen(name) : 0;
            static const char kName[] = "/libtethered.so";
            if (n < sizeof kName - 1 || strcmp(name + n - (sizeof kName - 1), kName) != 0) return 0;
            static_cast<std::string*>(out)->assign(name);
            return 1;
        },
        &found);
    if (found.empty()) return nullptr;
    void* handle = dlopen(found.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (handle && !dlsym(handle, "tethered_abi")) handle = nullptr;
    return handle;
}

// load(path) -> { preloaded, path }: `path` is the libtethered.so in use (another copy's, perhaps)
Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path;
    if (!GetString(env, info[0], &path, "load(): the path")) return env.Undefined();
    if (!shim.handle) {
        // A libtethered.so already in the process (preloaded, perhaps from another path) is the one to
        // drive: loading a second copy would judge every call twice, by two policies.
        void* handle = nullptr;
        Dl_info info;
        void* loaded = dlsym(RTLD_DEFAULT, "tethered_configure");
        if (loaded && dladdr(loaded, &info) && info.dli_fname)
            handle = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
        // One loaded by another copy of the package (RTLD_LOCAL: not in the global scope) is the one too.
        if (!handle) handle = LoadedShim();
        if (!handle) handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            Napi::Error::New(env, std::string("tethered: cannot load ") + path + ": " + dlerror())
                .ThrowAsJavaScriptException();
            return env.Undefined();
        }
        shim.handle = handle;
        bool ok =
            Resolve(shim.configure, "tethered_configure") && Resolve(shim.disable, "tethered_disable") &&
            Resolve(shim.patch, "tethered_patch") && Resolve(shim.preloaded, "tethered_preloaded") &&
            Resolve(shim.active, "tethered_active") && Resolve(shim.abi, "tethered_abi") &&
            Resolve(shim.set_sink, "tethered_set_sink") && Resolve(shim.scope_new, "tethered_scope_new") &&
            Resolve(shim.scope_free, "tethered_scope_free") && Resolve(shim.scope_id, "tethered_scope_id") &&
            Resolve(shim.set_scope_source, "tethered_set_scope_source") &&
            Resolve(shim.status, "tethered_status") &&
            Resolve(shim.image_write, "tethered_policy_image_write") &&
            Resolve(shim.decide, "tethered_decide") && Resolve(shim.event_seq, "tethered_event_seq") &&
            Resolve(shim.generation_mirror, "tethered_generation_mirror") &&
            Resolve(shim.js_scope_word, "tethered_js_scope_word") &&
            Resolve(shim.js_scope_set, "tethered_js_scope_set") &&
            Resolve(shim.check_peer, "tethered_check_peer") &&
            Resolve(shim.sink_thread, "tethered_sink_thread");
        if (!ok || shim.abi() != TETHERED_ABI) {
            shim.handle = nullptr;
            Napi::Error::New(env, "tethered: " + path + " is not a libtethered.so of this version (ABI " +
                                      std::to_string(TETHERED_ABI) + ")")
                .ThrowAsJavaScriptException();
            return env.Undefined();
        }
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("preloaded", Napi::Boolean::New(env, shim.preloaded() != 0));
    Dl_info where;
    if (dladdr(reinterpret_cast<void*>(shim.abi), &where) && where.dli_fname)
        result.Set("path", Napi::String::New(env, where.dli_fname));
    return result;
}

std::vector<const char*> Pointers(const std::vector<std::string>& strings) {
    std::vector<const char*> out;
    for (const auto& s : strings) out.push_back(s.c_str());
    return out;
}

// tethered_settings from { allow, deny, allowLocalhost, logOnly, failClosed, childrenInherit, childrenStrict,
// log, inject },
// with the strings it points into. Parse() checks every field; false with a TypeError pending.
struct Settings {
    std::vector<std::string> allow, deny, inject;
    std::vector<const char*> allow_p, deny_p, inject_p;
    std::string log;
    tethered_settings s{};

    bool Parse(Napi::Env env, napi_value o) {
        if (TypeOf(env, o) != napi_object) return Throw(env, "the settings must be an object");
        int allow_localhost = 0, log_only = 0, fail_closed = 0, children_inherit = 0, children_strict = 0;
        if (!GetStrings(env, o, "allow", true, &allow) || !GetStrings(env, o, "deny", false, &deny) ||
            !GetStrings(env, o, "inject", false, &inject) ||
            !GetBool(env, o, "allowLocalhost", &allow_localhost) || !GetBool(env, o, "logOnly", &log_only) ||
            !GetBool(env, o, "failClosed", &fail_closed) ||
            !GetBool(env, o, "childrenInherit", &children_inherit) ||
            !GetBool(env, o, "childrenStrict", &children_strict))
            return false;
        napi_value v;
        if (!GetProperty(env, o, "log", &v)) return false;
        if (TypeOf(env, v) != napi_undefined && !GetString(env, v, &log, "log")) return false;
        allow_p = Pointers(allow);
        deny_p = Pointers(deny);
        inject_p = Pointers(inject);
        s.allow = allow_p.data();
        s.nallow = allow_p.size();
        s.deny = deny_p.data();
        s.ndeny = deny_p.size();
        s.allow_localhost = allow_localhost;
        s.log_only = log_only;
        s.fail_closed = fail_closed;
        s.children_inherit = children_strict ? TETHERED_CHILDREN_STRICT : children_inherit;
        s.log = log.empty() ? nullptr : log.c_str();
        s.inject = inject_p.data();
        s.ninject = inject_p.size();
        return true;
    }
};

// The lock's key, kept beside the very lockToken object it belongs to (a reference in the environment of
// the JavaScript that locked). Only a call presenting that object (strict equality) gets the key handed
// to the shim; JavaScript never sees the key, so a caller without the token, another copy of this addon
// or a direct caller of the shim's symbols has no way to present it. One lock at a time in a process.
struct LockHolder {
    bool held = false;
    napi_env env = nullptr;  // null once that environment is gone: the lock then stays for good
    napi_ref token = nullptr;
    pthread_t thread{};
    unsigned char key[TETHERED_KEY_SIZE] = {};
};

std::mutex lock_mutex;
LockHolder holder;

// What JavaScript put in force, as it described it (JSON, opaque here), for status() and for every other
// copy of the JavaScript in the process: it changes only with the policy, under lock_mutex, so it cannot
// tell of a policy the shim does not have. `generation` counts the changes (a cheap staleness check).
std::string description;
std::atomic<double> generation{0};

// Is `token` the object the lock in force was made with (called with lock_mutex held)? The token may come
// from another environment of the same thread: a second load of this addon (a cleared require.cache, a
// test runner's module registry), another realm. One isolate per thread, so its values compare there;
// another thread's (a worker's) never match.
bool Holds(Napi::Env env, napi_value token) {
    if (!holder.held || holder.env == nullptr || holder.token == nullptr ||
        TypeOf(env, token) != napi_object || !pthread_equal(holder.thread, pthread_self()))
        return false;
    napi_value held;
    bool same = false;
    return napi_get_reference_value(holder.env, holder.token, &held) == napi_ok && held != nullptr &&
           napi_strict_equals(env, held, token, &same) == napi_ok && same;
}

void Forget() {
    // A reference is deleted on its own thread; one left on another thread is leaked (a few bytes).
    if (holder.token != nullptr && holder.env != nullptr && pthread_equal(holder.thread, pthread_self()))
        napi_delete_reference(holder.env, holder.token);
    explicit_bzero(holder.key, sizeof holder.key);
    holder = LockHolder();
}

void ThrowLocked(Napi::Env env, const char* what) {
    Napi::Error e = Napi::Error::New(env, std::string("tethered: the policy is locked; ") + what +
                                              " needs the lockToken it was locked with");
    e.Set("code", Napi::String::New(env, "ERR_TETHERED_LOCKED"));
    e.ThrowAsJavaScriptException();
}

// The supervisor of activate({ strict: true, locked: true }) refused a change the lockToken allowed: a locked
// strict policy stays for the life of the process (docs/strict-mode.md).
void ThrowStrictLocked(Napi::Env env, const char* what) {
    Napi::Error e = Napi::Error::New(
        env, std::string("tethered: the strict policy is locked for the life of this process; ") + what +
                 " cannot change it, even with the lockToken");
    e.Set("code", Napi::String::New(env, "ERR_TETHERED_LOCKED"));
    e.ThrowAsJavaScriptException();
}

// A token argument: an object, or null/undefined for none.
bool TokenArgument(Napi::Env env, napi_value v) {
    if (Missing(env, v) || TypeOf(env, v) == napi_object) return true;
    return Throw(env, "lockToken must be an object");
}

bool SetHandler(napi_env env, napi_value fn);
void DeliverStrict(const char* json, size_t len);

// configure()'s strict argument: undefined, or { policy: ["TETHERED_…=value", …], start?: supervisor path }.
bool StrictArgument(Napi::Env env, napi_value v, std::vector<std::string>* policy, std::string* start) {
    if (TypeOf(env, v) == napi_undefined) return true;
    if (TypeOf(env, v) != napi_object) return Throw(env, "the strict settings must be an object");
    if (!GetStrings(env, v, "policy", true, policy)) return false;
    napi_value s;
    if (!GetProperty(env, v, "start", &s)) return false;
    return Missing(env, s) || GetString(env, s, start, "start");
}

void ThrowCode(Napi::Env env, const std::string& message, const std::string& code) {
    Napi::Error e = Napi::Error::New(env, "tethered: " + message);
    e.Set("code", Napi::String::New(env, code));
    e.ThrowAsJavaScriptException();
}

// The strict half of configure() (lock_mutex held): starts the supervisor (`start`: its path) or sends it
// the new policy when one runs. Its lock is checked by the supervisor itself; the libc layer's lock is
// checked first here, so a refused change changes neither. false with an exception pending.
bool StrictConfigure(Napi::Env env, const std::vector<std::string>& policy, const std::string& start,
                     const unsigned char* key, const unsigned char* lock) {
    if (start.empty() && !tethered_strict::Running()) return true;
    struct tethered_status st {};
    shim.status(&st);
    if (st.locked && key == nullptr) {
        ThrowLocked(env, "activate()");
        return false;
    }
    std::string error, code;
    if (!tethered_strict::Running()) {
        error = tethered_strict::Start(start, policy, lock, DeliverStrict, &code);
        if (error.empty()) {
            // Every child is under the process's filter now: the shim need not warn that it cannot follow a
            // static or setuid one (an older shim without the call keeps warning).
            auto covered =
                reinterpret_cast<void (*)(void)>(dlsym(shim.handle, "tethered_strict_covers_children"));
            if (covered) covered();
            return true;
        }
        ThrowCode(env, error, code);
        return false;
    }
    int rc = tethered_strict::Update(policy, key, lock, &error);
    if (rc == TETHERED_LOCKED && key != nullptr)
        ThrowStrictLocked(env, "activate()");
    else if (rc == TETHERED_LOCKED)
        ThrowLocked(env, "activate()");
    if (rc == -1) ThrowCode(env, error, "ERR_TETHERED_STRICT_FAILED");
    return rc == 0;
}

// configure(settings, lockToken, locked, handler, description): replaces the policy in force; with locked,
// locks it to lockToken.
Napi::Value Configure(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Settings settings;
    if (!NeedShim(env) || !settings.Parse(env, info[0]) || !TokenArgument(env, info[1]))
        return env.Undefined();
    bool locked = false;
    if (!Missing(env, info[2]) &&
        (TypeOf(env, info[2]) != napi_boolean || napi_get_value_bool(env, info[2], &locked) != napi_ok)) {
        Throw(env, "locked must be a boolean");
        return env.Undefined();
    }
    if (locked && TypeOf(env, info[1]) != napi_object) {
        Throw(env, "locking needs a lockToken object");
        return env.Undefined();
    }
    if (!Missing(env, info[3]) && TypeOf(env, info[3]) != napi_function) {
        Throw(env, "the event handler must be a function");
        return env.Undefined();
    }
    std::string described;
    if (!Missing(env, info[4]) && !GetString(env, info[4], &described, "the description"))
        return env.Undefined();
    std::vector<std::string> strict_policy;
    std::string strict_start;
    if (!StrictArgument(env, info[5], &strict_policy, &strict_start)) return env.Undefined();
    std::lock_guard<std::mutex> guard(lock_mutex);
    const unsigned char* key = Holds(env, info[1]) ? holder.key : nullptr;
    unsigned char fresh[TETHERED_KEY_SIZE];
    const unsigned char* lock = nullptr;
    if (locked) {
        lock = key;  // the same token locks again with the same key
        if (!lock) {
            if (getrandom(fresh, sizeof fresh, 0) != static_cast<ssize_t>(sizeof fresh)) {
                Napi::Error::New(env, "tethered: no random bytes for the lock").ThrowAsJavaScriptException();
                return env.Undefined();
            }
            lock = fresh;
        }
    }
    if (!info[5].IsUndefined() && !StrictConfigure(env, strict_policy, strict_start, key, lock)) {
        explicit_bzero(fresh, sizeof fresh);
        return env.Undefined();
    }
    char error[512] = "";
    int rc = shim.configure(&settings.s, key, lock, error, sizeof error);
    if (rc == 0) tethered_strict::SetLog(settings.log.empty() ? "off" : settings.log);
    if (rc == 0 && lock == fresh) {
        Forget();
        napi_ref ref = nullptr;
        if (napi_create_reference(env, info[1], 1, &ref) == napi_ok) {
            holder.held = true;
            holder.env = env;
            holder.token = ref;
            holder.thread = pthread_self();
            memcpy(holder.key, fresh, sizeof fresh);
        }
    } else if (rc == 0 && !locked) {
        Forget();
    }
    explicit_bzero(fresh, sizeof fresh);
    if (rc == 0) {
        description = described;
        generation.store(generation.load() + 1);
        if (TypeOf(env, info[3]) == napi_function && !SetHandler(env, info[3]))
            Napi::Error::New(env, "tethered: cannot make the event handler").ThrowAsJavaScriptException();
    }
    if (rc == TETHERED_LOCKED) {
        ThrowLocked(env, "activate()");
    } else if (rc != 0) {
        Napi::Error::New(env, std::string("tethered: ") + error).ThrowAsJavaScriptException();
    }
    return env.Undefined();
}

// writePolicyImage({ allow, deny, allowLocalhost }) -> the TETHERED_POLICY_IMAGE reference children get
Napi::Value WritePolicyImage(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Settings settings;
    if (!NeedShim(env) || !settings.Parse(env, info[0])) return env.Undefined();
    std::vector<char> ref(8192);
    char error[1024] = "";
    if (shim.image_write(&settings.s, ref.data(), ref.size(), error, sizeof error) != 0) {
        Napi::Error::New(env, std::string("tethered: ") + error).ThrowAsJavaScriptException();
        return env.Undefined();
    }
    return Napi::String::New(env, ref.data());
}

// active(): does the shim judge attempts now (a policy from activate() or from the environment)?
Napi::Value Active(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), shim.active && shim.active() != 0);
}

// disable(lockToken): no policy of this process's own in force (a locked one needs its lockToken).
Napi::Value Disable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!NeedShim(env) || !TokenArgument(env, info[0])) return env.Undefined();
    std::lock_guard<std::mutex> guard(lock_mutex);
    const unsigned char* key = Holds(env, info[0]) ? holder.key : nullptr;
    if (tethered_strict::Running()) {
        // The filter stays; the supervisor lets everything through (unless its lock refuses).
        struct tethered_status st {};
        shim.status(&st);
        std::string error;
        int rc = st.locked && key == nullptr ? TETHERED_LOCKED : tethered_strict::Off(key, &error);
        if (rc == TETHERED_LOCKED) {
            if (key != nullptr)
                ThrowStrictLocked(env, "deactivate()");
            else
                ThrowLocked(env, "deactivate()");
            return env.Undefined();
        }
        if (rc != 0) {
            ThrowCode(env, error, "ERR_TETHERED_STRICT_FAILED");
            return env.Undefined();
        }
    }
    if (shim.disable(key) != 0) {
        ThrowLocked(env, "deactivate()");
        return env.Undefined();
    }
    Forget();
    description.clear();
    generation.store(generation.load() + 1);
    return env.Undefined();
}

// status() -> { active, mode, locked, preloaded, ceiling }: what the shim has in force, whoever put it there.
Napi::Value Status(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!NeedShim(env)) return env.Undefined();
    struct tethered_status st {};
    shim.status(&st);
    auto mode = [&](int m) -> Napi::Value {
        return m < 0 ? env.Null() : Napi::String::New(env, m == 1 ? "log" : "enforce");
    };
    Napi::Object out = Napi::Object::New(env);
    out.Set("active", Napi::Boolean::New(env, st.active != 0));
    out.Set("mode", st.mode < 0 ? Napi::String::New(env, "off") : mode(st.mode));
    out.Set("locked", Napi::Boolean::New(env, st.locked != 0));
    out.Set("preloaded", Napi::Boolean::New(env, st.preloaded != 0));
    out.Set("ceiling", mode(st.ceiling_mode));
    out.Set("strict", Napi::Boolean::New(env, tethered_strict::Running()));
    out.Set("supervisorPid", Napi::Number::New(env, tethered_strict::SupervisorPid()));
    std::lock_guard<std::mutex> guard(lock_mutex);
    out.Set("description", description.empty() ? env.Null() : Napi::String::New(env, description));
    out.Set("generation", Napi::Number::New(env, generation.load()));
    return out;
}

// generation(): changes whenever the policy JavaScript put in force changes (from any copy, any thread).
Napi::Value Generation(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), generation.load());
}

// An ArrayBuffer of 4 bytes over `word` (memory that is never freed), or null where this Node allows no
// buffer over outside memory.
Napi::Value WordBuffer(Napi::Env env, volatile unsigned* word) {
    napi_value buffer = nullptr;
    if (word == nullptr ||
        napi_create_external_arraybuffer(env, const_cast<unsigned*>(word), sizeof(unsigned), nullptr, nullptr,
                                         &buffer) != napi_ok) {
        bool pending = false;
        if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
            napi_value ignored;
            napi_get_and_clear_last_exception(env, &ignored);
        }
        return env.Null();
    }
    return Napi::Value(env, buffer);
}

// decideGeneration() -> an ArrayBuffer of 4 bytes over the shim's copy of its configuration count
// (tethered_generation_mirror), which JavaScript reads without a call to know whether the answers of
// decide() it kept still hold; null where this Node allows no buffer over outside memory. Only the copy is
// shown: the shim never reads it, so a write to the buffer changes no decision.
Napi::Value DecideGeneration(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!NeedShim(env)) return env.Undefined();
    return WordBuffer(env, shim.generation_mirror());
}

// eventSeq() -> the next number of the process's event sequence (shared with the shim's events)
Napi::Value EventSeq(const Napi::CallbackInfo& info) {
    if (!NeedShim(info.Env())) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), static_cast<double>(shim.event_seq()));
}

Napi::Value Patch(const Napi::CallbackInfo& info) {
    if (!NeedShim(info.Env())) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), shim.patch());
}

// The last event of the thread that is calling, kept for that thread only: on the JavaScript thread, the
// error a blocked call returns can be turned into an EgressBlocked that names what was blocked.
thread_local std::string last_event;

// Events of attempts made inside a noEgress() scope, by that scope's id, while it runs: noEgress reads them
// synchronously when its function settles, whichever thread made the attempt.
std::mutex collected_mutex;
std::map<unsigned long long, std::vector<std::string>> collected;

// Queues an event line for the handler; never waits for JavaScript (the mutex is held only to append).
void Queue(const char* json, size_t len, unsigned long long collector);

// A thread-safe function wakes the handler's loop by writing to a descriptor of the loop's own table (its
// async eventfd); a thread with a table of its own (unshare(CLONE_FILES), then its descriptors closed: a
// sandboxing helper) may not have it, and libuv aborts the process when that write fails. Such a thread's
// lines wait in `stranded` (under events_mutex), and it wakes the loop through an eventfd of the handler's
// environment that it takes into its own table for the moment (pidfd_getfd); the loop then hands them on.
// Where that is refused, they go with the next line of any other thread.
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
std::vector<std::string*> stranded;
long events_tid = 0;  // the thread of events_env
struct Wake {
    int fd;
    uv_poll_t* poll;
    int async_fd;  // the descriptor libuv's uv_async_send() writes to for this loop, or -1
    struct stat async_stat;
};
std::map<napi_env, Wake> wakes;

// At most this many lines wait (where no wake-up reaches the loop, the oldest are kept).
constexpr size_t kStrandedMax = 256;

// The descriptor uv_async_send() writes to (libuv's public loop fields, the same in every libuv 1.x).
int AsyncFdOf(const uv_loop_t* loop) {
    return loop->async_wfd != -1 ? loop->async_wfd : loop->async_io_watcher.fd;
}

// Can the calling thread wake the handler's loop, that is, does its descriptor table hold the loop's async
// descriptor under the loop's number? (Asked of that very descriptor with fstat, which no sandbox refuses:
// a table of its own that kept its copy can, one that closed it or put something else there cannot. An
// eventfd has the same inode as any other, so one put there on purpose passes: its write then succeeds and
// wakes nothing, and the line goes with the next wake-up of the loop.) Where it cannot tell: yes, as before.
bool CanWakeLoop() {
    if (syscall(SYS_gettid) == events_tid) return true;
    auto it = wakes.find(events_env);
    if (it == wakes.end() || it->second.async_fd < 0) return true;
    struct stat now;
    if (fstat(it->second.async_fd, &now) != 0) return false;
    return now.st_dev == it->second.async_stat.st_dev && now.st_ino == it->second.async_stat.st_ino &&
           (now.st_mode & S_IFMT) == (it->second.async_stat.st_mode & S_IFMT);
}

void WakeFromOwnTable(int fd) {
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
    if (pidfd < 0) return;
    int mine = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
    close(pidfd);
    if (mine < 0) return;
    uint64_t one = 1;
    if (write(mine, &one, sizeof one) < 0) {
        // the loop is going away: the lines go with the next one
    }
    close(mine);
}

// Under events_mutex, on a thread that can wake the loop.
void HandOnStranded() {
    for (std::string* line : stranded)
        if (events == nullptr ||
            napi_call_threadsafe_function(events, line, napi_tsfn_nonblocking) != napi_ok)
            delete line;
    stranded.clear();
}

void OnWake(uv_poll_t* poll, int, int) {
    uint64_t count;
    if (read(static_cast<int>(reinterpret_cast<intptr_t>(poll->data)), &count, sizeof count) < 0) {
        // nothing to read: another wake took it
    }
    std::lock_guard<std::mutex> lock(events_mutex);
    HandOnStranded();
}

// Under events_mutex, on the environment's thread.
void WatchWakes(napi_env env) {
    events_tid = syscall(SYS_gettid);
    if (wakes.count(env) != 0) return;
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return;
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return;
    auto* poll = new uv_poll_t;
    poll->data = reinterpret_cast<void*>(static_cast<intptr_t>(fd));
    if (uv_poll_init(loop, poll, fd) != 0) {
        delete poll;  // never initialised: nothing of libuv's refers to it
        close(fd);
        return;
    }
    if (uv_poll_start(poll, UV_READABLE, OnWake) != 0) {
        // initialised: the loop knows the handle until it is closed
        uv_close(reinterpret_cast<uv_handle_t*>(poll),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
        close(fd);
        return;
    }
    uv_unref(reinterpret_cast<uv_handle_t*>(poll));  // never keeps the process alive
    Wake wake{fd, poll, AsyncFdOf(loop), {}};
    if (wake.async_fd < 0 || fstat(wake.async_fd, &wake.async_stat) != 0) wake.async_fd = -1;
    wakes[env] = wake;
}

// Under events_mutex, on the environment's thread, as it goes.
void UnwatchWakes(napi_env env) {
    auto it = wakes.find(env);
    if (it == wakes.end()) return;
    uv_poll_stop(it->second.poll);
    close(it->second.fd);
    uv_close(reinterpret_cast<uv_handle_t*>(it->second.poll),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    wakes.erase(it);
}

// Called by the shim on the thread that made the attempt: copy the line and queue it.
void Sink(const char* json, size_t len, unsigned long long collector) {
    last_event.assign(json, len);
    tethered_strict::NoteLibcEvent(json, len);
    Queue(json, len, collector);
}

// The strict supervisor's event lines (on the addon's reader thread): to the same handler.
void DeliverStrict(const char* json, size_t len) {
    Queue(json, len, 0);
}

void Queue(const char* json, size_t len, unsigned long long collector) {
    if (collector != 0) {
        std::lock_guard<std::mutex> lock(collected_mutex);
        auto it = collected.find(collector);
        if (it != collected.end()) it->second.emplace_back(json, len);
    }
    int saved = errno;
    {
        std::lock_guard<std::mutex> lock(events_mutex);
        if (events == nullptr) return;
        if (!CanWakeLoop()) {
            if (stranded.size() < kStrandedMax) stranded.push_back(new std::string(json, len));
            // under the lock: the eventfd cannot be closed (UnwatchWakes) and its number reused meanwhile
            auto it = wakes.find(events_env);
            if (it != wakes.end()) WakeFromOwnTable(it->second.fd);
        } else {
            HandOnStranded();
            auto* line = new std::string(json, len);
            if (napi_call_threadsafe_function(events, line, napi_tsfn_nonblocking) != napi_ok) delete line;
        }
    }
    errno = saved;
}

// Runs on the JavaScript thread of the handler's environment. Raw napi calls: while the environment shuts
// down, JavaScript cannot run and the event is dropped (node-addon-api would make that a fatal error).
void CallJs(napi_env env, napi_value fn, void*, void* data) {
    auto* line = static_cast<std::string*>(data);
    if (env != nullptr && fn != nullptr) {
        napi_value text, result, recv;
        if (napi_create_string_utf8(env, line->data(), line->size(), &text) == napi_ok &&
            napi_get_undefined(env, &recv) == napi_ok) {
            // A handler that throws reaches 'uncaughtException', as any Node callback's exception would
            // (left pending, Node-API would only print a deprecation warning and drop it).
            napi_value error;
            if (napi_call_function(env, recv, fn, 1, &text, &result) == napi_pending_exception &&
                napi_get_and_clear_last_exception(env, &error) == napi_ok)
                napi_fatal_exception(env, error);
        }
    }
    delete line;
}

void ForgetEvents(void* arg) {
    std::lock_guard<std::mutex> lock(events_mutex);
    UnwatchWakes(static_cast<napi_env>(arg));
    if (events_env != static_cast<napi_env>(arg)) return;
    if (shim.set_sink && shim.set_sink(nullptr) != 0) {
        // a locked policy keeps the sink: events then go nowhere until a handler is set again
    }
    napi_release_threadsafe_function(events, napi_tsfn_abort);
    events = nullptr;
    events_env = nullptr;
    events_fn = nullptr;  // its environment is going: the reference goes with it
}

bool SameHandler(napi_env env, napi_value fn) {
    std::lock_guard<std::mutex> lock(events_mutex);
    if (events == nullptr || events_env != env || events_fn == nullptr) return false;
    napi_value current;
    bool same = false;
    return napi_get_reference_value(env, events_fn, &current) == napi_ok && current != nullptr &&
           napi_strict_equals(env, current, fn, &same) == napi_ok && same;
}

// Makes `fn` the handler of every event line (replacing the last one); false when it cannot be made.
bool SetHandler(napi_env env, napi_value fn) {
    if (SameHandler(env, fn)) return true;
    napi_value name;
    napi_threadsafe_function made = nullptr;
    if (napi_create_string_utf8(env, "tethered-events", NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_create_threadsafe_function(env, fn, nullptr, name, 0, 1, nullptr, nullptr, nullptr, CallJs,
                                        &made) != napi_ok)
        return false;
    napi_unref_threadsafe_function(env, made);  // events never keep the process alive
    napi_threadsafe_function old = nullptr;
    napi_ref fn_ref = nullptr;
    napi_create_reference(env, fn, 0, &fn_ref);  // weak: the function's realm owns it
    napi_ref old_ref = nullptr;
    napi_env old_env = nullptr;
    {
        std::lock_guard<std::mutex> lock(events_mutex);
        old = events;
        old_ref = events_fn;
        old_env = events_env;
        events = made;
        events_env = env;
        events_fn = fn_ref;
        WatchWakes(env);
    }
    if (old_ref != nullptr && old_env == env) napi_delete_reference(env, old_ref);
    // released, not aborted: the lines queued already still reach JavaScript
    if (old != nullptr) napi_release_threadsafe_function(old, napi_tsfn_release);
    // One cleanup hook per environment (adding the same hook twice is fatal); a stale one does nothing.
    static std::set<napi_env> hooked;
    bool hook;
    {
        std::lock_guard<std::mutex> lock(events_mutex);
        hook = hooked.insert(env).second;
    }
    if (hook) napi_add_env_cleanup_hook(env, ForgetEvents, env);
    return true;
}

// onEvents(fn): every event line goes to fn(line) on the JavaScript thread, asynchronously.
// Returns false when a locked policy keeps the sink another copy of the addon set.
Napi::Value OnEvents(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!NeedShim(env)) return env.Undefined();
    if (TypeOf(env, info[0]) != napi_function) {
        Throw(env, "onEvents() takes a function");
        return env.Undefined();
    }
    bool none;
    {
        std::lock_guard<std::mutex> lock(events_mutex);
        none = events == nullptr;
    }
    if (none && !SetHandler(env, info[0])) {
        Napi::Error::New(env, "tethered: cannot make the event handler").ThrowAsJavaScriptException();
        return env.Undefined();
    }
    return Napi::Boolean::New(env, shim.set_sink(Sink) == 0);
}

// takeLastEvent(): the last event line of this (the JavaScript) thread, or null; then forgets it.
Napi::Value TakeLastEvent(const Napi::CallbackInfo& info) {
    if (last_event.empty()) return info.Env().Null();
    Napi::String line = Napi::String::New(info.Env(), last_event);
    last_event.clear();
    return line;
}

// scopeNew({ allow, deny, allowLocalhost }, label, parent, collect) -> an external owning the compiled scope
Napi::Value ScopeNew(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Settings settings;
    if (!NeedShim(env) || !settings.Parse(env, info[0])) return env.Undefined();
    std::string label;
    if (!Missing(env, info[1]) && !GetString(env, info[1], &label, "the label")) return env.Undefined();
    tethered_scope* parent = nullptr;
    if (!Missing(env, info[2]) && !GetScope(env, info[2], &parent)) return env.Undefined();
    napi_valuetype collect = TypeOf(env, info[3]);
    if (collect != napi_undefined && collect != napi_boolean) {
        Throw(env, "collect must be a boolean");
        return env.Undefined();
    }
    char error[512] = "";
    tethered_scope* scope =
        shim.scope_new(&settings.s, label.c_str(), parent, info[3].ToBoolean() ? 1 : 0, error, sizeof error);
    if (!scope) {
        Napi::Error::New(env, std::string("tethered: ") + error).ThrowAsJavaScriptException();
        return env.Undefined();
    }
    // Freed when JavaScript lets go of it; it keeps its parent alive itself (a scope of a chain must outlive
    // it), so that holding the innermost scope alone (as scopeEnter() does) is enough.
    napi_ref keep_parent = nullptr;
    if (parent != nullptr && napi_create_reference(env, info[2], 1, &keep_parent) != napi_ok) {
        shim.scope_free(scope);
        Throw(env, "cannot keep the parent scope");
        return env.Undefined();
    }
    auto external = Napi::External<tethered_scope>::New(
        env, scope,
        [](Napi::Env e, tethered_scope* s, napi_ref__* keep) {
            shim.scope_free(s);
            if (keep != nullptr) napi_delete_reference(e, keep);
        },
        keep_parent);
    external.TypeTag(&kScopeTag);
    return external;
}

// decide(host, port, scope, layers) -> null when allowed (also when nothing judges, or a lookup is exempt),
// else { reason, rule, host, scope, logOnly }: the shim's own decision (tethered_decide), the one
// authority for every decision JavaScript makes at run time. port: -1 or null for a name lookup; scope: a
// scope from scopeNew() or null; layers: TETHERED_DECIDE_* bits. Any host text is judged, NUL bytes
// included (it is no DNS name then).
Napi::Value Decide(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!NeedShim(env)) return env.Undefined();
    if (TypeOf(env, info[0]) != napi_string) {
        Throw(env, "decide(): the host must be a string");
        return env.Undefined();
    }
    size_t len = 0;
    if (napi_get_value_string_utf8(env, info[0], nullptr, 0, &len) != napi_ok) {
        Throw(env, "decide(): the host is unreadable");
        return env.Undefined();
    }
    std::vector<char> host(len + 1);
    if (napi_get_value_string_utf8(env, info[0], host.data(), host.size(), &len) != napi_ok) {
        Throw(env, "decide(): the host is unreadable");
        return env.Undefined();
    }
    double port = -1;
    if (!Missing(env, info[1]) &&
        (TypeOf(env, info[1]) != napi_number || napi_get_value_double(env, info[1], &port) != napi_ok ||
         !(port >= -1 && port <= 65535) || port != static_cast<double>(static_cast<int>(port)))) {
        Throw(env, "decide(): the port must be an integer from -1 to 65535, or null");
        return env.Undefined();
    }
    tethered_scope* scope = nullptr;
    if (!Missing(env, info[2]) && !GetScope(env, info[2], &scope)) return env.Undefined();
    double layers = 0;
    if (TypeOf(env, info[3]) != napi_number || napi_get_value_double(env, info[3], &layers) != napi_ok ||
        !(layers >= 1 && layers <= 7) || layers != static_cast<double>(static_cast<int>(layers))) {
        Throw(env, "decide(): layers must be an integer from 1 to 7");
        return env.Undefined();
    }
    tethered_decision d;
    shim.decide(host.data(), len, static_cast<int>(port), scope, static_cast<int>(layers), &d);
    if (d.allowed) return env.Null();
    static const char* const kReasons[] = {"allow-rule", "localhost", "deny-rule", "no-rule", "invalid-host"};
    Napi::Object out = Napi::Object::New(env);
    out.Set("reason",
            Napi::String::New(env, d.reason >= 0 && d.reason <= 4 ? kReasons[d.reason] : "no-rule"));
    out.Set("rule", d.rule[0] ? Napi::String::New(env, d.rule) : env.Null());
    out.Set("host", d.host[0] ? Napi::String::New(env, d.host) : env.Null());
    out.Set("scope", Napi::Number::New(env, static_cast<double>(d.scope)));
    out.Set("logOnly", Napi::Boolean::New(env, d.log_only != 0));
    return out;
}

// The scope of the JavaScript running on this thread, for the shim's hooks: a function of this thread's
// JavaScript (the innermost scope's compiled scope, or null) that the shim asks through CurrentScope() when
// a hook on this thread judges an attempt, and only then (tethered_set_scope_source).
thread_local napi_env scope_env = nullptr;
thread_local napi_ref scope_getter = nullptr;

const tethered_scope* CurrentScope() {
    napi_env env = scope_env;
    if (env == nullptr || scope_getter == nullptr) return nullptr;
    napi_handle_scope handles;
    if (napi_open_handle_scope(env, &handles) != napi_ok) return nullptr;
    const tethered_scope* scope = nullptr;
    napi_value fn = nullptr, global = nullptr, result = nullptr;
    if (napi_get_reference_value(env, scope_getter, &fn) == napi_ok && fn != nullptr &&
        napi_get_global(env, &global) == napi_ok) {
        if (napi_call_function(env, global, fn, 0, nullptr, &result) == napi_ok) {
            bool tagged = false;
            void* data = nullptr;
            if (TypeOf(env, result) == napi_external &&
                napi_check_object_type_tag(env, result, &kScopeTag, &tagged) == napi_ok && tagged &&
                napi_get_value_external(env, result, &data) == napi_ok)
                scope = static_cast<const tethered_scope*>(data);
        }
        // The engine cannot run JavaScript now (the environment is stopping), or the function threw: no
        // scope, and no exception left behind for whatever this thread calls next.
        bool pending = false;
        if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
            napi_value ignored;
            napi_get_and_clear_last_exception(env, &ignored);
        }
    }
    napi_close_handle_scope(env, handles);
    return scope;
}

// scopeSource(fn): fn() -> the calling thread's innermost scope (made by scopeNew), or null; the shim asks
// it when a hook on this thread judges an attempt.
Napi::Value ScopeSource(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!NeedShim(env)) return env.Undefined();
    if (TypeOf(env, info[0]) != napi_function) {
        Throw(env, "scopeSource(): expected a function");
        return env.Undefined();
    }
    // The first source of a thread stays: the package registers its own as soon as it loads, and nothing
    // registered later (code inside a scope calling this export) can answer "no scope" in its place.
    if (scope_getter != nullptr && scope_env == env) {
        shim.set_scope_source(CurrentScope);
        return env.Undefined();
    }
    napi_ref ref = nullptr;
    if (napi_create_reference(env, info[0], 1, &ref) != napi_ok) {
        Throw(env, "scopeSource(): cannot keep the function");
        return env.Undefined();
    }
    scope_env = env;
    scope_getter = ref;
    shim.set_scope_source(CurrentScope);
    return env.Undefined();
}

// The scope this thread's JavaScript put in the shim's slot for the native calls it makes (scopeEnter), kept
// alive while it is there, in the environment that made the reference.
thread_local napi_ref entered_ref = nullptr;
thread_local napi_env entered_env = nullptr;

// scopeWord() -> an ArrayBuffer of 4 bytes over the calling thread's word of the shim
// (tethered_js_scope_word), or null where this Node allows no buffer over outside memory. JavaScript writes
// it around one native call it knows the scope of: 1 for none, or what scopeEnter() returned; 0 after.
Napi::Value ScopeWord(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!NeedShim(env)) return env.Undefined();
    return WordBuffer(env, shim.js_scope_word());
}

// scopeEnter(scope | null) -> the number that, written to the thread's word (scopeWord), makes the hooks
// take `scope` for this thread's native call. Holds the scope (and with it its chain) until the next call.
Napi::Value ScopeEnter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!NeedShim(env)) return env.Undefined();
    tethered_scope* scope = nullptr;
    if (TypeOf(env, info[0]) != napi_null && !GetScope(env, info[0], &scope)) return env.Undefined();
    napi_ref ref = nullptr;
    if (scope != nullptr && napi_create_reference(env, info[0], 1, &ref) != napi_ok) {
        Throw(env, "scopeEnter(): cannot keep the scope");
        return env.Undefined();
    }
    unsigned serial = shim.js_scope_set(scope);
    if (entered_ref != nullptr) napi_delete_reference(entered_env, entered_ref);
    entered_ref = ref;
    entered_env = env;
    return Napi::Number::New(env, serial);
}

// checkPeer(fd, http2) -> 0 or EACCES: what is written on connected socket `fd` (a socket write; with
// http2, an HTTP/2 request's frames, sent later), judged now by the scope the thread's word says
// (tethered_check_peer), the event named for it. It can only refuse.
Napi::Value CheckPeer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!NeedShim(env)) return env.Undefined();
    if (TypeOf(env, info[0]) != napi_number) {
        Napi::TypeError::New(env, "checkPeer(fd): fd must be a number").ThrowAsJavaScriptException();
        return env.Undefined();
    }
    int fd = info[0].As<Napi::Number>().Int32Value();
    bool http2 =
        info.Length() > 1 && TypeOf(env, info[1]) == napi_boolean && info[1].As<Napi::Boolean>().Value();
    return Napi::Number::New(env, shim.check_peer(fd, http2 ? "http2.request" : "write"));
}

Napi::Value ScopeId(const Napi::CallbackInfo& info) {
    tethered_scope* scope = nullptr;
    if (!NeedShim(info.Env()) || !GetScope(info.Env(), info[0], &scope)) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), static_cast<double>(shim.scope_id(scope)));
}

// collect(scope): keep the events of attempts made in `scope` (from scopeNew()) until takeCollected(scope).
// The scope object, not its number, is the key: a number can be guessed, and code running inside a
// noEgress() (which can load this addon again) would take the evidence of its own attempts away with it.
Napi::Value Collect(const Napi::CallbackInfo& info) {
    tethered_scope* scope = nullptr;
    if (!NeedShim(info.Env()) || !GetScope(info.Env(), info[0], &scope)) return info.Env().Undefined();
    std::lock_guard<std::mutex> lock(collected_mutex);
    collected.emplace(shim.scope_id(scope), std::vector<std::string>());
    return info.Env().Undefined();
}

// takeCollected(scope) -> the event lines kept for `scope`; stops keeping them.
Napi::Value TakeCollected(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    tethered_scope* scope = nullptr;
    if (!NeedShim(env) || !GetScope(env, info[0], &scope)) return env.Undefined();
    std::vector<std::string> lines;
    {
        std::lock_guard<std::mutex> lock(collected_mutex);
        auto it = collected.find(shim.scope_id(scope));
        if (it != collected.end()) {
            lines.swap(it->second);
            collected.erase(it);
        }
    }
    Napi::Array out = Napi::Array::New(env, lines.size());
    for (size_t i = 0; i < lines.size(); i++)
        out.Set(static_cast<uint32_t>(i), Napi::String::New(env, lines[i]));
    return out;
}

// The settings activate() put in force, as JSON, for JavaScript in worker threads (each has its own module
// state; this addon is loaded once per process).
std::mutex shared_mutex;
std::string shared_settings;

Napi::Value ShareSettings(const Napi::CallbackInfo& info) {
    std::string json;
    if (!GetString(info.Env(), info[0], &json, "shareSettings(): the settings"))
        return info.Env().Undefined();
    std::lock_guard<std::mutex> lock(shared_mutex);
    shared_settings = json;
    return info.Env().Undefined();
}

Napi::Value SharedSettings(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(shared_mutex);
    if (shared_settings.empty()) return info.Env().Null();
    return Napi::String::New(info.Env(), shared_settings);
}

// Keeps this library loaded for the life of the process. Node closes an addon when the worker thread that
// loaded it ends; were this the last reference, the library would be unloaded and loaded afresh by the
// next thread, with the state above (the lock's holder, the description of the policy, the event
// handler) forgotten while the shim keeps the policy: every copy would then misreport it.
void StayLoaded() {
    Dl_info self;
    if (dladdr(reinterpret_cast<void*>(&StayLoaded), &self) && self.dli_fname)
        dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    StayLoaded();
    // The lock's token lives in this environment: when it goes, the reference goes, the lock stays.
    env.AddCleanupHook([env] {
        std::lock_guard<std::mutex> guard(lock_mutex);
        if (holder.held && holder.env == env) {
            napi_delete_reference(env, holder.token);
            holder.token = nullptr;
            holder.env = nullptr;
        }
        // The scope this environment put in the thread's slot goes with it.
        if (entered_env == env) {
            shim.js_scope_set(nullptr);
            if (entered_ref != nullptr) napi_delete_reference(env, entered_ref);
            entered_ref = nullptr;
            entered_env = nullptr;
        }
        // This environment's JavaScript can no longer answer for its thread.
        if (scope_env == env) {
            napi_delete_reference(env, scope_getter);
            scope_getter = nullptr;
            scope_env = nullptr;
        }
    });
    exports.Set("writePolicyImage", Napi::Function::New(env, WritePolicyImage));
    exports.Set("shareSettings", Napi::Function::New(env, ShareSettings));
    exports.Set("sharedSettings", Napi::Function::New(env, SharedSettings));
    exports.Set("scopeNew", Napi::Function::New(env, ScopeNew));
    exports.Set("decide", Napi::Function::New(env, Decide));
    exports.Set("scopeId", Napi::Function::New(env, ScopeId));
    exports.Set("scopeSource", Napi::Function::New(env, ScopeSource));
    exports.Set("scopeWord", Napi::Function::New(env, ScopeWord));
    exports.Set("scopeEnter", Napi::Function::New(env, ScopeEnter));
    exports.Set("checkPeer", Napi::Function::New(env, CheckPeer));
    exports.Set("collect", Napi::Function::New(env, Collect));
    exports.Set("takeCollected", Napi::Function::New(env, TakeCollected));
    exports.Set("takeLastEvent", Napi::Function::New(env, TakeLastEvent));
    exports.Set("abi", Napi::Number::New(env, TETHERED_ABI));
    exports.Set("version", Napi::String::New(env, TETHERED_VERSION));
    exports.Set("load", Napi::Function::New(env, Load));
    exports.Set("configure", Napi::Function::New(env, Configure));
    exports.Set("disable", Napi::Function::New(env, Disable));
    exports.Set("active", Napi::Function::New(env, Active));
    exports.Set("status", Napi::Function::New(env, Status));
    exports.Set("patch", Napi::Function::New(env, Patch));
    exports.Set("generation", Napi::Function::New(env, Generation));
    exports.Set("eventSeq", Napi::Function::New(env, EventSeq));
    exports.Set("decideGeneration", Napi::Function::New(env, DecideGeneration));
    exports.Set("onEvents", Napi::Function::New(env, OnEvents));
    return exports;
}

}  // namespace

NODE_API_MODULE(tethered, Init)
