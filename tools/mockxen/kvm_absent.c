/*
 * tools/mockxen/kvm_absent.c — mockxen's KVM guest where it cannot exist: the guests of
 * tests/guests/ are x86 code, which KVM runs only on an x86-64 host, so on any other
 * architecture (the Makefile builds this file instead of kvm_vcpu.c and kvm_exit.c)
 * every KVM guest is unavailable. `--kvm-guest` then exits with
 * MX_KVM_UNAVAILABLE_STATUS and says why, as on an x86-64 host without /dev/kvm.
 */
#include <stdlib.h>

#include "tools/mockxen/kvm_guest.h"

MxKvmGuest *mx_kvm_guest_create(Error **errp)
{
    error_setg(errp, "KVM unavailable: the KVM guests are x86 code and this mockxen is "
               "not built for x86-64");
    return NULL;
}

/* No MxKvmGuest is ever made here, so these are only reached by a programming error. */
int mx_kvm_guest_load_image(MxKvmGuest *g, const char *path, Error **errp)
{
    abort();
}

int mx_kvm_guest_add_param(MxKvmGuest *g, const char *spec, Error **errp)
{
    abort();
}

int mx_kvm_guest_run(MxKvmGuest *g, MxDomain *d, const GuestBackendOps *ops, void *opaque,
                     Error **errp)
{
    abort();
}

void mx_kvm_guest_destroy(MxKvmGuest *g)
{
    if (g)
        abort();
}
