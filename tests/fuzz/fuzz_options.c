/*
 * tests/fuzz/fuzz_options.c — hostile command lines for xendm (dm/options.c) and the
 * device specs they carry (devices/registry.c and each device type's options).
 *
 * The input, split at its NUL bytes, is argv after "xendm" (at most MAX_ARGS
 * arguments). dm_parse_options() parses it with stdout and stderr caught in memory;
 * then it parses a fresh copy again. When the command line is good, every --device
 * spec is created, in order, on a board like xendm's (RAM, port I/O, PCI), then all
 * are destroyed. What a spec would do to the host is kept out of reach: its file= is
 * a scratch image, and a chardev's file or socket path a scratch path (the shape of
 * the value stays: empty parts stay empty); everything else goes through as written.
 *
 * Checked besides the sanitizers: parsing is a function of argv (both parses agree on
 * the result, the options and every byte printed), a refused command line says why on
 * stderr, a command line that asks to exit at once (--help, --version,
 * --list-devices) prints something on stdout, and an accepted one has a domain.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm/dm.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/support.h"
#include "util/log.h"

#define MAX_ARGS 128

static FuzzBoard board;
static char scratch_dir[64], image_path[96], out_path[96], sock_path[96];

static void remove_scratch(void)
{
    unlink(image_path);
    unlink(out_path);
    unlink(sock_path);
    rmdir(scratch_dir);
}

static void setup(void)
{
    static bool ready;
    if (ready)
        return;
    log_set_level(LOG_SILENT);
    fuzz_board_init(&board, 1u << 20);
    snprintf(scratch_dir, sizeof(scratch_dir), "/tmp/xendm-fuzz-options-XXXXXX");
    if (!mkdtemp(scratch_dir))
        abort();
    snprintf(image_path, sizeof(image_path), "%s/disk.img", scratch_dir);
    snprintf(out_path, sizeof(out_path), "%s/out", scratch_dir);
    snprintf(sock_path, sizeof(sock_path), "%s/sock", scratch_dir);
    FILE *img = fopen(image_path, "w");
    if (!img || ftruncate(fileno(img), FUZZ_IMAGE_BYTES) < 0 || fclose(img) != 0)
        abort();
    atexit(remove_scratch);
    ready = true;
}

/* ---- the command line ------------------------------------------------------------- */

typedef struct CommandLine {
    int argc;
    char *argv[MAX_ARGS + 2];
    char *owned[MAX_ARGS + 1];      /* getopt_long permutes argv: free these */
} CommandLine;

static void command_line_build(CommandLine *cl, const uint8_t *data, size_t size)
{
    cl->argc = 0;
    cl->argv[cl->argc] = cl->owned[cl->argc] = strdup("xendm");
    cl->argc++;
    for (size_t at = 0; at < size && cl->argc <= MAX_ARGS;) {
        const uint8_t *nul = memchr(data + at, '\0', size - at);
        size_t len = nul ? (size_t)(nul - (data + at)) : size - at;
        cl->argv[cl->argc] = cl->owned[cl->argc] = strndup((const char *)data + at, len);
        cl->argc++;
        at += len + 1;
    }
    cl->argv[cl->argc] = NULL;
    for (int i = 0; i < cl->argc; i++)
        if (!cl->owned[i])
            abort();
}

static void command_line_free(CommandLine *cl)
{
    for (int i = 0; i < cl->argc; i++)
        free(cl->owned[i]);
}

/* One parse with stdout and stderr caught; the options point into cl. */
typedef struct Parse {
    int rc;
    DmOptions opts;
    char *out, *err;
    size_t out_len, err_len;
} Parse;

static void parse(CommandLine *cl, Parse *p)
{
    FILE *saved_out = stdout, *saved_err = stderr;
    stdout = open_memstream(&p->out, &p->out_len);
    stderr = open_memstream(&p->err, &p->err_len);
    if (!stdout || !stderr)
        abort();
    p->rc = dm_parse_options(cl->argc, cl->argv, &p->opts);
    if (fclose(stdout) != 0 || fclose(stderr) != 0)
        abort();
    stdout = saved_out;
    stderr = saved_err;
    log_set_level(LOG_SILENT);      /* --log must not outlive its input */
}

static void parse_free(Parse *p)
{
    free(p->out);
    free(p->err);
}

static bool same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_options(const DmOptions *a, const DmOptions *b)
{
    if (a->nr_devices != b->nr_devices)
        return false;
    for (unsigned i = 0; i < a->nr_devices; i++)
        if (!same_text(a->devices[i], b->devices[i]))
            return false;
    return a->domid == b->domid && a->have_domid == b->have_domid &&
           a->memory_mib == b->memory_mib && a->no_defaults == b->no_defaults &&
           a->legacy_ioreq_pages == b->legacy_ioreq_pages &&
           a->buffered_ioreqs == b->buffered_ioreqs && a->log_dirty == b->log_dirty &&
           a->mapcache_bucket == b->mapcache_bucket && a->mapcache_max == b->mapcache_max &&
           same_text(a->stats_file, b->stats_file) &&
           same_text(a->control_path, b->control_path) &&
           a->restrict_handles == b->restrict_handles &&
           same_text(a->chroot_dir, b->chroot_dir) && a->runas == b->runas &&
           (!a->runas || (a->runas_uid == b->runas_uid && a->runas_gid == b->runas_gid));
}

static bool same_parse(const Parse *a, const Parse *b)
{
    return a->rc == b->rc && (a->rc != 0 || same_options(&a->opts, &b->opts)) &&
           a->out_len == b->out_len && memcmp(a->out, b->out, a->out_len) == 0 &&
           a->err_len == b->err_len && memcmp(a->err, b->err, a->err_len) == 0;
}

static void check_parse(const Parse *p)
{
    const char *wrong = p->rc < 0 && !p->err_len ? "a refusal without a message"
                      : p->rc > 0 && !p->out_len ? "an early exit that printed nothing"
                      : p->rc == 0 && !p->opts.have_domid ? "accepted without --domid"
                      : p->rc > 1 ? "an unknown result" : NULL;
    if (wrong) {
        fprintf(stderr, "fuzz_options: %s (result %d)\n", wrong, p->rc);
        abort();
    }
}

/* ---- the devices ------------------------------------------------------------------ */

/* A chardev value with its host paths replaced by scratch ones. */
static void put_chardev(FILE *out, const char *value)
{
    if (strncmp(value, "file:", 5) == 0) {
        const char *in = strchr(value + 5, ':');
        fprintf(out, "file:%s", value[5] && value[5] != ':' ? out_path : "");
        if (in)
            fprintf(out, ":%s", in[1] ? "/dev/null" : "");
    } else if (strncmp(value, "unix:", 5) == 0) {
        fprintf(out, "unix:%s", value[5] ? sock_path : "");
    } else {
        fputs(value, out);
    }
}

/* spec with its host paths replaced (see the top), or NULL where it does not parse:
 * then it is only parsed. */
static char *safe_spec(const char *spec)
{
    DeviceOpts opts;
    Error *err = NULL;
    if (device_opts_parse(&opts, spec, &err) < 0) {
        error_free(err);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        abort();
    fputs(opts.type, out);
    for (unsigned i = 0; i < opts.count; i++) {
        const char *key = opts.opt[i].key, *value = opts.opt[i].value;
        fprintf(out, ",%s=", key);
        if (strcmp(key, "file") == 0)
            fputs(image_path, out);
        else if (strcmp(key, "chardev") == 0)
            put_chardev(out, value);
        else
            fputs(value, out);
    }
    device_opts_free(&opts);
    if (fclose(out) != 0)
        abort();
    return text;
}

static void create_devices(const DmOptions *o)
{
    Device *devs[DM_MAX_DEVICES] = { NULL };
    for (unsigned i = 0; i < o->nr_devices; i++) {
        char *spec = safe_spec(o->devices[i]);
        Error *err = NULL;
        if (spec)
            devs[i] = device_create(&board.board, spec, &err);
        error_free(err);
        free(spec);
    }
    device_work_run(&board.work);
    for (unsigned i = o->nr_devices; i-- > 0;)
        device_destroy(devs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    CommandLine first, second;
    Parse a = { 0 }, b = { 0 };
    command_line_build(&first, data, size);
    parse(&first, &a);
    command_line_build(&second, data, size);
    parse(&second, &b);
    check_parse(&a);
    if (!same_parse(&a, &b)) {
        fprintf(stderr, "fuzz_options: two parses of one command line differ (results %d "
                "and %d)\n", a.rc, b.rc);
        abort();
    }
    command_line_free(&first);
    if (b.rc == 0)
        create_devices(&b.opts);
    parse_free(&a);
    parse_free(&b);
    command_line_free(&second);
    return 0;
}
