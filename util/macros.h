/*
 * util/macros.h — the two structural macros every module uses.
 *
 * container_of turns a pointer to a member back into its enclosing structure, so that a
 * callback handed a pointer to an embedded part (a MemoryListener inside XenDM, the
 * VirtioCore inside a transport) reaches its owner without casts that depend on the
 * member being first. ARRAY_SIZE counts the elements of an array (never a pointer: the
 * build fails for one).
 */
#ifndef XENDM_UTIL_MACROS_H
#define XENDM_UTIL_MACROS_H

#include <stddef.h>

#define container_of(ptr, type, member)                                                \
    ({                                                                                 \
        const __typeof__(((type *)0)->member) *container_of_ptr_ = (ptr);              \
        (type *)((char *)container_of_ptr_ - offsetof(type, member));                  \
    })

/* Zero-sized when `a` is an array; a build error (negative bit-field) for a pointer. */
#define ARRAY_SIZE_MUST_BE_ARRAY_(a)                                                   \
    (sizeof(struct { int not_an_array : __builtin_types_compatible_p(                  \
                         __typeof__(a), __typeof__(&(a)[0])) ? -1 : 1; }) * 0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]) + ARRAY_SIZE_MUST_BE_ARRAY_(a))

#endif
