/*
 * tools/mockxen/guest_script.c — a parsed guest script's life cycle: loading script
 * files (for guest_script_load and `include`), giving its parameters values, freeing,
 * and queries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
    free(s->params);
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

/* ---- parameters ------------------------------------------------------------------- */

static GuestParam *find_param(GuestScript *s, const char *name)
{
    for (unsigned i = 0; i < s->nparams; i++)
        if (!strcmp(s->vars[s->params[i].var], name))
            return &s->params[i];
    return NULL;
}

int guest_script_set_param(GuestScript *s, const char *name, uint64_t value, Error **errp)
{
    GuestParam *param = find_param(s, name);
    if (!param) {
        error_setg(errp, "the script has no parameter $%s (it neither declares "
                   "'param $%s' nor reads $%s without setting it)", name, name, name);
        return -ENOENT;
    }
    if (param->given) {
        error_setg(errp, "parameter $%s is given twice", name);
        return -EEXIST;
    }
    param->value = value;
    param->has_value = param->given = true;
    return 0;
}

/* An integer literal of the script language and nothing else. */
static int parse_param_value(const char *name, const char *text, uint64_t *value,
                             Error **errp)
{
    GuestLexer lx;
    Error *err = NULL;
    int ret = guest_lex_init(&lx, "--param", text, strlen(text), &err);
    bool number = !ret && lx.tok.kind == TK_NUM && !lx.tok.suffix[0];
    *value = lx.tok.num;
    if (number)
        ret = guest_lex_next(&lx, &err);
    if (ret || !number || lx.tok.kind != TK_EOF) {
        error_setg(errp, "parameter $%s: '%s' is not a number (decimal, 0x hex or 0b "
                   "binary)", name, text);
        error_free(err);
        return -EINVAL;
    }
    return 0;
}

int guest_script_set_param_text(GuestScript *s, const char *assignment, Error **errp)
{
    const char *eq = strchr(assignment, '=');
    char name[GUEST_TOKEN_TEXT_MAX];
    size_t len = eq ? (size_t)(eq - assignment) : 0;
    if (!eq || len == 0 || len >= sizeof(name)) {
        error_setg(errp, "'%s' is not NAME=VALUE", assignment);
        return -EINVAL;
    }
    memcpy(name, assignment, len);
    name[len] = '\0';
    uint64_t value;
    int ret = parse_param_value(name, eq + 1, &value, errp);
    return ret ? ret : guest_script_set_param(s, name, value, errp);
}

int guest_script_check_params(const GuestScript *s, Error **errp)
{
    for (unsigned i = 0; i < s->nparams; i++) {
        const GuestParam *param = &s->params[i];
        if (param->has_value)
            continue;
        const char *name = s->vars[param->var];
        const char *file = s->files[param->file];
        if (param->declared)
            error_setg(errp, "%s:%u:%u: parameter $%s has no value: give it with --param "
                       "%s=VALUE or a default (param $%s = VALUE)", file, param->line,
                       param->col, name, name, name);
        else
            error_setg(errp, "%s:%u:%u: $%s is read but never set: give it with --param "
                       "%s=VALUE or set it in the script", file, param->line, param->col,
                       name, name);
        return -EINVAL;
    }
    return 0;
}
