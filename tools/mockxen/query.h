/*
 * tools/mockxen/query.h — the text commands of mockxen's control interface
 * (MX_OP_QUERY, `mockxen --query SOCKET COMMAND...`), so tests and people can look
 * inside a running daemon:
 *   counters | counters-all     calls per kind (all kinds, zeros included)
 *   status                      domid, vcpus, populated frames, crashed (and why), ...
 *   irqs                        "isa N high", "intx SSSS:BB:DD pin P high" for lines that
 *                               are high, and "msi-pending N" (MSIs not yet consumed)
 *   log-dirty on|off            switch log-dirty mode
 *   dirty FIRST NR              the dirty pfns among [FIRST, FIRST+NR), one per line
 *                               (read only; NR at most 2^20)
 * Answers are written to `out`; an unknown or malformed command is -EINVAL.
 */
#ifndef MOCKXEN_QUERY_H
#define MOCKXEN_QUERY_H

#include <stdio.h>

#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/stats.h"

int mx_query_answer(MxDomain *d, const MxStats *stats, const char *command, FILE *out,
                    Error **errp);

#endif
