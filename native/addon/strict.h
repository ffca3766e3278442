// activate({ strict: true }): the supervisor of the Node process (tethered-strict --serve, a child of it)
// and the filter loaded into every thread of this process (docs/strict-mode.md, Entry points).
#ifndef TETHERED_ADDON_STRICT_H
#define TETHERED_ADDON_STRICT_H

#include <stddef.h>

#include <string>
#include <vector>

namespace tethered_strict {

// Where the supervisor's event lines go, after the log (the addon's event sink).
using Deliver = void (*)(const char* json, size_t len);

// Starts the supervisor with `policy` (TETHERED_* lines), locked to `lock` (32 bytes) or not, and loads the
// filter into this process. Returns "" or why not, with *code ERR_TETHERED_STRICT_UNAVAILABLE when this
// system cannot (nothing is left behind then but no_new_privs) or ERR_TETHERED_STRICT_FAILED.
std::string Start(const std::string& binary, const std::vector<std::string>& policy,
                  const unsigned char* lock, Deliver deliver, std::string* code);
// Sends a new policy: 0, TETHERED_LOCKED (the supervisor keeps the lock), or -1 with *error.
int Update(const std::vector<std::string>& policy, const unsigned char* key, const unsigned char* lock,
           std::string* error);
// Everything allowed from now on, nothing recorded: 0, TETHERED_LOCKED, or -1 with *error.
int Off(const unsigned char* key, std::string* error);
// Has this process started its supervisor (the filter then stays for the process's lifetime)?
bool Running();
int SupervisorPid();
// Where the supervisor's events are written besides the sink: "off", "stderr" or a file path.
void SetLog(const std::string& log);
// An event line of the libc layer (which judged the same attempt first): the supervisor's line of that
// attempt is then not reported again (log-only mode lets it through to the kernel).
void NoteLibcEvent(const char* json, size_t len);

}  // namespace tethered_strict

#endif
