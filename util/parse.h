/*
 * util/parse.h — numbers from command-line text.
 */
#ifndef XENDM_UTIL_PARSE_H
#define XENDM_UTIL_PARSE_H

#include <stdint.h>

#include "util/error.h"

/*
 * Parse all of `text` as an unsigned number no larger than `max`: decimal, 0x hex or
 * 0 octal (strtoull base 0). The text must start with a digit, so a sign, leading
 * blanks and the empty string are refused, as are trailing characters and overflow.
 * Returns 0 and sets *out, or -EINVAL with "invalid value '<text>' (expected 0..<max>)".
 */
int parse_u64(const char *text, uint64_t max, uint64_t *out, Error **errp);

#endif
