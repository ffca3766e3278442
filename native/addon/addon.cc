// The N-API bridge between the TypeScript engine and libtethered.so. It loads the shim (or finds it already
// preloaded), pushes the compiled policy down, patches the process, and carries the shim's events up to
// JavaScript through a thread-safe function: the shim never waits for JavaScript, whatever thread it is on.
#include <dlfcn.h>
#include <napi.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../shim/tethered.h"

namespace {

struct Shim {
    void* handle = nullptr;
    int (*configure)(const tethered_settings*, char*, size_t) = nullptr;
    void (*disable)() = nullptr;
    int (*patch)() = nullptr;
    int (*preloaded)() = nullptr;
    int (*active)() = nullptr;
    int (*abi)() = nullptr;
    void (*set_sink)(tethered_sink) = nullptr;
    tethered_scope* (*scope_new)(const tethered_settings*, const char*, const tethered_scope*, int, char*,
                                 size_t) = nullptr;
    void (*scope_free)(tethered_scope*) = nullptr;
    unsigned long long (*scope_id)(const tethered_scope*) = nullptr;
    const tethered_scope** (*scope_slot)() = nullptr;
    int (*image_write)(const tethered_settings*, char*, size_t, char*, size_t) = nullptr;
};

Shim shim;
Napi::ThreadSafeFunction events;
bool have_events = false;

template <typename T>
bool Resolve(T& field, const char* name) {
    field = reinterpret_cast<T>(dlsym(shim.handle, name));
    return field != nullptr;
}

// load(path) -> { preloaded }
Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = info[0].As<Napi::String>();
    if (!shim.handle) {
        // A libtethered.so already in the process (preloaded, perhaps from another path) is the one to
        // drive: loading a second copy would judge every call twice, by two policies.
        void* handle = nullptr;
        Dl_info info;
        void* loaded = dlsym(RTLD_DEFAULT, "tethered_configure");
        if (loaded && dladdr(loaded, &info) && info.dli_fname)
            handle = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
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
            Resolve(shim.scope_slot, "tethered_scope_slot") &&
            Resolve(shim.image_write, "tethered_policy_image_write");
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
    return result;
}

std::vector<std::string> Strings(const Napi::Value& value) {
    std::vector<std::string> out;
    if (!value.IsArray()) return out;
    Napi::Array array = value.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); i++) out.push_back(array.Get(i).As<Napi::String>());
    return out;
}

std::vector<const char*> Pointers(const std::vector<std::string>& strings) {
    std::vector<const char*> out;
    for (const auto& s : strings) out.push_back(s.c_str());
    return out;
}

// tethered_settings from { allow, deny, allowLocalhost, logOnly, failClosed, childrenInherit, log, inject },
// with the strings it points into.
struct Settings {
    std::vector<std::string> allow, deny, inject;
    std::vector<const char*> allow_p, deny_p, inject_p;
    std::string log;
    tethered_settings s{};

    explicit Settings(const Napi::Object& o)
        : allow(Strings(o.Get("allow"))),
          deny(Strings(o.Get("deny"))),
          inject(Strings(o.Get("inject"))),
          allow_p(Pointers(allow)),
          deny_p(Pointers(deny)),
          inject_p(Pointers(inject)) {
        if (o.Has("log") && o.Get("log").IsString()) log = std::string(o.Get("log").As<Napi::String>());
        s.allow = allow_p.data();
        s.nallow = allow_p.size();
        s.deny = deny_p.data();
        s.ndeny = deny_p.size();
        s.allow_localhost = o.Get("allowLocalhost").ToBoolean();
        s.log_only = o.Get("logOnly").ToBoolean();
        s.fail_closed = o.Get("failClosed").ToBoolean();
        s.children_inherit = o.Get("childrenInherit").ToBoolean();
        s.log = log.empty() ? nullptr : log.c_str();
        s.inject = inject_p.data();
        s.ninject = inject_p.size();
    }
};

// configure({ allow, deny, allowLocalhost, logOnly, failClosed, childrenInherit, log, inject })
Napi::Value Configure(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Settings settings(info[0].As<Napi::Object>());
    char error[512] = "";
    if (shim.configure(&settings.s, error, sizeof error) != 0) {
        Napi::Error::New(env, std::string("tethered: ") + error).ThrowAsJavaScriptException();
    }
    return env.Undefined();
}

// writePolicyImage({ allow, deny, allowLocalhost }) -> the TETHERED_POLICY_IMAGE reference children get
Napi::Value WritePolicyImage(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Settings settings(info[0].As<Napi::Object>());
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

Napi::Value Disable(const Napi::CallbackInfo& info) {
    shim.disable();
    return info.Env().Undefined();
}

Napi::Value Patch(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), shim.patch());
}

// The last event of the thread that is calling, kept for that thread only: on the JavaScript thread, the
// error a blocked call returns can be turned into an EgressBlocked that names what was blocked.
thread_local std::string last_event;

// Events of attempts made inside a noEgress() scope, by that scope's id, while it runs: noEgress reads them
// synchronously when its function settles, whichever thread made the attempt.
std::mutex collected_mutex;
std::map<unsigned long long, std::vector<std::string>> collected;

// Called by the shim on the thread that made the attempt: copy the line and queue it; never wait for
// JavaScript (the mutex is held only to append a line).
void Sink(const char* json, size_t len, unsigned long long collector) {
    last_event.assign(json, len);
    if (collector != 0) {
        std::lock_guard<std::mutex> lock(collected_mutex);
        auto it = collected.find(collector);
        if (it != collected.end()) it->second.emplace_back(json, len);
    }
    if (!have_events) return;
    auto* line = new std::string(json, len);
    if (events.NonBlockingCall(line, [](Napi::Env env, Napi::Function fn, std::string* data) {
            // Raw napi calls: while the environment shuts down, JavaScript cannot run and the event is
            // dropped, where node-addon-api's Call would turn the failure into a fatal error.
            if (env != nullptr && fn != nullptr) {
                napi_value text, result, recv;
                if (napi_create_string_utf8(env, data->data(), data->size(), &text) == napi_ok &&
                    napi_get_undefined(env, &recv) == napi_ok) {
                    napi_call_function(env, recv, fn, 1, &text, &result);
                }
            }
            delete data;
        }) != napi_ok) {
        delete line;
    }
}

// onEvents(fn): every event line goes to fn(line) on the JavaScript thread, asynchronously.
Napi::Value OnEvents(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!have_events) {
        events = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "tethered-events", 0, 1);
        events.Unref(env);  // events never keep the process alive
        have_events = true;
        env.AddCleanupHook([] {
            if (shim.set_sink) shim.set_sink(nullptr);
            have_events = false;
            events.Abort();
        });
    }
    shim.set_sink(Sink);
    return env.Undefined();
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
    Settings settings(info[0].As<Napi::Object>());
    std::string label = info[1].IsString() ? std::string(info[1].As<Napi::String>()) : "";
    const tethered_scope* parent =
        info[2].IsExternal() ? info[2].As<Napi::External<tethered_scope>>().Data() : nullptr;
    char error[512] = "";
    tethered_scope* scope =
        shim.scope_new(&settings.s, label.c_str(), parent, info[3].ToBoolean() ? 1 : 0, error, sizeof error);
    if (!scope) {
        Napi::Error::New(env, std::string("tethered: ") + error).ThrowAsJavaScriptException();
        return env.Undefined();
    }
    // Freed when JavaScript lets go of it; the JavaScript scope object keeps its parent alive.
    return Napi::External<tethered_scope>::New(env, scope,
                                               [](Napi::Env, tethered_scope* s) { shim.scope_free(s); });
}

// scopeSlot() -> an 8-byte ArrayBuffer over the calling thread's scope pointer in the shim: JavaScript
// enters a scope by storing its address (scopeAddress) there, without a call per switch.
Napi::Value ScopeSlot(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    void* slot = static_cast<void*>(shim.scope_slot());
    return Napi::ArrayBuffer::New(env, slot, sizeof(void*));
}

// scopeAddress(scope) -> the address to store in the slot (a BigInt).
Napi::Value ScopeAddress(const Napi::CallbackInfo& info) {
    auto* scope = info[0].As<Napi::External<tethered_scope>>().Data();
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(scope)));
}

Napi::Value ScopeId(const Napi::CallbackInfo& info) {
    return Napi::Number::New(
        info.Env(), static_cast<double>(shim.scope_id(info[0].As<Napi::External<tethered_scope>>().Data())));
}

// collect(id): keep the events of attempts made in scope `id` until takeCollected(id).
Napi::Value Collect(const Napi::CallbackInfo& info) {
    auto id = static_cast<unsigned long long>(info[0].As<Napi::Number>().Int64Value());
    std::lock_guard<std::mutex> lock(collected_mutex);
    collected.emplace(id, std::vector<std::string>());
    return info.Env().Undefined();
}

// takeCollected(id) -> the event lines kept for scope `id`; stops keeping them.
Napi::Value TakeCollected(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto id = static_cast<unsigned long long>(info[0].As<Napi::Number>().Int64Value());
    std::vector<std::string> lines;
    {
        std::lock_guard<std::mutex> lock(collected_mutex);
        auto it = collected.find(id);
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
    std::lock_guard<std::mutex> lock(shared_mutex);
    shared_settings = info[0].IsString() ? std::string(info[0].As<Napi::String>()) : "";
    return info.Env().Undefined();
}

Napi::Value SharedSettings(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(shared_mutex);
    if (shared_settings.empty()) return info.Env().Null();
    return Napi::String::New(info.Env(), shared_settings);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    exports.Set("writePolicyImage", Napi::Function::New(env, WritePolicyImage));
    exports.Set("shareSettings", Napi::Function::New(env, ShareSettings));
    exports.Set("sharedSettings", Napi::Function::New(env, SharedSettings));
    exports.Set("scopeNew", Napi::Function::New(env, ScopeNew));
    exports.Set("scopeId", Napi::Function::New(env, ScopeId));
    exports.Set("scopeSlot", Napi::Function::New(env, ScopeSlot));
    exports.Set("scopeAddress", Napi::Function::New(env, ScopeAddress));
    exports.Set("collect", Napi::Function::New(env, Collect));
    exports.Set("takeCollected", Napi::Function::New(env, TakeCollected));
    exports.Set("takeLastEvent", Napi::Function::New(env, TakeLastEvent));
    exports.Set("abi", Napi::Number::New(env, TETHERED_ABI));
    exports.Set("version", Napi::String::New(env, TETHERED_VERSION));
    exports.Set("load", Napi::Function::New(env, Load));
    exports.Set("configure", Napi::Function::New(env, Configure));
    exports.Set("disable", Napi::Function::New(env, Disable));
    exports.Set("active", Napi::Function::New(env, Active));
    exports.Set("patch", Napi::Function::New(env, Patch));
    exports.Set("onEvents", Napi::Function::New(env, OnEvents));
    return exports;
}

}  // namespace

NODE_API_MODULE(tethered, Init)
