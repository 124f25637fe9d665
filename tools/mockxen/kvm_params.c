/*
 * tools/mockxen/kvm_params.c — the KVM guest's parameter block (see kvm_guest.h):
 * "NAME=V[,V...]" from the command line into MxKvmParam, and the block into the page
 * the guest reads. Pure functions: unit-tested without /dev/kvm.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mockxen/kvm_guest.h"
#include "util/parse.h"

_Static_assert(sizeof(MxKvmParam) == 88 && offsetof(MxKvmParam, values) == 40,
               "MxKvmParam is the layout guests read");
_Static_assert((MX_KVM_PARAMS_MAX + 1) * sizeof(MxKvmParam) <= MX_PAGE_SIZE &&
               MX_KVM_PARAM_ADDR + MX_PAGE_SIZE <= MX_KVM_LOW_RAM_END,
               "the parameters and their terminator fit in their page of low RAM");

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

static int parse_name(const char *spec, size_t len, MxKvmParam *p, Error **errp)
{
    if (len == 0 || len >= MX_KVM_PARAM_NAME_MAX) {
        error_setg_errno(errp, EINVAL, "KVM guest parameter '%s': the name needs 1 to %d "
                         "characters", spec, MX_KVM_PARAM_NAME_MAX - 1);
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (!name_char(spec[i])) {
            error_setg_errno(errp, EINVAL, "KVM guest parameter '%s': '%c' in the name "
                             "(letters, digits, '_', '-' and '.' only)", spec, spec[i]);
            return -EINVAL;
        }
    }
    memcpy(p->name, spec, len);
    return 0;
}

/* The comma-separated numbers of `list` into p->values. */
static int parse_values(const char *spec, const char *list, MxKvmParam *p, Error **errp)
{
    char buf[32];
    const char *v = list;
    for (;;) {
        size_t len = strcspn(v, ",");
        if (p->nvalues == MX_KVM_PARAM_VALUES || len == 0 || len >= sizeof(buf)) {
            error_setg_errno(errp, EINVAL, "KVM guest parameter '%s': expected 1 to %d "
                             "numbers after '='", spec, MX_KVM_PARAM_VALUES);
            return -EINVAL;
        }
        memcpy(buf, v, len);
        buf[len] = '\0';
        Error *err = NULL;
        if (parse_u64(buf, UINT64_MAX, &p->values[p->nvalues], &err)) {
            error_setg_errno(errp, EINVAL, "KVM guest parameter '%s': value %u: %s", spec,
                             (unsigned)p->nvalues + 1, error_get_pretty(err));
            error_free(err);
            return -EINVAL;
        }
        p->nvalues++;
        if (v[len] == '\0')
            return 0;
        v += len + 1;
    }
}

int mx_kvm_param_parse(const char *spec, MxKvmParam *p, Error **errp)
{
    memset(p, 0, sizeof(*p));
    const char *eq = strchr(spec, '=');
    if (!eq) {
        error_setg_errno(errp, EINVAL, "KVM guest parameter '%s': expected NAME=V[,V...]",
                         spec);
        return -EINVAL;
    }
    int rc = parse_name(spec, eq - spec, p, errp);
    return rc ? rc : parse_values(spec, eq + 1, p, errp);
}

static void put_le64(uint8_t *dst, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        dst[i] = (uint8_t)(v >> (8 * i));
}

void mx_kvm_params_write(const MxKvmParam *params, unsigned n, uint8_t *page)
{
    if (n > MX_KVM_PARAMS_MAX)
        abort();                    /* mx_kvm_guest_add_param keeps to the limit */
    memset(page, 0, MX_PAGE_SIZE);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *e = page + (size_t)i * sizeof(MxKvmParam);
        memcpy(e, params[i].name, MX_KVM_PARAM_NAME_MAX);
        put_le64(e + offsetof(MxKvmParam, nvalues), params[i].nvalues);
        for (unsigned v = 0; v < MX_KVM_PARAM_VALUES; v++)
            put_le64(e + offsetof(MxKvmParam, values) + 8 * v, params[i].values[v]);
    }
}
