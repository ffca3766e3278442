/* The policy image: a compiled policy written once to a file private to the user, named and verified by
 * its content hash, so that a policy of any size reaches every child by a short reference
 * (TETHERED_POLICY_IMAGE=<sha256>:<descriptor>:<path>) that costs each process neither parsing nor an
 * environment string per rule (docs/rules.md, Where rules come from). */
#ifndef TETHERED_POLICY_IMAGE_H
#define TETHERED_POLICY_IMAGE_H

#include <stddef.h>

#include "policy.h"

#define TD_IMAGE_REF_MAX 4200

/* Writes `policy` as an image into the user's private directory ($XDG_RUNTIME_DIR/tethered, else
 * /tmp/tethered-<uid>; refused when it is not a directory of this user that no one else can write), or
 * reuses the file already there with the same content, and keeps a sealed memfd of it open for children
 * to inherit. Fills `ref` with "<sha256 hex>:<memfd or ->:<path>". Returns 0, or -1 with a reason. */
int td_policy_image_write(const struct td_policy *policy, char *ref, size_t cap, char *problem, size_t pcap);

/* The policy `ref` names, from the inherited sealed memfd or else from a sealed copy of the file, used only
 * when its content hash is the one `ref` gives (NULL with a reason otherwise). *fd receives the sealed
 * memfd it came from, which this process's children must be told about. */
struct td_policy *td_policy_image_load(const char *ref, int *fd, char *problem, size_t pcap);

/* Splits a reference; 0, or -1 when it is malformed. */
int td_policy_image_parse(const char *ref, char hex[2 * 32 + 1], int *fd, const char **path);

#endif
