/*
 * tools/mockxen/xs_store.h — module-private to mockxen's xenstore (see xs_server.h).
 *
 * The pieces below know nothing about sockets:
 *   - paths: validation and canonicalisation of xenstore paths (xs_path.c);
 *   - permissions: the "n0"/"r1"/"w2"/"b3" lists every node carries (xs_perms.c);
 *   - the store: a tree of nodes, each with a byte-string value, a permission list and a
 *     generation number that changes whenever the node's value, permissions or set of
 *     children change (xs_store.c);
 *   - transactions: a snapshot of the store that records which nodes it looked at and
 *     which changes it made, replayed on the live store at commit unless one of those
 *     nodes changed meanwhile (xs_txn.c).
 * Paths given to the store are canonical absolute paths (xs_path_canonical()); the store
 * trusts them. Nothing here locks: the server serialises every call with its mutex.
 */
#ifndef MOCKXEN_XS_STORE_H
#define MOCKXEN_XS_STORE_H

#include <stdbool.h>
#include <stdint.h>

/* ---- paths ------------------------------------------------------------------------ */

#define XS_DOMID_MAX 0xffffu           /* a domid on the wire is 0..65535 */

/* True if `path` (absolute) is `parent` or lies below it ("/" is everyone's parent). */
bool xs_path_is_child(const char *path, const char *parent);
/*
 * Turn a client's path into a canonical absolute path: relative paths are taken
 * relative to /local/domain/<domid>. Rejects empty paths, characters other than
 * [A-Za-z0-9-/_@], "//", a trailing '/' (except "/"), and paths longer than
 * XENSTORE_ABS_PATH_MAX (absolute) or XENSTORE_REL_PATH_MAX (relative) bytes.
 * With allow_special, "@<name>" watch paths are accepted unchanged.
 * Returns a malloc'd string, or NULL with errno = EINVAL (or ENOMEM).
 */
char *xs_path_canonical(const char *path, unsigned domid, bool allow_special);
/* "/local/domain/<domid>" into buf (at least 32 bytes). */
void xs_path_domain(char *buf, unsigned long size, unsigned domid);
/* Parse a decimal domid 0..65535; -EINVAL on anything else. */
int xs_parse_domid(const char *s, unsigned *domid);

/* ---- permissions ------------------------------------------------------------------ */

enum { XS_ACCESS_NONE = 0, XS_ACCESS_READ = 1, XS_ACCESS_WRITE = 2,
       XS_ACCESS_BOTH = XS_ACCESS_READ | XS_ACCESS_WRITE };

typedef struct XsPerm {
    uint16_t domid;
    uint8_t access;     /* XS_ACCESS_* */
} XsPerm;

/* A permission list: entry 0 names the owner and the access of everyone not listed. */
typedef struct XsPerms {
    unsigned count;     /* >= 1 for a valid list */
    XsPerm *entries;    /* malloc'd */
} XsPerms;

/* Parse one "n0"/"r1"/"w2"/"b3" string; -EINVAL if malformed or domid > 65535. */
int xs_perm_parse(const char *s, XsPerm *out);
/* Format as "<letter><domid>" into buf (at least 8 bytes); returns the length. */
int xs_perm_format(const XsPerm *perm, char *buf, unsigned long size);
/* May `domid` have `want` (XS_ACCESS_*) on a node with these perms? dom0 and the owner
 * may do everything; others get their own entry, else the default (entry 0). */
bool xs_perms_allow(const XsPerms *perms, unsigned domid, unsigned want);
int xs_perms_copy(XsPerms *dst, const XsPerms *src);      /* 0 or -ENOMEM */
void xs_perms_clear(XsPerms *perms);

/* ---- the store -------------------------------------------------------------------- */

typedef struct XsStore XsStore;

/* A store holding only "/" (value "", perms "n0"). NULL on ENOMEM. */
XsStore *xs_store_new(void);
void xs_store_free(XsStore *store);

/*
 * All of these return 0 or -errno: -ENOENT (no such node, or for write/mkdir/rm a
 * missing parent where the protocol requires one), -EINVAL (removing "/"), -E2BIG,
 * -ENOMEM. Pointers returned through out parameters stay valid until the next change
 * of the store.
 */
int xs_store_read(XsStore *store, const char *path, const char **value, unsigned *len);
/* Set the value, creating the node and missing parents (parents get value ""). New
 * nodes inherit their parent's permissions. */
int xs_store_write(XsStore *store, const char *path, const void *value, unsigned len);
/* Make sure the node exists (like write, but an existing value is kept). */
int xs_store_mkdir(XsStore *store, const char *path);
/* Remove the node and its subtree. A missing node is fine if its parent exists. */
int xs_store_rm(XsStore *store, const char *path);
/* Whether the node exists (records the access like a read). */
bool xs_store_exists(XsStore *store, const char *path);
/* The children's names, each NUL-terminated, concatenated into a malloc'd buffer
 * (*names, *len bytes; NULL and 0 if there are none) and the node's generation. */
int xs_store_directory(XsStore *store, const char *path, char **names, unsigned *len,
                       uint64_t *generation);
/* A copy of the node's permissions (the caller clears it). */
int xs_store_get_perms(XsStore *store, const char *path, XsPerms *out);
/* Replace the node's permissions (count must be >= 1). */
int xs_store_set_perms(XsStore *store, const char *path, const XsPerms *perms);
/* Number of nodes, "/" included. */
unsigned xs_store_node_count(const XsStore *store);

/*
 * Snapshots for transactions: a deep copy of `live` that from now on records, for every
 * path an operation looks at, the generation the path had when first looked at (0 if
 * it did not exist). xs_store_snapshot_conflicts() is true if any of those paths now
 * has a different generation in `live`.
 */
XsStore *xs_store_snapshot(const XsStore *live);
bool xs_store_snapshot_conflicts(const XsStore *snapshot, const XsStore *live);

/* ---- transactions ----------------------------------------------------------------- */

typedef enum XsChangeKind { XS_CHANGE_WRITE, XS_CHANGE_MKDIR, XS_CHANGE_RM,
                            XS_CHANGE_SET_PERMS } XsChangeKind;

/* One change, as handed to the commit callback (for watch events). */
typedef struct XsChange {
    XsChangeKind kind;
    const char *path;
} XsChange;

typedef struct XsTxn XsTxn;

/* Start a transaction on `live` with the id the server chose. NULL on ENOMEM. */
XsTxn *xs_txn_begin(const XsStore *live, uint32_t id);
uint32_t xs_txn_id(const XsTxn *txn);
/* The store the transaction's reads and writes go to. */
XsStore *xs_txn_store(XsTxn *txn);
/* Do a change inside the transaction and remember it for the commit. 0 or -errno. */
int xs_txn_write(XsTxn *txn, const char *path, const void *value, unsigned len);
int xs_txn_mkdir(XsTxn *txn, const char *path);
int xs_txn_rm(XsTxn *txn, const char *path);
int xs_txn_set_perms(XsTxn *txn, const char *path, const XsPerms *perms);
/*
 * Commit: -EAGAIN if a node the transaction looked at changed in `live` since the
 * start; otherwise replay the changes on `live`, calling `applied` after each one.
 * Either way the transaction is freed.
 */
int xs_txn_commit(XsTxn *txn, XsStore *live,
                  void (*applied)(const XsChange *change, void *opaque), void *opaque);
/* Discard the transaction. NULL is a no-op. */
void xs_txn_abort(XsTxn *txn);

#endif
