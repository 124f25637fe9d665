/*
 * dm/control_protocol.c — the control socket's protocol (see dm/control.c), apart from
 * the socket: a client's command line gathered from the bytes it sends, in whatever
 * pieces they come, and the reply to it. Nothing here blocks or touches a descriptor,
 * so the protocol can be driven with any bytes (tests/fuzz/fuzz_control.c).
 *
 * A line ends at its first newline, or where the client shuts down its side; what
 * follows the newline is ignored (one command per connection). A line of
 * DM_CONTROL_LINE_MAX - 1 bytes without a newline is too long. A NUL in the line ends
 * the command the way the newline does: the command is what comes before it.
 */
#include "dm/dm.h"

#include <string.h>

#include "util/log.h"

bool dm_control_take(DmControlLine *line, const char *bytes, size_t n)
{
    if (line->state != DM_CONTROL_LINE_OPEN)
        return true;
    if (n == 0) {
        line->state = DM_CONTROL_LINE_DONE;     /* the client shut down its side */
        return true;
    }
    size_t room = sizeof(line->text) - 1 - line->len;
    size_t take = n < room ? n : room;
    char *start = line->text + line->len;
    memcpy(start, bytes, take);
    line->len += take;
    line->text[line->len] = '\0';
    char *nl = memchr(start, '\n', take);
    if (nl) {
        *nl = '\0';
        line->state = DM_CONTROL_LINE_DONE;
    } else if (line->len == sizeof(line->text) - 1) {
        line->state = DM_CONTROL_LINE_TOO_LONG;
    }
    return line->state != DM_CONTROL_LINE_OPEN;
}

static void reply_help(FILE *out)
{
    fputs("help      this list\n"
          "stats     counters, one \"name value\" per line (as --stats)\n"
          "mtree     the memory and I/O region trees\n"
          "flatview  the flat views of both address spaces\n"
          "stop      shut xendm down, undoing its start-up\n", out);
}

/* Write the reply to cmd into out. */
static void run_command(Dm *dm, const char *cmd, FILE *out)
{
    if (strcmp(cmd, "help") == 0) {
        reply_help(out);
    } else if (strcmp(cmd, "stats") == 0) {
        dm_print_stats(dm, out);
    } else if (strcmp(cmd, "mtree") == 0 && dm->as_ready) {
        mtree_print(out, &dm->as_mem);
        mtree_print(out, &dm->as_io);
    } else if (strcmp(cmd, "flatview") == 0 && dm->as_ready) {
        mtree_print_flatview(out, &dm->as_mem);
        mtree_print_flatview(out, &dm->as_io);
    } else if (strcmp(cmd, "stop") == 0) {
        log_info("control socket: stop");
        dm->stop = true;
        fputs("stopping\n", out);
    } else {
        fprintf(out, "error: unknown command '%.64s' (try 'help')\n", cmd);
    }
}

void dm_control_reply(Dm *dm, const DmControlLine *line, FILE *out)
{
    if (line->state == DM_CONTROL_LINE_TOO_LONG)
        fprintf(out, "error: command longer than %d bytes\n", DM_CONTROL_LINE_MAX - 1);
    else
        run_command(dm, line->text, out);
}
