/*
 * util/parse.c — numbers from command-line text (parse.h).
 */
#include "util/parse.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

int parse_u64(const char *text, uint64_t max, uint64_t *out, Error **errp)
{
    char *end;
    errno = 0;
    /* strtoull would skip blanks and negate "-1" into a huge value: only digits start */
    unsigned long long v = isdigit((unsigned char)text[0]) ? strtoull(text, &end, 0) : 0;
    if (!isdigit((unsigned char)text[0]) || errno || *end || v > max) {
        error_setg(errp, "invalid value '%s' (expected 0..%" PRIu64 ")", text, max);
        return -EINVAL;
    }
    *out = v;
    return 0;
}
