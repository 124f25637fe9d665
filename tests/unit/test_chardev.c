/* Unit tests for devices/chardev.c: every backend, pulled input, EOF, socket clients
 * coming and going, non-blocking output, and spec errors. */
#include "tests/unit/support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/chardev.h"

/* A receiver with a settable amount of room that records what it got. */
typedef struct Sink {
    size_t room;
    char got[256];
    size_t len;
} Sink;

static size_t sink_can_receive(void *opaque)
{
    return ((Sink *)opaque)->room;
}

static void sink_receive(void *opaque, const uint8_t *buf, size_t len)
{
    Sink *s = opaque;
    assert_true(len <= s->room);
    memcpy(s->got + s->len, buf, len);
    s->len += len;
}

static void attach(Chardev *chr, Sink *s)
{
    ChardevReceiver rx = { sink_can_receive, sink_receive, s };
    chardev_set_receiver(chr, &rx);
}

static char *temp_path(const char *leaf)
{
    static char buf[4][128];
    static unsigned n;
    char *p = buf[n++ % 4];
    snprintf(p, sizeof(buf[0]), "/tmp/xendm-chardev-%d-%s", (int)getpid(), leaf);
    return p;
}

static void null_backend_discards(void **state)
{
    Chardev *chr = chardev_open("null", NULL);
    assert_non_null(chr);
    chardev_write(chr, (const uint8_t *)"abc", 3);
    assert_int_equal(chardev_dropped_bytes(chr), 3);
    Sink s = { .room = 16 };
    attach(chr, &s);
    assert_int_equal(chardev_poll_fd(chr), -1);
    assert_int_equal(chardev_handle_readable(chr, NULL), 0);
    chardev_close(chr);
}

static void stdio_backend_uses_fds_0_and_1(void **state)
{
    Chardev *chr = chardev_open("stdout", NULL);
    Sink s = { .room = 1 };
    attach(chr, &s);
    assert_int_equal(chardev_poll_fd(chr), -1);             /* output only */
    chardev_close(chr);
    chr = chardev_open("stdio", NULL);
    assert_non_null(chr);
    attach(chr, &s);
    assert_int_equal(chardev_poll_fd(chr), STDIN_FILENO);
    int in_flags = fcntl(STDIN_FILENO, F_GETFD);
    chardev_close(chr);                                     /* must not close fd 0/1 */
    assert_int_equal(fcntl(STDIN_FILENO, F_GETFD), in_flags);
    assert_true(fcntl(STDOUT_FILENO, F_GETFD) >= 0);
}

static void file_backend_writes_and_reads(void **state)
{
    char *out = temp_path("out"), *in = temp_path("in");
    FILE *fp = fopen(in, "w");
    fputs("hello", fp);
    fclose(fp);
    fp = fopen(out, "w");
    fputs("old content", fp);
    fclose(fp);
    char spec[300];
    snprintf(spec, sizeof(spec), "file:%s:%s", out, in);
    Chardev *chr = chardev_open(spec, NULL);
    assert_non_null(chr);
    chardev_write(chr, (const uint8_t *)"xyz", 3);
    Sink s = { .room = 3 };
    attach(chr, &s);
    assert_true(chardev_poll_fd(chr) >= 0);
    assert_int_equal(chardev_handle_readable(chr, NULL), 3);
    s.room = 0;
    assert_int_equal(chardev_poll_fd(chr), -1);             /* receiver full */
    s.room = 10;
    assert_int_equal(chardev_handle_readable(chr, NULL), 2);
    assert_int_equal(chardev_handle_readable(chr, NULL), 0); /* EOF */
    assert_int_equal(chardev_poll_fd(chr), -1);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.got, "hello", 5);
    chardev_close(chr);
    char buf[32] = { 0 };
    fp = fopen(out, "r");
    assert_non_null(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    assert_string_equal(buf, "xyz");                        /* truncated, then written */
    unlink(out);
    unlink(in);
}

static void bad_specs_are_refused_with_messages(void **state)
{
    static const struct { const char *spec, *msg; } bad[] = {
        { "bogus", "unknown backend" },
        { "file:", "needs file:OUT" },
        { "file:/tmp/x:", "needs file:OUT" },
        { "file:/nonexistent-dir/out", "cannot open '/nonexistent-dir/out'" },
        { "unix:", "empty or longer" },
        { "unix:/nonexistent-dir/sock", "cannot listen on" },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        Error *err = NULL;
        assert_null(chardev_open(bad[i].spec, &err));
        assert_non_null(err);
        if (!strstr(error_get_pretty(err), bad[i].msg))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].spec, error_get_pretty(err),
                     bad[i].msg);
        error_free(err);
    }
    char spec[200] = "unix:/tmp/";
    memset(spec + 10, 'a', 150);
    assert_null(chardev_open(spec, NULL));
}

static int connect_to(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void unix_backend_serves_one_client_at_a_time(void **state)
{
    char *path = temp_path("sock");
    char spec[200];
    snprintf(spec, sizeof(spec), "unix:%s", path);
    Chardev *chr = chardev_open(spec, NULL);
    assert_non_null(chr);
    Sink s = { .room = 16 };
    attach(chr, &s);
    int listen_fd = chardev_poll_fd(chr);
    assert_true(listen_fd >= 0);
    chardev_write(chr, (const uint8_t *)"lost", 4);         /* nobody connected */
    assert_int_equal(chardev_dropped_bytes(chr), 4);

    int client = connect_to(path);
    assert_int_equal(chardev_handle_readable(chr, NULL), 0); /* accept */
    assert_int_not_equal(chardev_poll_fd(chr), listen_fd);
    chardev_write(chr, (const uint8_t *)"ok", 2);
    char buf[8] = { 0 };
    assert_int_equal(read(client, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "ok");
    assert_int_equal(write(client, "in", 2), 2);
    assert_int_equal(chardev_handle_readable(chr, NULL), 2);
    assert_memory_equal(s.got, "in", 2);

    close(client);                                          /* hang-up: listen again */
    assert_int_equal(chardev_handle_readable(chr, NULL), 0);
    assert_int_equal(chardev_poll_fd(chr), listen_fd);
    client = connect_to(path);
    assert_int_equal(chardev_handle_readable(chr, NULL), 0);
    chardev_write(chr, (const uint8_t *)"again", 5);
    assert_int_equal(read(client, buf, sizeof(buf)), 5);
    close(client);
    chardev_close(chr);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);                  /* socket file removed */
}

static void unix_output_never_blocks(void **state)
{
    char *path = temp_path("slow");
    char spec[200];
    snprintf(spec, sizeof(spec), "unix:%s", path);
    Chardev *chr = chardev_open(spec, NULL);
    int client = connect_to(path);
    assert_int_equal(chardev_handle_readable(chr, NULL), 0);
    static uint8_t chunk[65536];
    for (int i = 0; i < 64; i++)                            /* 4 MiB, never read */
        chardev_write(chr, chunk, sizeof(chunk));
    assert_true(chardev_dropped_bytes(chr) > 0);
    close(client);
    chardev_write(chr, chunk, 16);                          /* peer gone: dropped, no signal */
    chardev_close(chr);
}

static void stale_socket_file_is_replaced(void **state)
{
    char *path = temp_path("stale");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);                                              /* leaves the socket file */
    char spec[200];
    snprintf(spec, sizeof(spec), "unix:%s", path);
    Chardev *chr = chardev_open(spec, NULL);
    assert_non_null(chr);
    chardev_close(chr);
    FILE *fp = fopen(path, "w");                            /* a regular file is kept */
    fclose(fp);
    assert_null(chardev_open(spec, NULL));
    unlink(path);
}

static void from_fds_polls_only_with_room(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    Chardev *chr = chardev_from_fds(sv[0], sv[0], true, NULL);
    Sink s = { .room = 0 };
    assert_int_equal(chardev_poll_fd(chr), -1);             /* no receiver yet */
    attach(chr, &s);
    assert_int_equal(chardev_poll_fd(chr), -1);
    s.room = 4;
    assert_int_equal(chardev_poll_fd(chr), sv[0]);
    assert_int_equal(chardev_handle_readable(chr, NULL), 0); /* nothing there: EAGAIN */
    chardev_set_receiver(chr, NULL);
    assert_int_equal(chardev_poll_fd(chr), -1);
    chardev_close(chr);                                     /* closes sv[0] once */
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(null_backend_discards),
        cmocka_unit_test(stdio_backend_uses_fds_0_and_1),
        cmocka_unit_test(file_backend_writes_and_reads),
        cmocka_unit_test(bad_specs_are_refused_with_messages),
        cmocka_unit_test(unix_backend_serves_one_client_at_a_time),
        cmocka_unit_test(unix_output_never_blocks),
        cmocka_unit_test(stale_socket_file_is_replaced),
        cmocka_unit_test(from_fds_polls_only_with_room),
    };
    return cmocka_run_group_tests_name("chardev", tests, NULL, NULL);
}
