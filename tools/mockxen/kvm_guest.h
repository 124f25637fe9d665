/*
 * tools/mockxen/kvm_guest.h — mockxen's second kind of guest: real x86 code run under
 * KVM, whose port and MMIO exits become ioreqs to the device model exactly as the
 * statements of a guest script do (through GuestBackendOps.ioreq, see guest.h).
 *
 * The guest is a flat binary image (tests/guests/) loaded at MX_KVM_LOAD_ADDR and
 * entered there in 32-bit flat protected mode, paging off, interrupts off, with
 * ESP = MX_KVM_STACK_TOP. The KVM guest's memory IS the domain's RAM memfd: the vCPU
 * and the device model's foreign mappings see the same bytes, so device DMA is visible
 * to the guest and string I/O can pass a guest-physical buffer address. The guest sees
 * a PC layout: RAM below 0xa0000 and from 1 MiB up to the end of guest RAM or
 * MX_KVM_MMIO_HOLE, whichever is lower; everything else is MMIO (KVM exits).
 *
 * Ports mockxen answers itself (never sent to the device model):
 *   MX_KVM_EXIT_PORT  (0x501) a write ends the run with that exit status (0 = success),
 *                            the KVM twin of a script's `done` / `fail`;
 *   MX_KVM_TIMER_PORT (0x502) a write of N > 0 starts timing N iterations, a write of 0
 *                            ends it and reports the mean through ops->report_time
 *                            (or prints a benchmark row), like a script's `time` block;
 *                            a read gives mockxen's monotonic clock in microseconds
 *                            (truncated to the access size: take differences);
 *   MX_KVM_MSI_PORT   (0x503) a read waits (up to GUEST_DEFAULT_IRQ_TIMEOUT_NS) for an
 *                            MSI from the device model, takes it off the queue and
 *                            returns its data, or all ones if none came: the twin of
 *                            `wait-irq msi -> $data` (the guest runs with interrupts
 *                            off, so this is how it sees MSIs);
 *   MX_KVM_PRINT_PORT (0x504) a write of a guest-physical address prints the
 *                            NUL-terminated string there (at most MX_KVM_PRINT_MAX - 1
 *                            bytes, in guest RAM) through ops->print, like a script's
 *                            `echo`;
 *   MX_KVM_SLEEP_PORT (0x505) a write of N sleeps N microseconds (at most
 *                            MX_KVM_SLEEP_MAX_US), like a script's `sleep`: a polling
 *                            guest idles there without using a CPU.
 *
 * Parameters (mockxen --param NAME=V[,V...] with --kvm-guest): before entry the page at
 * MX_KVM_PARAM_ADDR holds an array of MxKvmParam in the order given, ended by one whose
 * name is empty (all zeros), so a guest can take its workload from the command line.
 *
 * Ownership: an MxKvmGuest owns its KVM file descriptors, the vCPU's run area and the
 * image bytes. Its memory slots point into the domain's own mapping of the RAM memfd
 * (MxDomain.ram), so the MxDomain must outlive it. One guest has one vCPU (vCPU 0), run
 * in the calling thread; KVM guest writes are not tracked by mockxen's log-dirty
 * bitmap.
 *
 * The exit ↔ ioreq translation (kvm_exit.c) is pure: it works on a struct kvm_run in
 * memory, so unit tests need no /dev/kvm.
 *
 * x86-64 only: elsewhere kvm_absent.c stands in for kvm_vcpu.c and kvm_exit.c, and
 * mx_kvm_guest_create() always reports KVM unavailable.
 */
#ifndef MOCKXEN_KVM_GUEST_H
#define MOCKXEN_KVM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "tools/mockxen/guest.h"
#include "tools/mockxen/mockxen.h"
#include "util/error.h"

#define MX_KVM_EXIT_PORT   0x501
#define MX_KVM_TIMER_PORT  0x502
#define MX_KVM_MSI_PORT    0x503
#define MX_KVM_PRINT_PORT  0x504
#define MX_KVM_SLEEP_PORT  0x505
#define MX_KVM_PRINT_MAX   256          /* a printed string's bytes, its NUL included */
#define MX_KVM_SLEEP_MAX_US 10000000u
#define MX_KVM_LOAD_ADDR   0x10000u     /* image loaded and entered here */
#define MX_KVM_STACK_LIMIT 0x80000u     /* the image ends below; the stack stays above */
#define MX_KVM_IMAGE_MAX   (MX_KVM_STACK_LIMIT - MX_KVM_LOAD_ADDR)
#define MX_KVM_STACK_TOP   0x9f000u
#define MX_KVM_PARAM_ADDR  0x9f000u     /* the page above the stack: the parameters */
#define MX_KVM_LOW_RAM_END 0xa0000u     /* VGA hole and BIOS area above: MMIO */
#define MX_KVM_HIGH_RAM    0x100000u
#define MX_KVM_MMIO_HOLE   0xe0000000u  /* RAM stops here; PCI BARs live above */
#define MX_KVM_UNAVAILABLE_STATUS 77   /* mockxen's exit status without KVM (a skip) */

typedef struct MxKvmGuest MxKvmGuest;

/* One parameter as the guest sees it: little endian, 88 bytes, 8-byte aligned. */
#define MX_KVM_PARAM_NAME_MAX 32        /* the name's bytes, NUL padding included */
#define MX_KVM_PARAM_VALUES   6
#define MX_KVM_PARAMS_MAX     32        /* with the terminator they fit in one page */
typedef struct MxKvmParam {
    char name[MX_KVM_PARAM_NAME_MAX];   /* NUL-padded; at least one NUL */
    uint64_t nvalues;                   /* 1 .. MX_KVM_PARAM_VALUES */
    uint64_t values[MX_KVM_PARAM_VALUES];
} MxKvmParam;

/*
 * Open /dev/kvm, check the API version (12), create a VM and its vCPU. NULL when KVM
 * is unavailable here; the message then starts "KVM unavailable:" and says why, so
 * callers can skip rather than fail.
 */
MxKvmGuest *mx_kvm_guest_create(Error **errp);
/* Read the flat image at `path` (1 .. MX_KVM_IMAGE_MAX bytes). */
int mx_kvm_guest_load_image(MxKvmGuest *g, const char *path, Error **errp);
/* Add the parameter `spec` ("NAME=V[,V...]", see mx_kvm_param_parse) after the others. */
int mx_kvm_guest_add_param(MxKvmGuest *g, const char *spec, Error **errp);
/*
 * Give the VM the domain's RAM, populate the low 640 KiB (as a toolstack populates
 * guest RAM), copy the image in, and run vCPU 0 until it writes MX_KVM_EXIT_PORT.
 * Call once the device model is ready. 0 if the guest exited with status 0; -EPROTO
 * with "guest exit status N" otherwise; the ioreq op's error if an ioreq failed;
 * -EFAULT with the registers for a halt, triple fault or failed entry.
 */
int mx_kvm_guest_run(MxKvmGuest *g, MxDomain *d, const GuestBackendOps *ops, void *opaque,
                     Error **errp);
void mx_kvm_guest_destroy(MxKvmGuest *g);

/* ---- kvm_params.c: the parameter block ------------------------------------------------ */

/*
 * Parse "NAME=V[,V...]": a name of 1 .. MX_KVM_PARAM_NAME_MAX - 1 letters, digits, '_',
 * '-' or '.', and 1 .. MX_KVM_PARAM_VALUES unsigned numbers (decimal or 0x hex).
 * -EINVAL (saying what is wrong) otherwise.
 */
int mx_kvm_param_parse(const char *spec, MxKvmParam *p, Error **errp);
/* The block of `n` parameters and its terminator, little endian, into `page` (4 KiB,
 * zeroed first). n must be at most MX_KVM_PARAMS_MAX. */
void mx_kvm_params_write(const MxKvmParam *params, unsigned n, uint8_t *page);

/* ---- kvm_exit.c: exit ↔ ioreq translation ------------------------------------------- */

/* Where the buffer of a string I/O instruction lies: its first element's address. */
typedef struct MxKvmStringBuf {
    uint64_t gpa;       /* element 0; element i is at gpa + i*size, or gpa - i*size if df */
    bool df;
} MxKvmStringBuf;

/*
 * Linear address of a string I/O buffer: ES:(E)DI for ins, DS:(E)SI for outs, with the
 * address size of the code segment (64-bit code: no segment base; segment override and
 * address-size prefixes are not decoded). KVM exits a string `out` after it has stepped
 * (E)SI past the `count` elements it passes (and before it steps (E)DI for `in`), so
 * for outs the start is recomputed from the stepped register. Returns the linear
 * address; *df from RFLAGS.DF.
 */
uint64_t mx_kvm_string_linear(const struct kvm_regs *regs, const struct kvm_sregs *sregs,
                              bool in, uint32_t count, uint32_t size, bool *df);

/*
 * Turn a KVM_EXIT_IO into an ioreq: count 1 → a plain PIO with the written value;
 * count > 1 (string I/O) → data_is_ptr with data = buf->gpa and df = buf->df (buf may
 * be NULL only for count 1). run_size is the size of the kvm_run mapping: the data
 * area must lie inside it. -EINVAL (with the values) for a malformed exit.
 */
int mx_kvm_io_to_ioreq(const struct kvm_run *run, size_t run_size, const MxKvmStringBuf *buf,
                       ioreq_t *req, Error **errp);
/* Turn a KVM_EXIT_MMIO into a COPY ioreq. -EINVAL for a length other than 1/2/4/8. */
int mx_kvm_mmio_to_ioreq(const struct kvm_run *run, ioreq_t *req, Error **errp);

/*
 * Complete an exit with the device model's answer before the next KVM_RUN: a port or
 * MMIO read gets req->data (size bytes, little endian); writes need nothing. For a
 * string `in`, KVM copies the run area's data into guest memory when it resumes, so
 * the run area must receive what the device model wrote into the buffer: `lowest`
 * points at the buffer's lowest-addressed element in guest RAM (gpa, or
 * gpa - (count-1)*size if df) and is copied in element order.
 */
void mx_kvm_io_complete(struct kvm_run *run, const ioreq_t *req, const uint8_t *lowest);
void mx_kvm_mmio_complete(struct kvm_run *run, const ioreq_t *req);

#endif
