/* Unit tests for devices/chardev.c: every backend, pulled input, EOF, socket clients
 * coming and going, non-blocking output (a stdout pipe nobody reads, a queue flushed
 * when the reader catches up, a reader gone), and spec errors. */
#include "tests/unit/support.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/chardev.h"
#include "util/macros.h"

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
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
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

/* The output tests fail (SIGALRM) rather than hang if a write blocks. */
#define BLOCKED_WRITE_ALARM_S 10

/* Byte i of the test stream; a prime period shows reordering and loss. */
static uint8_t pattern(size_t i)
{
    return (uint8_t)(i % 251);
}

static void write_pattern(Chardev *chr, size_t *pos, size_t len)
{
    uint8_t buf[4096];
    while (len > 0) {
        size_t n = len < sizeof(buf) ? len : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(*pos + i);
        chardev_write(chr, buf, n);
        *pos += n;
        len -= n;
    }
}

/* Read what the pipe holds now, checking it continues the stream at *got. */
static void read_pattern(int fd, size_t *got)
{
    uint8_t buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++)
            assert_int_equal(buf[i], pattern(*got + (size_t)i));
        *got += (size_t)n;
    }
}

static bool fd_nonblocking(int fd)
{
    return fcntl(fd, F_GETFL) & O_NONBLOCK;
}

/* xendm's stdout is a pipe nobody reads: the guest's output must neither block nor
 * make the shared pipe non-blocking for the other writers; what does not fit in the
 * pipe and the queue is dropped, counted, and the rest comes out in order. */
static void stdout_pipe_nobody_reads_never_blocks(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    int saved = dup(STDOUT_FILENO);
    assert_int_equal(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
    alarm(BLOCKED_WRITE_ALARM_S);
    Chardev *chr = chardev_open("stdout", NULL);
    assert_non_null(chr);
    size_t put = 0, got = 0;
    write_pattern(chr, &put, 1u << 20);                    /* 1 MiB, never read */
    uint64_t dropped = chardev_dropped_bytes(chr);
    assert_true(dropped > 0 && dropped < put);
    assert_false(fd_nonblocking(STDOUT_FILENO));           /* the shared description */
    assert_false(fd_nonblocking(p[1]));
    int out = chardev_poll_out_fd(chr);
    assert_true(out >= 0 && out != STDOUT_FILENO);         /* our own, queued output */

    assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    read_pattern(p[0], &got);                              /* the reader wakes up */
    while (chardev_poll_out_fd(chr) >= 0) {
        assert_true(chardev_handle_writable(chr) > 0);
        size_t before = got;
        read_pattern(p[0], &got);
        assert_true(got > before);
    }
    assert_int_equal(got + dropped, put);                  /* everything not dropped */
    alarm(0);
    chardev_close(chr);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(p[0]);
    close(p[1]);
}

/* A pipe we own becomes non-blocking itself; a queue that fits loses nothing. */
static void queued_output_is_flushed_in_order(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 4096);
    alarm(BLOCKED_WRITE_ALARM_S);
    Chardev *chr = chardev_from_fds(-1, p[1], true, NULL);
    assert_true(fd_nonblocking(p[1]));
    size_t put = 0, got = 0;
    write_pattern(chr, &put, 40000);
    assert_int_equal(chardev_dropped_bytes(chr), 0);
    assert_int_equal(chardev_poll_out_fd(chr), p[1]);
    write_pattern(chr, &put, 1000);                        /* queued behind the rest */
    assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    for (int rounds = 0; chardev_poll_out_fd(chr) >= 0; rounds++) {
        assert_true(rounds < 1000);
        read_pattern(p[0], &got);
        chardev_handle_writable(chr);
    }
    read_pattern(p[0], &got);
    assert_int_equal(got, put);
    alarm(0);
    chardev_close(chr);                                     /* closes p[1] */
    close(p[0]);
}

/* The reader is gone: every byte is dropped and counted, nothing is raised. */
static void failed_output_is_counted(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    assert_int_equal(pipe(p), 0);
    Chardev *chr = chardev_from_fds(-1, p[1], true, NULL);
    close(p[0]);
    size_t put = 0;
    write_pattern(chr, &put, 100);
    assert_int_equal(chardev_dropped_bytes(chr), 100);
    assert_int_equal(chardev_poll_out_fd(chr), -1);
    chardev_close(chr);
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
        cmocka_unit_test(stdout_pipe_nobody_reads_never_blocks),
        cmocka_unit_test(queued_output_is_flushed_in_order),
        cmocka_unit_test(failed_output_is_counted),
    };
    return cmocka_run_group_tests_name("chardev", tests, NULL, NULL);
}
