/*
 * tests/fuzz/fuzz_control.c — hostile clients of the control socket's protocol
 * (dm/control_protocol.c), without the socket.
 *
 * The input is what clients send, one after another. Its first byte says whether the
 * machine's address spaces exist (bit 0: mtree and flatview answer only then). Then
 * come pieces, each a length byte and its bytes: a length below 0x80 is one read of
 * that many bytes (past the end of the input: what is left), 0 is the client shutting
 * down its side; 0x80 and above, the client goes away and the next one connects. So
 * the bytes make partial lines, lines in many reads, overlong lines, several lines in
 * one read, NULs anywhere, and many clients.
 *
 * Checked besides the sanitizers: a reply comes exactly when the line is complete or
 * too long, it is not empty and ends with a newline, an overlong line gets the error,
 * and xendm is asked to stop exactly when the line is "stop".
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm/dm.h"
#include "tests/fuzz/fuzz.h"
#include "util/log.h"

#define RAM_BYTES 0x100000u

static Dm dm;

/* A Dm as far as the protocol sees it: counters, and address spaces with RAM and an
 * empty I/O space. */
static void setup(void)
{
    static bool ready;
    if (ready)
        return;
    log_set_level(LOG_SILENT);
    memory_region_init(&dm.system_memory, "/machine", "system", UINT64_MAX);
    memory_region_init(&dm.system_io, "/machine", "io", 0x10000);
    if (memory_region_init_ram(&dm.ram, "/machine", "ram", RAM_BYTES, NULL) < 0 ||
        memory_region_add_subregion(&dm.system_memory, 0, &dm.ram, NULL) < 0 ||
        address_space_init(&dm.as_mem, &dm.system_memory, "memory", NULL) < 0 ||
        address_space_init(&dm.as_io, &dm.system_io, "I/O", NULL) < 0)
        abort();
    ready = true;
}

static void fail(const char *what, const DmControlLine *line)
{
    fprintf(stderr, "fuzz_control: %s (line state %d, %zu bytes: '%.64s')\n", what,
            line->state, line->len, line->text);
    abort();
}

/* The line is complete or too long: reply, and check the reply. */
static void reply(const DmControlLine *line)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        abort();
    dm.stop = false;
    dm_control_reply(&dm, line, out);
    if (fclose(out) != 0)
        abort();
    bool is_stop = line->state == DM_CONTROL_LINE_DONE && strcmp(line->text, "stop") == 0;
    if (!len || text[len - 1] != '\n')
        fail("a reply that is empty or does not end with a newline", line);
    if (line->state == DM_CONTROL_LINE_TOO_LONG &&
        strncmp(text, "error: command longer than", 26) != 0)
        fail("an overlong line without its error", line);
    if (dm.stop != is_stop)
        fail(is_stop ? "stop did not stop" : "a stop without \"stop\"", line);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (!size)
        return 0;
    dm.as_ready = data[0] & 1;
    DmControlLine line = { 0 };
    bool replied = false;
    for (size_t at = 1; at < size;) {
        uint8_t op = data[at++];
        if (op >= 0x80) {                       /* a new client */
            line = (DmControlLine){ 0 };
            replied = false;
            continue;
        }
        size_t n = op < size - at ? op : size - at;
        bool was_open = line.state == DM_CONTROL_LINE_OPEN;
        bool done = dm_control_take(&line, (const char *)data + at, n);
        at += n;
        if (done != (line.state != DM_CONTROL_LINE_OPEN) || (!was_open && !done))
            fail("take's answer and the line's state disagree", &line);
        if (line.len >= DM_CONTROL_LINE_MAX || line.text[line.len] != '\0')
            fail("a line past its buffer or not terminated", &line);
        if (done && !replied) {                 /* the socket replies once, then closes */
            reply(&line);
            replied = true;
        }
    }
    return 0;
}
