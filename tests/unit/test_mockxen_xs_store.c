/* Unit tests for mockxen's xenstore pieces that need no socket: paths, permissions,
 * the node store, transactions and the wire framing. */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/mockxen/xs_store.h"
#include "tools/mockxen/xs_wire.h"
#include "util/macros.h"

/* ---- paths ------------------------------------------------------------------------- */

static void expect_canonical(const char *in, unsigned domid, bool special, const char *want)
{
    char *out = xs_path_canonical(in, domid, special);
    if (!want) {
        assert_null(out);
        assert_int_equal(errno, EINVAL);
        return;
    }
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void path_canonical_accepts_and_rejects(void **state)
{
    expect_canonical("/", 0, false, "/");
    expect_canonical("/local/domain/3/device-model_x@y", 0, false,
                     "/local/domain/3/device-model_x@y");
    expect_canonical("device/vif", 7, false, "/local/domain/7/device/vif");
    expect_canonical("@releaseDomain", 0, true, "@releaseDomain");
    expect_canonical("@releaseDomain", 0, false, NULL);
    expect_canonical("@a/b", 0, true, NULL);
    expect_canonical("", 0, false, NULL);
    expect_canonical("/a//b", 0, false, NULL);
    expect_canonical("/a/", 0, false, NULL);
    expect_canonical("/a b", 0, false, NULL);
    expect_canonical("/a.b", 0, false, NULL);
    expect_canonical("rel/", 0, false, NULL);

    char *long_path = malloc(XENSTORE_ABS_PATH_MAX + 2);
    memset(long_path, 'a', XENSTORE_ABS_PATH_MAX + 1);
    long_path[0] = '/';
    long_path[XENSTORE_ABS_PATH_MAX + 1] = '\0';
    expect_canonical(long_path, 0, false, NULL);
    long_path[XENSTORE_ABS_PATH_MAX] = '\0';            /* exactly the maximum */
    char *ok = xs_path_canonical(long_path, 0, false);
    assert_non_null(ok);
    free(ok);
    free(long_path);
}

static void path_child_relation(void **state)
{
    assert_true(xs_path_is_child("/a/b", "/a"));
    assert_true(xs_path_is_child("/a", "/a"));
    assert_true(xs_path_is_child("/a", "/"));
    assert_false(xs_path_is_child("/ab", "/a"));
    assert_false(xs_path_is_child("/a", "/a/b"));
    assert_false(xs_path_is_child("@releaseDomain", "/"));
}

static void domid_parsing(void **state)
{
    unsigned d;
    assert_int_equal(xs_parse_domid("0", &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(xs_parse_domid("65535", &d), 0);
    assert_int_equal(d, 65535);
    assert_int_equal(xs_parse_domid("65536", &d), -EINVAL);
    assert_int_equal(xs_parse_domid("", &d), -EINVAL);
    assert_int_equal(xs_parse_domid("-1", &d), -EINVAL);
    assert_int_equal(xs_parse_domid("1x", &d), -EINVAL);
    assert_int_equal(xs_parse_domid("0000001", &d), -EINVAL);
}

/* ---- permissions ------------------------------------------------------------------- */

static void perm_strings_round_trip(void **state)
{
    static const char *good[] = { "n0", "r1", "w2", "b65535" };
    static const char *bad[] = { "x1", "r", "r-1", "r65536", "", "R1", "b1 " };
    XsPerm p;
    char buf[8];

    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        assert_int_equal(xs_perm_parse(good[i], &p), 0);
        assert_int_equal(xs_perm_format(&p, buf, sizeof(buf)), (int)strlen(good[i]));
        assert_string_equal(buf, good[i]);
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        assert_int_equal(xs_perm_parse(bad[i], &p), -EINVAL);
    assert_int_equal(xs_perm_parse("w7", &p), 0);
    assert_int_equal(p.domid, 7);
    assert_int_equal(p.access, XS_ACCESS_WRITE);
}

static void perms_access_rule(void **state)
{
    XsPerm e[] = { { 5, XS_ACCESS_READ }, { 7, XS_ACCESS_NONE }, { 9, XS_ACCESS_BOTH } };
    XsPerms perms = { 3, e };

    assert_true(xs_perms_allow(&perms, 0, XS_ACCESS_BOTH));    /* dom0 */
    assert_true(xs_perms_allow(&perms, 5, XS_ACCESS_BOTH));    /* owner */
    assert_false(xs_perms_allow(&perms, 7, XS_ACCESS_READ));   /* listed: none */
    assert_true(xs_perms_allow(&perms, 9, XS_ACCESS_WRITE));   /* listed: both */
    assert_true(xs_perms_allow(&perms, 3, XS_ACCESS_READ));    /* default: read */
    assert_false(xs_perms_allow(&perms, 3, XS_ACCESS_WRITE));
}

/* ---- the store --------------------------------------------------------------------- */

static void expect_node_value(XsStore *s, const char *path, const char *want)
{
    const char *v;
    unsigned len;
    assert_int_equal(xs_store_read(s, path, &v, &len), 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(v, want, len);
}

static void expect_children(XsStore *s, const char *path, const char *want, unsigned wlen)
{
    char *names;
    unsigned len;
    uint64_t gen;
    assert_int_equal(xs_store_directory(s, path, &names, &len, &gen), 0);
    assert_int_equal(len, wlen);
    if (wlen)
        assert_memory_equal(names, want, wlen);
    else
        assert_null(names);
    free(names);
}

static void store_write_read_creates_parents(void **state)
{
    XsStore *s = xs_store_new();
    const char *v;
    unsigned len;

    assert_int_equal(xs_store_node_count(s), 1);
    assert_int_equal(xs_store_write(s, "/a/b/c", "xyz", 3), 0);
    expect_node_value(s, "/a/b/c", "xyz");
    expect_node_value(s, "/a/b", "");
    assert_int_equal(xs_store_node_count(s), 4);
    assert_int_equal(xs_store_write(s, "/a/b/c", "\0bin", 4), 0);  /* binary value */
    assert_int_equal(xs_store_read(s, "/a/b/c", &v, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(v, "\0bin", 4);
    assert_int_equal(xs_store_read(s, "/a/x", &v, &len), -ENOENT);
    assert_int_equal(xs_store_write(s, "/", "root", 4), 0);
    expect_node_value(s, "/", "root");
    xs_store_free(s);
}

static void store_mkdir_keeps_values(void **state)
{
    XsStore *s = xs_store_new();

    assert_int_equal(xs_store_write(s, "/a", "v", 1), 0);
    assert_int_equal(xs_store_mkdir(s, "/a"), 0);
    expect_node_value(s, "/a", "v");
    assert_int_equal(xs_store_mkdir(s, "/a/b/c"), 0);
    expect_node_value(s, "/a/b/c", "");
    assert_true(xs_store_exists(s, "/a/b"));
    xs_store_free(s);
}

static void store_directory_lists_in_creation_order(void **state)
{
    XsStore *s = xs_store_new();

    expect_children(s, "/", "", 0);
    assert_int_equal(xs_store_write(s, "/d/zeta", "", 0), 0);
    assert_int_equal(xs_store_write(s, "/d/alpha", "", 0), 0);
    assert_int_equal(xs_store_write(s, "/d/mid/x", "", 0), 0);
    expect_children(s, "/d", "zeta\0alpha\0mid", 15);
    expect_children(s, "/d/zeta", "", 0);
    char *names;
    unsigned len;
    uint64_t gen;
    assert_int_equal(xs_store_directory(s, "/nope", &names, &len, &gen), -ENOENT);
    xs_store_free(s);
}

static void store_rm_rules(void **state)
{
    XsStore *s = xs_store_new();

    assert_int_equal(xs_store_write(s, "/a/b/c", "1", 1), 0);
    assert_int_equal(xs_store_write(s, "/a/d", "2", 1), 0);
    assert_int_equal(xs_store_rm(s, "/a/b"), 0);            /* subtree goes */
    assert_false(xs_store_exists(s, "/a/b/c"));
    expect_children(s, "/a", "d", 2);
    assert_int_equal(xs_store_node_count(s), 3);
    assert_int_equal(xs_store_rm(s, "/a/b"), 0);            /* missing, parent exists */
    assert_int_equal(xs_store_rm(s, "/q/r"), -ENOENT);      /* parent missing too */
    assert_int_equal(xs_store_rm(s, "/"), -EINVAL);
    xs_store_free(s);
}

static void store_perms_inherit_and_replace(void **state)
{
    XsStore *s = xs_store_new();
    XsPerm e[] = { { 3, XS_ACCESS_NONE }, { 4, XS_ACCESS_READ } };
    XsPerms set = { 2, e }, got;

    assert_int_equal(xs_store_get_perms(s, "/", &got), 0);
    assert_int_equal(got.count, 1);
    assert_int_equal(got.entries[0].domid, 0);
    assert_int_equal(got.entries[0].access, XS_ACCESS_NONE);
    xs_perms_clear(&got);

    assert_int_equal(xs_store_mkdir(s, "/p"), 0);
    assert_int_equal(xs_store_set_perms(s, "/p", &set), 0);
    assert_int_equal(xs_store_write(s, "/p/child/leaf", "", 0), 0);
    assert_int_equal(xs_store_get_perms(s, "/p/child/leaf", &got), 0);  /* inherited */
    assert_int_equal(got.count, 2);
    assert_int_equal(got.entries[0].domid, 3);
    assert_int_equal(got.entries[1].domid, 4);
    assert_int_equal(got.entries[1].access, XS_ACCESS_READ);
    xs_perms_clear(&got);

    XsPerms empty = { 0, NULL };
    assert_int_equal(xs_store_set_perms(s, "/p", &empty), -EINVAL);
    assert_int_equal(xs_store_set_perms(s, "/nope", &set), -ENOENT);
    assert_int_equal(xs_store_get_perms(s, "/nope", &got), -ENOENT);
    xs_store_free(s);
}

static uint64_t generation_of(XsStore *s, const char *path)
{
    char *names;
    unsigned len;
    uint64_t gen;
    assert_int_equal(xs_store_directory(s, path, &names, &len, &gen), 0);
    free(names);
    return gen;
}

static void store_generation_tracks_changes(void **state)
{
    XsStore *s = xs_store_new();

    assert_int_equal(xs_store_write(s, "/a/b", "", 0), 0);
    uint64_t a0 = generation_of(s, "/a"), b0 = generation_of(s, "/a/b");
    assert_int_equal(xs_store_write(s, "/a/b", "x", 1), 0);
    assert_int_equal(generation_of(s, "/a"), a0);           /* value below: unchanged */
    assert_true(generation_of(s, "/a/b") > b0);
    assert_int_equal(xs_store_write(s, "/a/c", "", 0), 0);
    assert_true(generation_of(s, "/a") > a0);               /* new child: changed */
    xs_store_free(s);
}

/* ---- transactions ------------------------------------------------------------------ */

typedef struct Applied {
    unsigned count;
    char paths[8][32];
    XsChangeKind kinds[8];
} Applied;

static void record_applied(const XsChange *c, void *opaque)
{
    Applied *a = opaque;
    if (a->count < 8) {
        strncpy(a->paths[a->count], c->path, sizeof(a->paths[0]) - 1);
        a->kinds[a->count] = c->kind;
    }
    a->count++;
}

static void txn_is_isolated_until_commit(void **state)
{
    XsStore *live = xs_store_new();
    Applied applied = { 0 };
    const char *v;
    unsigned len;

    assert_int_equal(xs_store_write(live, "/t/old", "1", 1), 0);
    XsTxn *txn = xs_txn_begin(live, 42);
    assert_non_null(txn);
    assert_int_equal(xs_txn_id(txn), 42);
    assert_int_equal(xs_txn_write(txn, "/t/new", "2", 1), 0);
    assert_int_equal(xs_txn_rm(txn, "/t/old"), 0);
    assert_int_equal(xs_txn_mkdir(txn, "/t/dir"), 0);
    expect_node_value(xs_txn_store(txn), "/t/new", "2");
    assert_int_equal(xs_store_read(live, "/t/new", &v, &len), -ENOENT);
    expect_node_value(live, "/t/old", "1");

    assert_int_equal(xs_txn_mkdir(txn, "/t/dir"), 0);       /* exists: no change */
    assert_int_equal(xs_txn_rm(txn, "/t/gone"), 0);         /* missing: no change */
    assert_int_equal(xs_txn_commit(txn, live, record_applied, &applied), 0);
    expect_node_value(live, "/t/new", "2");
    assert_false(xs_store_exists(live, "/t/old"));
    assert_true(xs_store_exists(live, "/t/dir"));
    assert_int_equal(applied.count, 3);
    assert_string_equal(applied.paths[0], "/t/new");
    assert_int_equal(applied.kinds[1], XS_CHANGE_RM);
    assert_string_equal(applied.paths[1], "/t/old");
    xs_store_free(live);
}

static void txn_conflict_fails_with_eagain(void **state)
{
    XsStore *live = xs_store_new();
    Applied applied = { 0 };
    const char *v;
    unsigned len;

    assert_int_equal(xs_store_write(live, "/c/x", "0", 1), 0);
    XsTxn *txn = xs_txn_begin(live, 1);
    assert_int_equal(xs_store_read(xs_txn_store(txn), "/c/x", &v, &len), 0);
    assert_int_equal(xs_txn_write(txn, "/c/y", "1", 1), 0);
    assert_int_equal(xs_store_write(live, "/c/x", "changed", 7), 0);  /* read -> stale */
    assert_int_equal(xs_txn_commit(txn, live, record_applied, &applied), -EAGAIN);
    assert_int_equal(applied.count, 0);
    assert_false(xs_store_exists(live, "/c/y"));

    /* A node created behind a transaction's back where it looked for absence. */
    txn = xs_txn_begin(live, 2);
    assert_int_equal(xs_store_read(xs_txn_store(txn), "/c/z", &v, &len), -ENOENT);
    assert_int_equal(xs_store_write(live, "/c/z", "", 0), 0);
    assert_int_equal(xs_txn_commit(txn, live, NULL, NULL), -EAGAIN);

    /* A new sibling changes the parent's children, which a directory listing saw. */
    txn = xs_txn_begin(live, 3);
    char *names;
    uint64_t gen;
    assert_int_equal(xs_store_directory(xs_txn_store(txn), "/c", &names, &len, &gen), 0);
    free(names);
    assert_int_equal(xs_store_write(live, "/c/w", "", 0), 0);
    assert_int_equal(xs_txn_commit(txn, live, NULL, NULL), -EAGAIN);
    xs_store_free(live);
}

static void txn_unrelated_change_commits(void **state)
{
    XsStore *live = xs_store_new();

    assert_int_equal(xs_store_write(live, "/u/a", "0", 1), 0);
    assert_int_equal(xs_store_write(live, "/u/b", "0", 1), 0);
    XsTxn *txn = xs_txn_begin(live, 1);
    assert_int_equal(xs_txn_write(txn, "/u/a", "tx", 2), 0);
    assert_int_equal(xs_store_write(live, "/u/b", "other", 5), 0);  /* not looked at */
    assert_int_equal(xs_txn_commit(txn, live, NULL, NULL), 0);
    expect_node_value(live, "/u/a", "tx");
    expect_node_value(live, "/u/b", "other");
    xs_store_free(live);
}

static void txn_rm_then_recreate_commits(void **state)
{
    XsStore *live = xs_store_new();

    assert_int_equal(xs_store_write(live, "/r/sub/leaf", "old", 3), 0);
    XsTxn *txn = xs_txn_begin(live, 1);
    assert_int_equal(xs_txn_rm(txn, "/r/sub"), 0);
    assert_false(xs_store_exists(xs_txn_store(txn), "/r/sub/leaf"));
    assert_int_equal(xs_txn_write(txn, "/r/sub/leaf", "new", 3), 0);
    assert_int_equal(xs_txn_commit(txn, live, NULL, NULL), 0);
    expect_node_value(live, "/r/sub/leaf", "new");

    /* A removed subtree's nodes are watched too: a change below conflicts. */
    txn = xs_txn_begin(live, 2);
    assert_int_equal(xs_txn_rm(txn, "/r/sub"), 0);
    assert_int_equal(xs_store_write(live, "/r/sub/leaf", "racing", 6), 0);
    assert_int_equal(xs_txn_commit(txn, live, NULL, NULL), -EAGAIN);
    expect_node_value(live, "/r/sub/leaf", "racing");
    xs_store_free(live);
}

static void txn_abort_and_errors(void **state)
{
    XsStore *live = xs_store_new();
    XsPerm e[] = { { 2, XS_ACCESS_READ } };
    XsPerms perms = { 1, e }, got;

    XsTxn *txn = xs_txn_begin(live, 1);
    assert_int_equal(xs_txn_rm(txn, "/no/parent"), -ENOENT);
    assert_int_equal(xs_txn_set_perms(txn, "/none", &perms), -ENOENT);
    assert_int_equal(xs_txn_write(txn, "/k", "v", 1), 0);
    assert_int_equal(xs_txn_set_perms(txn, "/k", &perms), 0);
    xs_txn_abort(txn);
    assert_false(xs_store_exists(live, "/k"));
    xs_txn_abort(NULL);

    txn = xs_txn_begin(live, 2);
    assert_int_equal(xs_txn_write(txn, "/k", "v", 1), 0);
    assert_int_equal(xs_txn_set_perms(txn, "/k", &perms), 0);
    assert_int_equal(xs_txn_commit(txn, live, NULL, NULL), 0);
    assert_int_equal(xs_store_get_perms(live, "/k", &got), 0);
    assert_int_equal(got.entries[0].domid, 2);
    xs_perms_clear(&got);
    xs_store_free(live);
}

/* ---- wire framing ------------------------------------------------------------------ */

static size_t make_msg(char *buf, uint32_t type, uint32_t req_id, const char *payload,
                       uint32_t len)
{
    struct xsd_sockmsg hdr = { .type = type, .req_id = req_id, .len = len };
    memcpy(buf, &hdr, sizeof(hdr));
    memcpy(buf + sizeof(hdr), payload, len);
    return sizeof(hdr) + len;
}

static void reader_assembles_byte_by_byte(void **state)
{
    static XsMsgReader r;
    char buf[64];
    size_t n = make_msg(buf, XS_READ, 7, "/a\0", 3), used;
    int done = 0;

    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < n; i++) {
        done = xs_reader_feed(&r, buf + i, 1, &used);
        assert_int_equal(used, 1);
        assert_int_equal(done, i + 1 == n);
    }
    assert_int_equal(r.hdr.type, XS_READ);
    assert_int_equal(r.hdr.req_id, 7);
    assert_string_equal(r.body, "/a");
}

static void reader_splits_back_to_back_messages(void **state)
{
    static XsMsgReader r;
    char buf[128];
    size_t n = make_msg(buf, XS_READ, 1, "/x", 3), used;
    n += make_msg(buf + n, XS_TRANSACTION_START, 2, "", 0);
    n += make_msg(buf + n, XS_WRITE, 3, "/y\0zz", 5);

    memset(&r, 0, sizeof(r));
    size_t off = 0;
    assert_int_equal(xs_reader_feed(&r, buf, n, &used), 1);
    assert_int_equal(r.hdr.req_id, 1);
    off += used;
    assert_int_equal(xs_reader_feed(&r, buf + off, n - off, &used), 1);
    assert_int_equal(r.hdr.req_id, 2);
    assert_int_equal(r.hdr.len, 0);
    off += used;
    assert_int_equal(xs_reader_feed(&r, buf + off, n - off, &used), 1);
    assert_int_equal(r.hdr.req_id, 3);
    assert_memory_equal(r.body, "/y\0zz", 5);
    assert_int_equal(r.body[5], '\0');
    assert_int_equal(off + used, n);
}

static void reader_rejects_overlong_payload(void **state)
{
    static XsMsgReader r;
    struct xsd_sockmsg hdr = { .type = XS_WRITE, .len = XENSTORE_PAYLOAD_MAX + 1 };
    size_t used;

    memset(&r, 0, sizeof(r));
    assert_int_equal(xs_reader_feed(&r, (char *)&hdr, sizeof(hdr), &used), -E2BIG);
    hdr.len = 0xffffffffu;
    memset(&r, 0, sizeof(r));
    assert_int_equal(xs_reader_feed(&r, (char *)&hdr, sizeof(hdr), &used), -E2BIG);
}

static void payload_split_checks_nuls(void **state)
{
    const char *args[3];

    assert_int_equal(xs_payload_split("", 0, args, 3), 0);
    assert_int_equal(xs_payload_split("a\0bc\0", 5, args, 3), 2);
    assert_string_equal(args[1], "bc");
    assert_int_equal(xs_payload_split("\0", 1, args, 3), 1);
    assert_string_equal(args[0], "");
    assert_int_equal(xs_payload_split("abc", 3, args, 3), -EINVAL);   /* no NUL */
    assert_int_equal(xs_payload_split("a\0b\0c\0d\0", 8, args, 3), -EINVAL); /* too many */
}

static void errno_names(void **state)
{
    assert_string_equal(xs_errno_name(ENOENT), "ENOENT");
    assert_string_equal(xs_errno_name(EAGAIN), "EAGAIN");
    assert_string_equal(xs_errno_name(ENOSYS), "ENOSYS");
    assert_string_equal(xs_errno_name(ETIMEDOUT), "EINVAL");
}

static void out_queue_and_flush(void **state)
{
    XsOutBuf out = { 0 };
    int sv[2];
    char buf[256];
    struct xsd_sockmsg hdr;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(xs_out_msg(&out, XS_READ, 5, 9, "val", 3), 0);
    assert_int_equal(xs_out_error(&out, 6, 0, ENOENT), 0);
    assert_int_equal(xs_out_msg(&out, XS_READ, 1, 0, buf, XENSTORE_PAYLOAD_MAX + 1), -E2BIG);
    assert_int_equal(xs_out_pending(&out), 2 * sizeof(hdr) + 3 + 7);
    assert_int_equal(xs_out_flush(&out, sv[0]), 0);
    assert_int_equal(xs_out_pending(&out), 0);

    assert_int_equal(read(sv[1], buf, sizeof(buf)), 2 * sizeof(hdr) + 3 + 7);
    memcpy(&hdr, buf, sizeof(hdr));
    assert_int_equal(hdr.type, XS_READ);
    assert_int_equal(hdr.req_id, 5);
    assert_int_equal(hdr.tx_id, 9);
    assert_int_equal(hdr.len, 3);
    memcpy(&hdr, buf + sizeof(hdr) + 3, sizeof(hdr));
    assert_int_equal(hdr.type, XS_ERROR);
    assert_int_equal(hdr.req_id, 6);
    assert_string_equal(buf + 2 * sizeof(hdr) + 3, "ENOENT");

    close(sv[1]);                                   /* peer gone: flush fails */
    assert_int_equal(xs_out_msg(&out, XS_READ, 1, 0, "x", 1), 0);
    assert_true(xs_out_flush(&out, sv[0]) < 0);
    close(sv[0]);
    xs_out_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(path_canonical_accepts_and_rejects),
        cmocka_unit_test(path_child_relation),
        cmocka_unit_test(domid_parsing),
        cmocka_unit_test(perm_strings_round_trip),
        cmocka_unit_test(perms_access_rule),
        cmocka_unit_test(store_write_read_creates_parents),
        cmocka_unit_test(store_mkdir_keeps_values),
        cmocka_unit_test(store_directory_lists_in_creation_order),
        cmocka_unit_test(store_rm_rules),
        cmocka_unit_test(store_perms_inherit_and_replace),
        cmocka_unit_test(store_generation_tracks_changes),
        cmocka_unit_test(txn_is_isolated_until_commit),
        cmocka_unit_test(txn_conflict_fails_with_eagain),
        cmocka_unit_test(txn_unrelated_change_commits),
        cmocka_unit_test(txn_rm_then_recreate_commits),
        cmocka_unit_test(txn_abort_and_errors),
        cmocka_unit_test(reader_assembles_byte_by_byte),
        cmocka_unit_test(reader_splits_back_to_back_messages),
        cmocka_unit_test(reader_rejects_overlong_payload),
        cmocka_unit_test(payload_split_checks_nuls),
        cmocka_unit_test(errno_names),
        cmocka_unit_test(out_queue_and_flush),
    };
    return cmocka_run_group_tests_name("mockxen_xs_store", tests, NULL, NULL);
}
