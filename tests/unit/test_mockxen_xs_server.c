/*
 * Unit tests for mockxen's xenstore server: run it in-process on a temporary socket
 * and talk to it with Debian's real libxenstore (XENSTORED_PATH), with raw protocol
 * messages for what libxenstore never sends, and through the in-process API.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenstore.h>

#include "tools/mockxen/xs_server.h"
#include "tools/mockxen/xs_wire.h"

typedef struct Fixture {
    char dir[64];
    char path[128];
    XsServer *server;
    struct xs_handle *xs;
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    Error *err = NULL;

    strcpy(f->dir, "/tmp/xs-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/socket", f->dir);
    if (xs_server_start(f->path, &f->server, &err) < 0) {
        fprintf(stderr, "%s\n", error_get_pretty(err));
        error_free(err);
        return -1;
    }
    setenv("XENSTORED_PATH", f->path, 1);
    f->xs = xs_open(0);
    if (!f->xs)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    xs_close(f->xs);
    xs_server_stop(f->server);
    assert_int_equal(access(f->path, F_OK), -1);        /* socket unlinked */
    rmdir(f->dir);
    free(f);
    return 0;
}

static char *xread(struct xs_handle *xs, xs_transaction_t t, const char *path)
{
    unsigned len;
    return xs_read(xs, t, path, &len);
}

static void assert_read(struct xs_handle *xs, xs_transaction_t t, const char *path,
                        const char *want)
{
    char *v = xread(xs, t, path);
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

/* ---- nodes through libxenstore ----------------------------------------------------- */

static void libxenstore_read_write_mkdir_rm(void **state)
{
    Fixture *f = *state;

    assert_true(xs_write(f->xs, XBT_NULL, "/vm/a/b", "hello", 5));
    assert_read(f->xs, XBT_NULL, "/vm/a/b", "hello");
    assert_read(f->xs, XBT_NULL, "/vm/a", "");
    assert_null(xread(f->xs, XBT_NULL, "/vm/missing"));
    assert_int_equal(errno, ENOENT);

    assert_true(xs_mkdir(f->xs, XBT_NULL, "/vm/dir"));
    assert_true(xs_mkdir(f->xs, XBT_NULL, "/vm/dir"));            /* exists: fine */
    unsigned n;
    char **names = xs_directory(f->xs, XBT_NULL, "/vm", &n);
    assert_non_null(names);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "dir");
    free(names);

    assert_true(xs_rm(f->xs, XBT_NULL, "/vm/a"));
    assert_null(xread(f->xs, XBT_NULL, "/vm/a/b"));
    assert_true(xs_rm(f->xs, XBT_NULL, "/vm/a"));                 /* gone, parent ok */
    assert_false(xs_rm(f->xs, XBT_NULL, "/nothing/here"));
    assert_int_equal(errno, ENOENT);
    assert_false(xs_write(f->xs, XBT_NULL, "/bad//path", "x", 1));
    assert_int_equal(errno, EINVAL);

    /* Relative paths are relative to dom0's home, like xenstored's. */
    assert_true(xs_write(f->xs, XBT_NULL, "relnode", "r", 1));
    assert_read(f->xs, XBT_NULL, "/local/domain/0/relnode", "r");
    assert_read(f->xs, XBT_NULL, "/local/domain/0/name", "Domain-0");
}

static void libxenstore_permissions(void **state)
{
    Fixture *f = *state;
    struct xs_permissions set[] = { { .id = 5, .perms = XS_PERM_NONE },
                                    { .id = 7, .perms = XS_PERM_READ | XS_PERM_WRITE } };
    unsigned n;

    assert_true(xs_write(f->xs, XBT_NULL, "/perm/node", "", 0));
    struct xs_permissions *got = xs_get_permissions(f->xs, XBT_NULL, "/perm/node", &n);
    assert_non_null(got);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].id, 0);
    assert_int_equal(got[0].perms, XS_PERM_NONE);
    free(got);

    assert_true(xs_set_permissions(f->xs, XBT_NULL, "/perm/node", set, 2));
    got = xs_get_permissions(f->xs, XBT_NULL, "/perm/node", &n);
    assert_non_null(got);
    assert_int_equal(n, 2);
    assert_int_equal(got[0].id, 5);
    assert_int_equal(got[1].id, 7);
    assert_int_equal(got[1].perms, XS_PERM_READ | XS_PERM_WRITE);
    free(got);
    assert_null(xs_get_permissions(f->xs, XBT_NULL, "/perm/none", &n));
    assert_int_equal(errno, ENOENT);
}

static void libxenstore_long_directory_uses_parts(void **state)
{
    Fixture *f = *state;
    char path[64];
    unsigned n;

    /* 400 names of 20 bytes: over one payload, so libxenstore gets E2BIG for
     * DIRECTORY and falls back to DIRECTORY_PART. */
    for (int i = 0; i < 400; i++) {
        snprintf(path, sizeof(path), "/big/child-number-%04d", i);
        assert_true(xs_write(f->xs, XBT_NULL, path, "", 0));
    }
    char **names = xs_directory(f->xs, XBT_NULL, "/big", &n);
    assert_non_null(names);
    assert_int_equal(n, 400);
    assert_string_equal(names[0], "child-number-0000");
    assert_string_equal(names[399], "child-number-0399");
    free(names);
}

static void libxenstore_domain_queries(void **state)
{
    Fixture *f = *state;
    char *p = xs_get_domain_path(f->xs, 12);

    assert_non_null(p);
    assert_string_equal(p, "/local/domain/12");
    free(p);
    assert_true(xs_is_domain_introduced(f->xs, 0));
    assert_false(xs_is_domain_introduced(f->xs, 12));
}

/* ---- watches ----------------------------------------------------------------------- */

/* The next watch event within timeout_ms, or NULL. */
static char **next_event(struct xs_handle *xs, int timeout_ms)
{
    struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
    char **ev = xs_check_watch(xs);

    if (ev || poll(&pfd, 1, timeout_ms) <= 0)
        return ev;
    return xs_check_watch(xs);
}

static void expect_event(struct xs_handle *xs, const char *path, const char *token)
{
    char **ev = next_event(xs, 5000);
    assert_non_null(ev);
    assert_string_equal(ev[XS_WATCH_PATH], path);
    assert_string_equal(ev[XS_WATCH_TOKEN], token);
    free(ev);
}

static void expect_no_event(struct xs_handle *xs)
{
    char **ev = xs_check_watch(xs);
    if (ev)
        fail_msg("unexpected watch event %s (token %s)", ev[0], ev[1]);
}

/*
 * INTRODUCE, RELEASE, RESUME and SET_TARGET as xenstored (4.17, xenstored_domain.c)
 * answers them: a domain the hypervisor does not have cannot be introduced (mapping
 * its xenstore page fails: EINVAL); RELEASE/RESUME want an introduced guest (ENOENT,
 * EINVAL for dom0); SET_TARGET wants both introduced; introducing a domain again
 * (dom0 always is) only rebinds its event channel, without an event.
 */
static void domain_requests_follow_xenstored(void **state)
{
    Fixture *f = *state;
    Error *err = NULL;

    assert_true(xs_watch(f->xs, "@introduceDomain", "in"));
    expect_event(f->xs, "@introduceDomain", "in");
    assert_true(xs_watch(f->xs, "@releaseDomain", "out"));
    expect_event(f->xs, "@releaseDomain", "out");

    assert_false(xs_introduce_domain(f->xs, 12, 0x1234, 3));  /* no such domain */
    assert_int_equal(errno, EINVAL);
    assert_false(xs_is_domain_introduced(f->xs, 12));
    assert_false(xs_resume_domain(f->xs, 12));
    assert_int_equal(errno, ENOENT);
    assert_false(xs_release_domain(f->xs, 12));
    assert_int_equal(errno, ENOENT);
    expect_no_event(f->xs);

    assert_int_equal(xs_server_add_domain(f->server, 12, "guest", &err), 0);
    expect_event(f->xs, "@introduceDomain", "in");
    assert_true(xs_introduce_domain(f->xs, 12, 0x1234, 3));   /* again: no event */
    assert_true(xs_introduce_domain(f->xs, 0, 1, 1));         /* dom0 always is */
    expect_no_event(f->xs);
    assert_false(xs_introduce_domain(f->xs, 12, 0x1234, 0));  /* port 0 */
    assert_int_equal(errno, EINVAL);

    assert_true(xs_set_target(f->xs, 12, 0));
    assert_false(xs_set_target(f->xs, 12, 13));
    assert_int_equal(errno, ENOENT);
    assert_false(xs_set_target(f->xs, 13, 12));
    assert_int_equal(errno, ENOENT);
    assert_true(xs_resume_domain(f->xs, 12));
    assert_false(xs_resume_domain(f->xs, 0));
    assert_int_equal(errno, EINVAL);
    assert_false(xs_release_domain(f->xs, 0));
    assert_int_equal(errno, EINVAL);

    assert_true(xs_release_domain(f->xs, 12));
    expect_event(f->xs, "@releaseDomain", "out");
    assert_false(xs_is_domain_introduced(f->xs, 12));
    assert_false(xs_release_domain(f->xs, 12));
    assert_int_equal(errno, ENOENT);
    assert_true(xs_introduce_domain(f->xs, 12, 0x1234, 3));   /* it still exists */
    expect_event(f->xs, "@introduceDomain", "in");
    assert_true(xs_is_domain_introduced(f->xs, 12));
    expect_no_event(f->xs);
}

/* A shutdown or crash fires @releaseDomain once, as xenstored's check_domains; RESUME
 * re-arms it; a domain not introduced fires nothing. */
static void shutdown_fires_release_domain_until_resume(void **state)
{
    Fixture *f = *state;
    Error *err = NULL;

    assert_int_equal(xs_server_add_domain(f->server, 5, "guest", &err), 0);
    assert_true(xs_watch(f->xs, "@releaseDomain", "out"));
    expect_event(f->xs, "@releaseDomain", "out");
    xs_server_domain_shut_down(f->server, 5);
    expect_event(f->xs, "@releaseDomain", "out");
    xs_server_domain_shut_down(f->server, 5);                /* noticed already */
    xs_server_domain_shut_down(f->server, 6);                /* not introduced */
    assert_true(xs_is_domain_introduced(f->xs, 5));          /* a round trip */
    expect_no_event(f->xs);
    assert_true(xs_resume_domain(f->xs, 5));
    xs_server_domain_shut_down(f->server, 5);
    expect_event(f->xs, "@releaseDomain", "out");
    expect_no_event(f->xs);
}

static void watch_initial_child_and_removal_events(void **state)
{
    Fixture *f = *state;

    assert_true(xs_watch(f->xs, "/w/sub", "tok"));
    expect_event(f->xs, "/w/sub", "tok");                   /* fired on registration */
    assert_true(xs_write(f->xs, XBT_NULL, "/w/sub/child", "1", 1));
    expect_event(f->xs, "/w/sub/child", "tok");             /* child changes fire */
    assert_true(xs_write(f->xs, XBT_NULL, "/w/other", "1", 1));
    expect_no_event(f->xs);                                 /* siblings do not */
    assert_true(xs_rm(f->xs, XBT_NULL, "/w"));
    expect_event(f->xs, "/w/sub", "tok");                   /* ancestor removed */
    assert_true(xs_rm(f->xs, XBT_NULL, "/w"));
    expect_no_event(f->xs);                                 /* nothing was removed */

    assert_false(xs_watch(f->xs, "/w/sub", "tok"));         /* duplicate */
    assert_int_equal(errno, EEXIST);
    assert_true(xs_unwatch(f->xs, "/w/sub", "tok"));
    assert_true(xs_write(f->xs, XBT_NULL, "/w/sub", "x", 1));
    expect_no_event(f->xs);
    assert_false(xs_unwatch(f->xs, "/w/sub", "tok"));
    assert_int_equal(errno, ENOENT);
}

static void watch_relative_and_special(void **state)
{
    Fixture *f = *state;
    Error *err = NULL;

    assert_true(xs_watch(f->xs, "device-model", "rel"));
    expect_event(f->xs, "device-model", "rel");
    assert_true(xs_write(f->xs, XBT_NULL, "/local/domain/0/device-model/3/state", "x", 1));
    expect_event(f->xs, "device-model/3/state", "rel");
    assert_true(xs_unwatch(f->xs, "device-model", "rel"));

    assert_true(xs_watch(f->xs, "@releaseDomain", "rd"));
    expect_event(f->xs, "@releaseDomain", "rd");
    assert_true(xs_watch(f->xs, "/local/domain/9", "dom"));
    expect_event(f->xs, "/local/domain/9", "dom");
    assert_int_equal(xs_server_add_domain(f->server, 9, "guest", &err), 0);
    expect_event(f->xs, "/local/domain/9", "dom");
    assert_int_equal(xs_server_remove_domain(f->server, 9, &err), 0);
    expect_event(f->xs, "/local/domain/9", "dom");
    expect_event(f->xs, "@releaseDomain", "rd");
    expect_no_event(f->xs);
    assert_false(xs_watch(f->xs, "@bad/special", "t"));
    assert_int_equal(errno, EINVAL);
}

static void watch_fires_for_in_process_writes(void **state)
{
    Fixture *f = *state;

    assert_true(xs_watch(f->xs, "/local/domain/0/device-model", "dm"));
    expect_event(f->xs, "/local/domain/0/device-model", "dm");
    assert_int_equal(xs_server_write(f->server, "/local/domain/0/device-model/1/state",
                                     "running", NULL), 0);
    expect_event(f->xs, "/local/domain/0/device-model/1/state", "dm");
    assert_int_equal(xs_server_rm(f->server, "/local/domain/0/device-model", NULL), 0);
    expect_event(f->xs, "/local/domain/0/device-model", "dm");
}

/* ---- transactions ------------------------------------------------------------------ */

static void transaction_commit_abort_and_conflict(void **state)
{
    Fixture *f = *state;
    struct xs_handle *other = xs_open(0);
    assert_non_null(other);

    assert_true(xs_write(f->xs, XBT_NULL, "/tx/a", "0", 1));
    xs_transaction_t t = xs_transaction_start(f->xs);
    assert_int_not_equal(t, XBT_NULL);
    assert_true(xs_write(f->xs, t, "/tx/b", "in-tx", 5));
    assert_read(f->xs, t, "/tx/b", "in-tx");
    assert_null(xread(other, XBT_NULL, "/tx/b"));           /* invisible outside */
    assert_true(xs_transaction_end(f->xs, t, false));       /* commit */
    assert_read(other, XBT_NULL, "/tx/b", "in-tx");

    t = xs_transaction_start(f->xs);
    assert_true(xs_rm(f->xs, t, "/tx/b"));
    assert_true(xs_transaction_end(f->xs, t, true));        /* abort */
    assert_read(other, XBT_NULL, "/tx/b", "in-tx");

    t = xs_transaction_start(f->xs);
    assert_read(f->xs, t, "/tx/a", "0");
    assert_true(xs_write(other, XBT_NULL, "/tx/a", "1", 1)); /* conflicting write */
    assert_true(xs_write(f->xs, t, "/tx/c", "x", 1));
    assert_false(xs_transaction_end(f->xs, t, false));
    assert_int_equal(errno, EAGAIN);
    assert_null(xread(other, XBT_NULL, "/tx/c"));
    assert_false(xs_transaction_end(f->xs, t, false));       /* it is gone */
    assert_int_equal(errno, ENOENT);

    /* Watches fire at commit, not before. */
    assert_true(xs_watch(other, "/tx/d", "d"));
    expect_event(other, "/tx/d", "d");
    t = xs_transaction_start(f->xs);
    assert_true(xs_write(f->xs, t, "/tx/d", "v", 1));
    assert_read(other, XBT_NULL, "/tx/a", "1");             /* a round trip */
    expect_no_event(other);
    assert_true(xs_transaction_end(f->xs, t, false));
    expect_event(other, "/tx/d", "d");
    xs_close(other);
}

/* ---- raw protocol: malformed and unusual requests ---------------------------------- */

static int raw_connect(const Fixture *f)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    strcpy(addr.sun_path, f->path);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

static void raw_send(int fd, uint32_t type, uint32_t tx_id, const void *payload,
                     uint32_t len)
{
    struct xsd_sockmsg hdr = { .type = type, .req_id = 77, .tx_id = tx_id, .len = len };
    assert_int_equal(write(fd, &hdr, sizeof(hdr)), sizeof(hdr));
    if (len)
        assert_int_equal(write(fd, payload, len), len);
}

/* Read one reply; returns its type and copies the payload (NUL-terminated). */
static uint32_t raw_reply(int fd, char *payload, size_t size)
{
    struct xsd_sockmsg hdr;
    assert_int_equal(recv(fd, &hdr, sizeof(hdr), MSG_WAITALL), sizeof(hdr));
    assert_int_equal(hdr.req_id, hdr.type == XS_WATCH_EVENT ? 0 : 77);
    assert_true(hdr.len < size);
    if (hdr.len)
        assert_int_equal(recv(fd, payload, hdr.len, MSG_WAITALL), hdr.len);
    payload[hdr.len] = '\0';
    return hdr.type;
}

static void expect_raw_error(int fd, const char *name)
{
    char buf[64];
    assert_int_equal(raw_reply(fd, buf, sizeof(buf)), XS_ERROR);
    assert_string_equal(buf, name);
}

static void raw_malformed_requests_get_errors(void **state)
{
    Fixture *f = *state;
    int fd = raw_connect(f);
    char buf[256];

    raw_send(fd, 999, 0, "x", 2);
    expect_raw_error(fd, "ENOSYS");                         /* unknown type */
    raw_send(fd, XS_WATCH_EVENT, 0, "/a\0t", 5);
    expect_raw_error(fd, "ENOSYS");                         /* server-to-client only */
    raw_send(fd, XS_SET_TARGET, 0, "1\0" "2", 4);
    expect_raw_error(fd, "ENOENT");                         /* neither is introduced */
    raw_send(fd, XS_SET_TARGET, 0, "1", 2);
    expect_raw_error(fd, "EINVAL");                         /* one domid only */
    raw_send(fd, XS_READ, 0, "/no-nul", 7);
    expect_raw_error(fd, "EINVAL");                         /* missing NUL */
    raw_send(fd, XS_READ, 0, "/a\0/b", 6);
    expect_raw_error(fd, "EINVAL");                         /* two paths */
    raw_send(fd, XS_READ, 0, NULL, 0);
    expect_raw_error(fd, "EINVAL");                         /* no path */
    raw_send(fd, XS_WRITE, 0, "/no-nul-at-all", 14);
    expect_raw_error(fd, "EINVAL");
    raw_send(fd, XS_READ, 4242, "/", 2);
    expect_raw_error(fd, "ENOENT");                         /* unknown transaction */
    raw_send(fd, XS_TRANSACTION_END, 0, "T", 2);
    expect_raw_error(fd, "ENOENT");                         /* END without one */
    raw_send(fd, XS_GET_DOMAIN_PATH, 0, "70000", 6);
    expect_raw_error(fd, "EINVAL");
    raw_send(fd, XS_SET_PERMS, 0, "/\0q1", 5);
    expect_raw_error(fd, "EINVAL");                         /* bad perm string */
    raw_send(fd, XS_DIRECTORY_PART, 0, "/\0" "1", 4);
    expect_raw_error(fd, "EINVAL");                         /* offset inside a name */
    raw_send(fd, XS_CONTROL, 0, "frobnicate", 11);
    expect_raw_error(fd, "EINVAL");

    raw_send(fd, XS_TRANSACTION_START, 0, "", 1);
    assert_int_equal(raw_reply(fd, buf, sizeof(buf)), XS_TRANSACTION_START);
    uint32_t tx = (uint32_t)strtoul(buf, NULL, 10);
    assert_true(tx != 0);
    raw_send(fd, XS_TRANSACTION_END, tx, "X", 2);
    expect_raw_error(fd, "EINVAL");                         /* neither T nor F */
    raw_send(fd, XS_TRANSACTION_START, tx, "", 1);
    expect_raw_error(fd, "EBUSY");                          /* nested */
    raw_send(fd, XS_RESET_WATCHES, 0, "", 1);               /* drops the transaction */
    assert_int_equal(raw_reply(fd, buf, sizeof(buf)), XS_RESET_WATCHES);
    assert_string_equal(buf, "OK");
    raw_send(fd, XS_TRANSACTION_END, tx, "F", 2);
    expect_raw_error(fd, "ENOENT");

    raw_send(fd, XS_DIRECTORY_PART, 0, "/local\0" "0", 9);
    assert_int_equal(raw_reply(fd, buf, sizeof(buf)), XS_DIRECTORY_PART);
    size_t genlen = strlen(buf) + 1;
    assert_memory_equal(buf + genlen, "domain\0\0", 8);     /* last part: extra NUL */
    raw_send(fd, XS_CONTROL, 0, "print\0hello", 12);
    assert_int_equal(raw_reply(fd, buf, sizeof(buf)), XS_CONTROL);
    close(fd);
}

static void raw_overlong_payload_closes_only_that_connection(void **state)
{
    Fixture *f = *state;
    int fd = raw_connect(f);
    struct xsd_sockmsg hdr = { .type = XS_WRITE, .req_id = 1,
                               .len = XENSTORE_PAYLOAD_MAX + 1 };
    char c;

    assert_int_equal(write(fd, &hdr, sizeof(hdr)), sizeof(hdr));
    assert_int_equal(recv(fd, &c, 1, 0), 0);                /* closed by the server */
    close(fd);

    /* A header cut short by the client going away is no problem either. */
    fd = raw_connect(f);
    assert_int_equal(write(fd, &hdr, 7), 7);
    close(fd);

    assert_true(xs_write(f->xs, XBT_NULL, "/still/alive", "yes", 3));
    assert_read(f->xs, XBT_NULL, "/still/alive", "yes");
}

static void raw_fuzzed_requests_never_crash(void **state)
{
    Fixture *f = *state;
    uint64_t rng = test_seed("raw_fuzzed_requests_never_crash");
    char payload[XENSTORE_PAYLOAD_MAX];

    for (int conn = 0; conn < 20; conn++) {
        int fd = raw_connect(f);
        for (int i = 0; i < 50; i++) {
            uint32_t type = (uint32_t)test_rand_below(&rng, XS_TYPE_COUNT + 2);
            uint32_t len = (uint32_t)test_rand_below(&rng, 64);
            for (uint32_t j = 0; j < len; j++) {
                static const char alphabet[] = "/ab0@\0TF-_";
                payload[j] = alphabet[test_rand_below(&rng, sizeof(alphabet) - 1)];
            }
            uint32_t tx = test_rand_below(&rng, 4) == 0 ? (uint32_t)test_rand(&rng) : 0;
            raw_send(fd, type, tx, payload, len);
        }
        close(fd);      /* replies unread: the server must cope */
    }
    assert_true(xs_write(f->xs, XBT_NULL, "/after/fuzz", "ok", 2));
    assert_read(f->xs, XBT_NULL, "/after/fuzz", "ok");
}

static void raw_per_connection_limits(void **state)
{
    Fixture *f = *state;
    int fd = raw_connect(f);
    char buf[256], watch[64];

    for (int i = 0; i < 64; i++) {          /* XS_MAX_TXNS_PER_CONN */
        raw_send(fd, XS_TRANSACTION_START, 0, "", 1);
        assert_int_equal(raw_reply(fd, buf, sizeof(buf)), XS_TRANSACTION_START);
    }
    raw_send(fd, XS_TRANSACTION_START, 0, "", 1);
    expect_raw_error(fd, "ENOSPC");

    for (int i = 0; i < 1024; i++) {        /* XS_MAX_WATCHES_PER_CONN */
        int n = snprintf(watch, sizeof(watch), "/limit/%d", i) + 1;
        memcpy(watch + n, "t", 2);
        raw_send(fd, XS_WATCH, 0, watch, (uint32_t)n + 2);
        assert_int_equal(raw_reply(fd, buf, sizeof(buf)), XS_WATCH);
        assert_int_equal(raw_reply(fd, buf, sizeof(buf)), XS_WATCH_EVENT);
    }
    raw_send(fd, XS_WATCH, 0, "/limit/x\0t", 11);
    expect_raw_error(fd, "E2BIG");
    close(fd);
}

static void client_that_stops_reading_is_disconnected(void **state)
{
    Fixture *f = *state;
    int fd = raw_connect(f);
    char token[2048], buf[4096];
    ssize_t n;

    /* Each event carries a 2 KiB token; nobody reads them. */
    memset(token, 'k', sizeof(token) - 1);
    token[sizeof(token) - 1] = '\0';
    memcpy(buf, "/flood", 7);
    memcpy(buf + 7, token, sizeof(token));
    raw_send(fd, XS_WATCH, 0, buf, 7 + sizeof(token));
    assert_int_equal(raw_reply(fd, buf, sizeof(buf)), XS_WATCH);     /* registered */
    for (int i = 0; i < 4000; i++)
        assert_int_equal(xs_server_write(f->server, "/flood/x", "v", NULL), 0);

    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    size_t total = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        total += (size_t)n;
    if (n < 0 && errno != ECONNRESET)       /* EOF or reset: the server hung up */
        fail_msg("expected the server to hang up, read failed: %s", strerror(errno));
    assert_true(total < 4000 * sizeof(token));
    close(fd);
    assert_true(xs_write(f->xs, XBT_NULL, "/flood/y", "ok", 2));    /* others fine */
}

/* ---- the in-process API ------------------------------------------------------------ */

static void api_read_write_rm(void **state)
{
    Fixture *f = *state;
    Error *err = NULL;

    assert_int_equal(xs_server_write(f->server, "/api/x", "1", &err), 0);
    char *v = xs_server_read(f->server, "/api/x");
    assert_non_null(v);
    assert_string_equal(v, "1");
    free(v);
    assert_read(f->xs, XBT_NULL, "/api/x", "1");
    assert_null(xs_server_read(f->server, "/api/none"));
    assert_int_equal(errno, ENOENT);
    assert_null(xs_server_read(f->server, "relative"));
    assert_int_equal(errno, EINVAL);

    assert_int_equal(xs_server_write(f->server, "/bad//x", "1", &err), -EINVAL);
    assert_string_equal(error_get_pretty(err), "invalid xenstore path '/bad//x'");
    error_free(err);
    err = NULL;
    assert_int_equal(xs_server_rm(f->server, "/api", &err), 0);
    assert_int_equal(xs_server_rm(f->server, "/api", &err), -ENOENT);
    assert_non_null(strstr(error_get_pretty(err), "'/api'"));
    error_free(err);
    assert_string_equal(xs_server_socket_path(f->server), f->path);
}

static void api_add_domain_nodes(void **state)
{
    Fixture *f = *state;
    Error *err = NULL;
    unsigned n;

    assert_int_equal(xs_server_add_domain(f->server, 4, "hvm4", &err), 0);
    assert_int_equal(xs_server_add_domain(f->server, 4, "hvm4", &err), 0);  /* again */
    assert_read(f->xs, XBT_NULL, "/local/domain/4/domid", "4");
    assert_read(f->xs, XBT_NULL, "/local/domain/4/name", "hvm4");
    assert_read(f->xs, XBT_NULL, "/local/domain/0/device-model/4", "");
    struct xs_permissions *p = xs_get_permissions(f->xs, XBT_NULL,
                                                  "/local/domain/0/device-model/4", &n);
    assert_non_null(p);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].id, 0);
    assert_int_equal(p[1].id, 4);
    assert_int_equal(p[1].perms, XS_PERM_READ);
    free(p);
    assert_true(xs_is_domain_introduced(f->xs, 4));

    assert_int_equal(xs_server_remove_domain(f->server, 4, &err), 0);
    assert_null(xread(f->xs, XBT_NULL, "/local/domain/4"));
    assert_null(xread(f->xs, XBT_NULL, "/local/domain/0/device-model/4"));
    assert_false(xs_is_domain_introduced(f->xs, 4));

    assert_int_equal(xs_server_add_domain(f->server, 0, NULL, &err), -EINVAL);
    error_free(err);
    err = NULL;
    assert_int_equal(xs_server_add_domain(f->server, 0x7ff0, NULL, &err), -EINVAL);
    error_free(err);
    err = NULL;
    assert_int_equal(xs_server_remove_domain(f->server, 0, &err), -EINVAL);
    error_free(err);
}

typedef struct Writer {
    struct xs_handle *xs;
    const char *path, *value;
} Writer;

static void *write_later(void *opaque)
{
    Writer *w = opaque;
    usleep(50 * 1000);
    xs_write(w->xs, XBT_NULL, w->path, "starting", 8);
    usleep(20 * 1000);
    xs_write(w->xs, XBT_NULL, w->path, w->value, (unsigned)strlen(w->value));
    return NULL;
}

static void api_wait_value(void **state)
{
    Fixture *f = *state;
    const char *state_path = "/local/domain/0/device-model/3/state";
    Error *err = NULL;
    pthread_t th;

    /* The device model (another client) announces itself while the daemon waits. */
    Writer w = { .xs = xs_open(0), .path = state_path, .value = "running" };
    assert_non_null(w.xs);
    assert_int_equal(pthread_create(&th, NULL, write_later, &w), 0);
    assert_int_equal(xs_server_wait_value(f->server, state_path, "running", 10000, &err), 0);
    pthread_join(th, NULL);
    xs_close(w.xs);

    assert_int_equal(xs_server_wait_value(f->server, state_path, "running", 0, &err), 0);
    assert_int_equal(xs_server_wait_value(f->server, state_path, "paused", 30, &err),
                     -ETIMEDOUT);
    assert_string_equal(error_get_pretty(err),
                        "xenstore node '/local/domain/0/device-model/3/state' did not "
                        "become 'paused' within 30 ms (it is 'running')");
    error_free(err);
    err = NULL;
    assert_int_equal(xs_server_wait_value(f->server, "/nope", "x", 1, &err), -ETIMEDOUT);
    assert_non_null(strstr(error_get_pretty(err), "(it is absent)"));
    error_free(err);
}

/* ---- start and stop ---------------------------------------------------------------- */

static void *wait_forever(void *opaque)
{
    static int result;
    result = xs_server_wait_value(opaque, "/never", "set", -1, NULL);
    return &result;
}

static void start_errors_and_stop_with_waiter(void **state)
{
    char dir[] = "/tmp/xs-start-XXXXXX", path[160], longpath[200];
    XsServer *server = NULL;
    Error *err = NULL;
    pthread_t th;
    void *result;

    assert_non_null(mkdtemp(dir));
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(xs_server_start(longpath, &server, &err), -ENAMETOOLONG);
    error_free(err);
    err = NULL;

    snprintf(path, sizeof(path), "%s/file", dir);
    FILE *fp = fopen(path, "w");
    fclose(fp);
    assert_int_equal(xs_server_start(path, &server, &err), -EEXIST);
    assert_non_null(strstr(error_get_pretty(err), "is not a socket"));
    error_free(err);
    err = NULL;
    unlink(path);

    snprintf(path, sizeof(path), "%s/sock", dir);
    assert_int_equal(xs_server_start(path, &server, &err), 0);
    xs_server_stop(server);
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);             /* leave a stale socket */
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strcpy(addr.sun_path, path);
    assert_int_equal(bind(stale, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(stale);
    assert_int_equal(xs_server_start(path, &server, &err), 0);  /* replaces it */

    assert_int_equal(pthread_create(&th, NULL, wait_forever, server), 0);
    usleep(50 * 1000);
    xs_server_stop(server);                                  /* wakes the waiter */
    pthread_join(th, &result);
    assert_int_equal(*(int *)result, -ESHUTDOWN);
    xs_server_stop(NULL);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(libxenstore_read_write_mkdir_rm, setup, teardown),
        cmocka_unit_test_setup_teardown(libxenstore_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(libxenstore_long_directory_uses_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(libxenstore_domain_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(watch_initial_child_and_removal_events, setup, teardown),
        cmocka_unit_test_setup_teardown(watch_relative_and_special, setup, teardown),
        cmocka_unit_test_setup_teardown(watch_fires_for_in_process_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(transaction_commit_abort_and_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_malformed_requests_get_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_overlong_payload_closes_only_that_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_fuzzed_requests_never_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_per_connection_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(client_that_stops_reading_is_disconnected, setup, teardown),
        cmocka_unit_test_setup_teardown(api_read_write_rm, setup, teardown),
        cmocka_unit_test_setup_teardown(api_add_domain_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(domain_requests_follow_xenstored, setup, teardown),
        cmocka_unit_test_setup_teardown(shutdown_fires_release_domain_until_resume, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(api_wait_value, setup, teardown),
        cmocka_unit_test(start_errors_and_stop_with_waiter),
    };
    return cmocka_run_group_tests_name("mockxen_xs_server", tests, NULL, NULL);
}
