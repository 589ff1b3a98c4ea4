#ifndef ALMANAC_CFILESYSTEM_SHIM_H
#define ALMANAC_CFILESYSTEM_SHIM_H
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

/// renameat2's flags (linux/fs.h).
enum { ALMANAC_RENAME_NOREPLACE = 1, ALMANAC_RENAME_EXCHANGE = 2 };

/// Linux renameat2 on two paths: with ALMANAC_RENAME_EXCHANGE both must exist and are swapped
/// atomically; with ALMANAC_RENAME_NOREPLACE it fails with EEXIST rather than replace `to`.
/// Returns 0, or -1 with errno set (ENOSYS or EINVAL where the kernel or file system lacks it).
static inline int almanac_rename(const char *from, const char *to, unsigned int flags) {
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags);
#else
    errno = ENOSYS;
    return -1;
#endif
}
#endif
