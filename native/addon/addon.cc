// The N-API bridge. For now it reports what it was built against, so that the loader can tell a stale
// prebuilt binary from a fresh one; the bridge to the shim arrives with in-process activate().
#include <napi.h>

#include "../shim/tethered.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    exports.Set("abi", Napi::Number::New(env, TETHERED_ABI));
    exports.Set("version", Napi::String::New(env, TETHERED_VERSION));
    return exports;
}

}  // namespace

NODE_API_MODULE(tethered, Init)
