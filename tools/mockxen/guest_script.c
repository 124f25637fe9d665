/*
 * tools/mockxen/guest_script.c — a parsed guest script's life cycle: loading script
 * files (for guest_script_load and `include`), freeing, and queries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/mockxen/guest_internal.h"

int guest_read_file(const char *path, char **text, size_t *len, Error **errp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error_setg_errno(errp, errno, "cannot open %s", path);
        return -errno;
    }
    struct stat st;
    int ret = 0;
    if (fstat(fd, &st) < 0) {
        ret = -errno;
        error_setg_errno(errp, errno, "cannot stat %s", path);
    } else if (!S_ISREG(st.st_mode) || st.st_size > GUEST_MAX_SCRIPT_BYTES) {
        ret = -EFBIG;
        error_setg(errp, "%s is not a regular file of at most %u bytes", path,
                   GUEST_MAX_SCRIPT_BYTES);
    }
    char *buf = ret ? NULL : malloc((size_t)st.st_size + 1);
    if (!ret && !buf) {
        ret = -ENOMEM;
        error_setg(errp, "%s: out of memory", path);
    }
    size_t got = 0;
    while (!ret && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ret = n < 0 ? -errno : -EIO;
            error_setg_errno(errp, -ret, "cannot read %s", path);
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (ret) {
        free(buf);
        return ret;
    }
    *text = buf;
    *len = got;
    return 0;
}

GuestScript *guest_script_load(const char *path, Error **errp)
{
    char *text;
    size_t len;
    if (guest_read_file(path, &text, &len, errp))
        return NULL;
    GuestScript *s = guest_script_parse(path, text, len, errp);
    free(text);
    return s;
}

void guest_script_free(GuestScript *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->nprograms; i++) {
        for (uint32_t k = 0; k < s->programs[i].ninsns; k++)
            free(s->programs[i].insns[k].parts);
        free(s->programs[i].insns);
    }
    free(s->programs);
    for (unsigned i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    for (unsigned i = 0; i < s->nvars; i++)
        free(s->vars[i]);
    free(s->vars);
    for (unsigned i = 0; i < s->ntexts; i++)
        free(s->texts[i]);
    free(s->texts);
    free(s->steps);
    free(s);
}

unsigned guest_script_nr_vcpus(const GuestScript *s)
{
    return s->nprograms ? s->programs[s->nprograms - 1].vcpu + 1 : 0;
}
