#define _GNU_SOURCE
#include "ishop_system.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int ishop_exchange_paths(const char *first, const char *second) {
#ifdef RENAME_EXCHANGE
    return renameat2(AT_FDCWD, first, AT_FDCWD, second, RENAME_EXCHANGE);
#else
    (void)first; (void)second;
    errno = ENOSYS;
    return -1;
#endif
}

int ishop_sync_filesystem(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int result = syncfs(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}

void ishop_start_writeback(int fd) {
    /* Asynchronous: queues the file's dirty pages for writing and returns. Errors are left to
       the syncfs before publishing, which reports them. */
    (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}
