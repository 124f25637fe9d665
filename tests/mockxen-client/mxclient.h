/*
 * tests/mockxen-client/mxclient.h — the pieces of the mockxen test client: call-group
 * checks (checks.c), the device-model roles (dm.c), and the CHECK helper that records
 * a failure with file:line and errno.
 */
#ifndef MXCLIENT_H
#define MXCLIENT_H

#include <stdint.h>

void mxc_fail(const char *file, int line, const char *what);
#define CHECK(cond) do { if (!(cond)) mxc_fail(__FILE__, __LINE__, #cond); } while (0)

void mxc_check_info(uint32_t domid);
void mxc_check_populate(uint32_t domid);
void mxc_check_params(uint32_t domid);
void mxc_check_fmem(uint32_t domid);
void mxc_check_servers(uint32_t domid);
void mxc_check_ranges(uint32_t domid);
void mxc_check_resource(uint32_t domid);
void mxc_check_dirty(uint32_t domid);
void mxc_check_irq(uint32_t domid);
void mxc_check_evtchn(uint32_t domid);
void mxc_check_enosys(uint32_t domid);
void mxc_check_restrict(uint32_t domid);

/* Wait for the daemon to go away; xenevtchn_pending() must fail with err. */
int mxc_expect_hangup(int err, uint32_t domid);

/* Play a device model (MODE: echo, nodrain, bad-state, wrong-slot, backwards, silent). */
int mxc_run_dm(const char *mode, uint32_t domid);
/* Call CALL once (create_ioreq_server, interface_open, populate, map) and require
 * failure with errno; then require the next call to succeed. */
int mxc_expect_errno(const char *call, int err, uint32_t domid);

#endif
