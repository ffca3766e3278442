/* The Node addon side of test/inprocess/registry.test.mjs: addresses() returns { name: "0x…" } with the
 * address this object's GOT holds now for each hooked function. The imports themselves are generated from
 * hooks.def into a second file (importer_names, importer_getters). */
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>

extern const char *const importer_names[];
extern void *(*const importer_getters[])(void);
extern const unsigned importer_count;

static napi_value addresses(napi_env env, napi_callback_info info) {
    (void)info;
    napi_value out;
    napi_create_object(env, &out);
    for (unsigned i = 0; i < importer_count; i++) {
        char text[32];
        snprintf(text, sizeof text, "0x%lx", (unsigned long)(uintptr_t)importer_getters[i]());
        napi_value v;
        napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
        napi_set_named_property(env, out, importer_names[i], v);
    }
    return out;
}

NAPI_MODULE_INIT() {
    napi_value fn;
    napi_create_function(env, "addresses", NAPI_AUTO_LENGTH, addresses, NULL, &fn);
    napi_set_named_property(env, exports, "addresses", fn);
    return exports;
}
