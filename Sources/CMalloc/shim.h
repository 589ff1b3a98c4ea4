#ifndef ALMANAC_CMALLOC_SHIM_H
#define ALMANAC_CMALLOC_SHIM_H
#ifdef __GLIBC__
#include <malloc.h>
#endif

/// Sets glibc malloc's top pad (M_TOP_PAD) to `bytes`. Returns 1 on success, 0 on failure or
/// where the C library is not glibc.
static inline int almanac_malloc_top_pad(int bytes) {
#ifdef __GLIBC__
    return mallopt(M_TOP_PAD, bytes);
#else
    (void)bytes;
    return 0;
#endif
}
#endif
