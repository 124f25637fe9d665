/*
 * dm/main.c — xendm: parse options, start, serve, stop.
 */
#include "dm/dm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

int main(int argc, char **argv)
{
    static Dm dm;
    int ret = dm_parse_options(argc, argv, &dm.opts);
    if (ret != 0)
        return ret > 0 ? EXIT_SUCCESS : EXIT_FAILURE;

    Error *err = NULL;
    if (dm_start(&dm, &err) < 0) {
        fprintf(stderr, "xendm: cannot start: %s\n", error_get_pretty(err));
        error_free(err);
        return EXIT_FAILURE;
    }
    log_info("serving domain %u", dm.opts.domid);
    int status = EXIT_SUCCESS;
    if (dm_run(&dm, &err) < 0) {
        fprintf(stderr, "xendm: stopping: %s\n", error_get_pretty(err));
        error_free(err);
        status = EXIT_FAILURE;
    }
    dm_write_stats(&dm);
    dm_stop(&dm);
    return status;
}
