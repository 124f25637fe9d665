/*
 * xs-serve — run mockxen's xenstore server alone, for tests and for poking at it with
 * xenstore-utils:
 *
 *     xs-serve [-d DOMID[:NAME]]... [-w PATH=VALUE:TIMEOUT_MS] SOCKET
 *
 * Serves SOCKET (XENSTORED_PATH for clients) after creating each domain's nodes (as
 * xs_server_add_domain() does), prints "ready" on stdout once clients may connect, and
 * stops on SIGTERM, SIGINT or, with -w, once PATH holds VALUE (exit 0) or TIMEOUT_MS
 * passed (exit 3). Exit 1 on a usage error, 2 if the server cannot start.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/mockxen/xs_server.h"

static void usage(void)
{
    fprintf(stderr, "usage: xs-serve [-d DOMID[:NAME]]... [-w PATH=VALUE:TIMEOUT_MS] "
                    "SOCKET\n");
    exit(1);
}

static void add_domain(XsServer *server, char *spec)
{
    char *name = strchr(spec, ':'), *end;
    Error *err = NULL;

    if (name)
        *name++ = '\0';
    unsigned long domid = strtoul(spec, &end, 10);
    if (*spec == '\0' || *end != '\0' || domid > 0xffff ||
        xs_server_add_domain(server, (unsigned)domid, name, &err) < 0) {
        fprintf(stderr, "xs-serve: -d %s: %s\n", spec, err ? error_get_pretty(err)
                                                           : "not a domid");
        error_free(err);
        xs_server_stop(server);
        exit(1);
    }
}

typedef struct WaitSpec {
    XsServer *server;
    char *path, *value;
    int timeout_ms;
    int result;
} WaitSpec;

/* "PATH=VALUE:TIMEOUT_MS" */
static bool parse_wait(char *arg, WaitSpec *w)
{
    char *eq = strchr(arg, '='), *colon = strrchr(arg, ':'), *end;

    if (!eq || !colon || colon < eq)
        return false;
    *eq = *colon = '\0';
    w->path = arg;
    w->value = eq + 1;
    w->timeout_ms = (int)strtol(colon + 1, &end, 10);
    return colon[1] != '\0' && *end == '\0' && w->timeout_ms >= 0;
}

static void *wait_thread(void *opaque)
{
    WaitSpec *w = opaque;
    Error *err = NULL;

    w->result = xs_server_wait_value(w->server, w->path, w->value, w->timeout_ms, &err);
    if (w->result < 0) {
        fprintf(stderr, "xs-serve: %s\n", error_get_pretty(err));
        error_free(err);
    }
    kill(getpid(), SIGTERM);
    return NULL;
}

int main(int argc, char **argv)
{
    WaitSpec wait = { 0 };
    char *domains[64];
    int ndomains = 0, opt, sig;
    XsServer *server;
    Error *err = NULL;
    sigset_t stop;
    pthread_t waiter;

    while ((opt = getopt(argc, argv, "d:w:")) != -1) {
        if (opt == 'd' && ndomains < 64)
            domains[ndomains++] = optarg;
        else if (opt != 'w' || !parse_wait(optarg, &wait))
            usage();
    }
    if (optind != argc - 1)
        usage();

    /* Block the stop signals before any thread starts, so only sigwait() sees them. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    if (xs_server_start(argv[optind], &server, &err) < 0) {
        fprintf(stderr, "xs-serve: %s\n", error_get_pretty(err));
        error_free(err);
        return 2;
    }
    for (int i = 0; i < ndomains; i++)
        add_domain(server, domains[i]);
    wait.server = server;
    if (wait.path && pthread_create(&waiter, NULL, wait_thread, &wait) != 0) {
        xs_server_stop(server);
        return 2;
    }
    printf("ready\n");
    fflush(stdout);
    sigwait(&stop, &sig);
    xs_server_stop(server);     /* wakes the waiter with -ESHUTDOWN if still waiting */
    if (wait.path) {
        pthread_join(waiter, NULL);
        return wait.result == 0 ? 0 : 3;
    }
    return 0;
}
