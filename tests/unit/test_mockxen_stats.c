/*
 * Unit tests for mockxen's counters and fault injection (stats.c), framed messages with
 * descriptors (wire.c) and the socket server (sockserver.c) spoken to directly.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/sockserver.h"
#include "tools/mockxen/stats.h"
#include "tools/mockxen/wire.h"
#include "util/macros.h"

static void kinds_are_named_and_found(void **state)
{
    enum MxKind k;
    assert_int_equal(mx_kind_lookup("xendevicemodel_modified_memory", &k), 0);
    assert_int_equal(k, MX_KIND_xendevicemodel_modified_memory);
    assert_int_equal(mx_kind_lookup("modified_memory", &k), 0);      /* short name */
    assert_int_equal(k, MX_KIND_xendevicemodel_modified_memory);
    assert_int_equal(mx_kind_lookup("guest_ioreq", &k), 0);
    assert_int_equal(mx_kind_lookup("nosuch_call", &k), -ENOENT);
    assert_int_equal(mx_kind_lookup("open", &k), -EINVAL);           /* ambiguous */
    assert_int_equal(mx_kind_lookup("restrict", &k), -EINVAL);
    assert_string_equal(mx_kind_name(MX_KIND_xenevtchn_notify), "xenevtchn_notify");
    assert_false(mx_kind_modelled(MX_KIND_xengnttab_grant_copy));
    assert_true(mx_kind_modelled(MX_KIND_xenevtchn_pending));
}

static void faults_are_parsed_and_applied(void **state)
{
    MxStats st;
    Error *err = NULL;
    assert_int_equal(mx_stats_create(&st, NULL), 0);
    assert_int_equal(mx_stats_arm_fail(&st, "create_ioreq_server:2:EIO", NULL), 0);
    assert_int_equal(mx_stats_arm_fail(&st, "xc_interface_open:1:12", NULL), 0);
    assert_int_equal(mx_stats_arm_fail(&st, "nosuch:1:EIO", &err), -ENOENT);
    assert_non_null(strstr(error_get_pretty(err), "unknown call kind 'nosuch'"));
    error_free(err);
    assert_int_equal(mx_stats_arm_fail(&st, "xc_interface_open:0:EIO", NULL), -EINVAL);
    assert_int_equal(mx_stats_arm_fail(&st, "xc_interface_open:1", NULL), -EINVAL);
    assert_int_equal(mx_stats_arm_fail(&st, "xc_interface_open:1:EWHAT", NULL), -EINVAL);
    assert_int_equal(mx_stats_arm_fail(&st, "nocolon", NULL), -EINVAL);
    assert_int_equal(mx_stats_arm_die(&st, "guest_ioreq:3", NULL), 0);
    assert_int_equal(mx_stats_arm_die(&st, "guest_ioreq:3:EIO", NULL), -EINVAL);
    assert_int_equal(mx_stats_arm_drop(&st, "2", NULL), 0);
    assert_int_equal(mx_stats_arm_drop(&st, "x", NULL), -EINVAL);
    assert_int_equal(st.page->kind[MX_KIND_guest_ioreq].die_at, 3);

    enum MxKind create = MX_KIND_xendevicemodel_create_ioreq_server;
    assert_int_equal(mx_stats_hit(st.page, create, 0), 0);
    assert_int_equal(mx_stats_hit(st.page, create, 0), EIO);
    assert_int_equal(mx_stats_hit(st.page, create, 0), 0);
    assert_int_equal(mx_stats_hit(st.page, MX_KIND_xc_interface_open, 0), ENOMEM);
    assert_int_equal(mx_stats_hit(st.page, MX_KIND_event_to_dm, 0), 0);
    assert_int_not_equal(mx_stats_hit(st.page, MX_KIND_event_to_dm, 0), 0);  /* dropped */
    assert_int_equal(mx_stats_count(&st, create), 3);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    mx_stats_print(&st, out, false);
    fclose(out);
    assert_non_null(strstr(text, "xendevicemodel_create_ioreq_server 3\n"));
    assert_null(strstr(text, "xenevtchn_notify"));
    free(text);
    mx_stats_destroy(&st);
}

static void wire_carries_descriptors(void **state)
{
    int sv[2], pipefd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(pipefd), 0);
    char head[4] = "abc", body[3000], got[sizeof(head) + sizeof(body)];
    memset(body, 'x', sizeof(body));
    assert_int_equal(mx_wire_send(sv[0], head, sizeof(head), body, sizeof(body), &pipefd[1], 1), 0);
    int fds[2];
    unsigned nfds;
    assert_int_equal(mx_wire_recv(sv[1], got, sizeof(got), fds, 2, &nfds), 0);
    assert_int_equal(nfds, 1);
    assert_memory_equal(got, head, sizeof(head));
    assert_int_equal(write(fds[0], "!", 1), 1);             /* the received copy works */
    char c;
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    assert_int_equal(c, '!');
    close(fds[0]);
    int too_many[MX_MSG_MAX_FDS + 1] = { 0 };
    assert_int_equal(mx_wire_send(sv[0], head, 1, NULL, 0, too_many, MX_MSG_MAX_FDS + 1), -EINVAL);
    close(sv[0]);
    assert_int_equal(mx_wire_recv(sv[1], got, 1, NULL, 0, NULL), -ECONNRESET);
    close(sv[1]);
    close(pipefd[0]);
    close(pipefd[1]);
}

typedef struct ServerFixture {
    MxStats stats;
    MxDomain *d;
    MxSockServer *srv;
    char path[64];
} ServerFixture;

static int server_setup(void **state)
{
    static ServerFixture f;
    MxDomainConfig cfg = { .domid = 2, .nr_vcpus = 1, .max_gfn = 0xff };
    snprintf(f.path, sizeof(f.path), "/tmp/mx-unit-%d.sock", (int)getpid());
    assert_int_equal(mx_stats_create(&f.stats, NULL), 0);
    f.d = mx_domain_create(&cfg, f.stats.page, NULL);
    assert_non_null(f.d);
    assert_int_equal(mx_sockserver_start(f.path, f.d, &f.stats, &f.srv, NULL), 0);
    *state = &f;
    return 0;
}

static int server_teardown(void **state)
{
    ServerFixture *f = *state;
    mx_sockserver_stop(f->srv);
    mx_domain_destroy(f->d);
    mx_stats_destroy(&f->stats);
    return 0;
}

static int connect_to(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

/* One request; returns the reply header, payload into out. */
static MxReplyHdr call(int fd, uint32_t op, const void *req, uint32_t len, void *out, size_t max)
{
    MxMsgHdr hdr = { .op = op, .len = len };
    MxReplyHdr rep;
    assert_int_equal(mx_wire_send(fd, &hdr, sizeof(hdr), req, len, NULL, 0), 0);
    int fds[MX_MSG_MAX_FDS];
    unsigned nfds;
    assert_int_equal(mx_wire_recv(fd, &rep, sizeof(rep), fds, MX_MSG_MAX_FDS, &nfds), 0);
    assert_int_equal(nfds, rep.nfds);
    for (unsigned i = 0; i < nfds; i++)
        close(fds[i]);
    assert_true(rep.len <= max);
    assert_int_equal(mx_wire_recv(fd, out, rep.len, NULL, 0, NULL), 0);
    return rep;
}

/* One-way messages get no reply, whether they succeed or fail; the next request's reply
 * is its own. */
static void server_takes_one_way_messages(void **state)
{
    ServerFixture *f = *state;
    int fd = connect_to(f->path);
    uint8_t buf[256];
    MxHello hello = { .version = 1, .library = "xendevicemodel" };   /* an older shim */
    MxReplyHdr rep = call(fd, MX_OP_HELLO, &hello, sizeof(hello), buf, sizeof(buf));
    assert_int_equal(rep.err, EPROTO);
    hello.version = MX_PROTO_VERSION;
    rep = call(fd, MX_OP_HELLO, &hello, sizeof(hello), buf, sizeof(buf));
    MxHelloReply hello_rep;
    memcpy(&hello_rep, buf, sizeof(hello_rep));
    assert_int_equal(hello_rep.domid, 2);                   /* the shim checks domids */
    uint64_t done = f->d->oneway_done;
    MxIrqReq irqs[] = {
        { .domid = 2, .kind = MX_IRQ_ISA, .line = 6, .level = 1 },
        { .domid = 2, .kind = MX_IRQ_ISA, .line = 99, .level = 1 },     /* refused */
        { .domid = 9, .kind = MX_IRQ_ISA, .line = 5, .level = 1 },      /* refused */
    };
    for (size_t i = 0; i < ARRAY_SIZE(irqs); i++) {          /* counted, then sent */
        __atomic_add_fetch(&f->stats.page->oneway_sent, 1, __ATOMIC_SEQ_CST);
        MxMsgHdr hdr = { .op = MX_OP_IRQ | MX_MSG_ONEWAY, .len = sizeof(irqs[i]) };
        assert_int_equal(mx_wire_send(fd, &hdr, sizeof(hdr), &irqs[i], sizeof(irqs[i]),
                                      NULL, 0), 0);
    }
    MxDomainReq dreq = { .domid = 2 };
    rep = call(fd, MX_OP_DOMAIN_INFO, &dreq, sizeof(dreq), buf, sizeof(buf));
    assert_int_equal(rep.ret, 1);
    assert_int_equal(rep.len, sizeof(MxDomainInfo));
    assert_int_equal(f->d->oneway_done, done + 3);
    assert_false(mx_oneway_behind(f->d));
    MxIrqMatch isa6 = { .kind = MX_IRQ_ISA, .line = 6 };
    MxIrqMatch isa5 = { .kind = MX_IRQ_ISA, .line = 5 };
    assert_int_equal(mx_irq_level(f->d, &isa6), 1);
    assert_int_equal(mx_irq_level(f->d, &isa5), 0);
    close(fd);
}

static void server_answers_requests(void **state)
{
    ServerFixture *f = *state;
    int fd = connect_to(f->path);
    uint8_t buf[256];
    MxHello hello = { .version = MX_PROTO_VERSION, .library = "xendevicemodel" };
    MxReplyHdr rep = call(fd, MX_OP_HELLO, &hello, sizeof(hello), buf, sizeof(buf));
    assert_int_equal(rep.ret, 0);
    assert_int_equal(rep.nfds, 1);                            /* the counter page */
    MxServerReq sreq = { .domid = 2 };
    rep = call(fd, MX_OP_SERVER_CREATE, &sreq, sizeof(sreq), buf, sizeof(buf));
    assert_int_equal(rep.ret, 0);
    sreq.domid = 9;
    rep = call(fd, MX_OP_SERVER_CREATE, &sreq, sizeof(sreq), buf, sizeof(buf));
    assert_int_equal(rep.ret, -1);
    assert_int_equal(rep.err, ESRCH);
    rep = call(fd, MX_OP_SERVER_CREATE, &sreq, 2, buf, sizeof(buf));    /* short request */
    assert_int_equal(rep.err, EINVAL);
    rep = call(fd, 999, NULL, 0, buf, sizeof(buf));
    assert_int_equal(rep.err, ENOSYS);
    MxDomainReq dreq = { .domid = 2 };
    rep = call(fd, MX_OP_GUEST_MEMORY, &dreq, sizeof(dreq), buf, sizeof(buf));
    assert_int_equal(rep.nfds, 2);
    rep = call(fd, MX_OP_RESTRICT, &dreq, sizeof(dreq), buf, sizeof(buf));
    assert_int_equal(rep.ret, 0);
    dreq.domid = 3;
    rep = call(fd, MX_OP_RESTRICT, &dreq, sizeof(dreq), buf, sizeof(buf));
    assert_int_equal(rep.err, EPERM);
    {                                                         /* oversized request */
        MxMsgHdr big = { .op = MX_OP_QUERY, .len = MX_MSG_MAX_PAYLOAD + 1 };
        assert_int_equal(mx_wire_send(fd, &big, sizeof(big), NULL, 0, NULL, 0), 0);
        assert_int_equal(mx_wire_recv(fd, buf, 1, NULL, 0, NULL), -ECONNRESET);  /* closed */
    }
    close(fd);

    char *answer = NULL;
    assert_int_equal(mx_query(f->path, "status", &answer, NULL), 0);
    assert_non_null(strstr(answer, "domid 2\n"));
    free(answer);
    assert_int_equal(mx_query(f->path, "counters-all", &answer, NULL), 0);
    assert_non_null(strstr(answer, "xengnttab_grant_copy 0 (ENOSYS)\n"));
    free(answer);
    MxIrqReq isa = { .kind = MX_IRQ_ISA, .line = 7, .level = 1 };
    assert_int_equal(mx_irq_set(f->d, &isa, NULL), 0);
    assert_int_equal(mx_query(f->path, "irqs", &answer, NULL), 0);
    assert_string_equal(answer, "isa 7 high\nmsi-pending 0\n");
    free(answer);
    assert_int_equal(mx_query(f->path, "log-dirty on", &answer, NULL), 0);
    free(answer);
    assert_int_equal(mx_domain_mark_dirty(f->d, 0x12, 2, NULL), 0);
    assert_int_equal(mx_query(f->path, "dirty 0x10 8", &answer, NULL), 0);
    assert_string_equal(answer, "0x12\n0x13\n");
    free(answer);
    Error *err = NULL;
    assert_int_equal(mx_query(f->path, "dirty 0x10", &answer, &err), -EINVAL);
    error_free(err);
    err = NULL;
    assert_int_equal(mx_query(f->path, "dirty 0 0x200000", &answer, &err), -EINVAL);
    error_free(err);
    assert_int_equal(mx_query(f->path, "log-dirty off", &answer, NULL), 0);
    free(answer);
    err = NULL;
    assert_int_equal(mx_query(f->path, "dirty 0x10 8", &answer, &err), -EINVAL);
    error_free(err);
    err = NULL;
    assert_int_equal(mx_query(f->path, "bogus", &answer, &err), -EINVAL);
    error_free(err);
    err = NULL;
    assert_int_equal(mx_query("/tmp/no-such-mockxen.sock", "status", &answer, &err), -ENOENT);
    error_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kinds_are_named_and_found),
        cmocka_unit_test(faults_are_parsed_and_applied),
        cmocka_unit_test(wire_carries_descriptors),
        cmocka_unit_test_setup_teardown(server_takes_one_way_messages, server_setup,
                                        server_teardown),
        cmocka_unit_test_setup_teardown(server_answers_requests, server_setup, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
