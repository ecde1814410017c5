#define _GNU_SOURCE
#include "ishop_system.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <time.h>
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

int ishop_sync_file(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int result = fsync(fd);
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

struct ishop_background_sync {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int folder;
    int interval_ms;
    int stopping;
    int error;
};

static void *background_sync_loop(void *argument) {
    struct ishop_background_sync *sync = argument;
    pthread_mutex_lock(&sync->lock);
    while (!sync->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long long nanoseconds = until.tv_nsec + (long long)sync->interval_ms * 1000000LL;
        until.tv_sec += nanoseconds / 1000000000LL;
        until.tv_nsec = nanoseconds % 1000000000LL;
        while (!sync->stopping && pthread_cond_timedwait(&sync->wake, &sync->lock, &until) == 0) {}
        if (sync->stopping) break;
        pthread_mutex_unlock(&sync->lock);
        int result = syncfs(sync->folder);
        int saved = errno;
        pthread_mutex_lock(&sync->lock);
        if (result != 0 && sync->error == 0) sync->error = saved;
    }
    pthread_mutex_unlock(&sync->lock);
    return NULL;
}

ishop_background_sync *ishop_background_sync_start(const char *path, int interval_ms) {
    struct ishop_background_sync *sync = calloc(1, sizeof *sync);
    if (sync == NULL) return NULL;
    sync->folder = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sync->folder < 0) {
        free(sync);
        return NULL;
    }
    sync->interval_ms = interval_ms > 0 ? interval_ms : 1;
    pthread_mutex_init(&sync->lock, NULL);
    pthread_cond_init(&sync->wake, NULL);
    int failed = pthread_create(&sync->thread, NULL, background_sync_loop, sync);
    if (failed != 0) {
        close(sync->folder);
        pthread_cond_destroy(&sync->wake);
        pthread_mutex_destroy(&sync->lock);
        free(sync);
        errno = failed;
        return NULL;
    }
    return sync;
}

int ishop_background_sync_stop(ishop_background_sync *sync) {
    if (sync == NULL) return 0;
    pthread_mutex_lock(&sync->lock);
    sync->stopping = 1;
    pthread_cond_signal(&sync->wake);
    pthread_mutex_unlock(&sync->lock);
    pthread_join(sync->thread, NULL);
    int error = sync->error;
    close(sync->folder);
    pthread_cond_destroy(&sync->wake);
    pthread_mutex_destroy(&sync->lock);
    free(sync);
    return error;
}

static int write_all(int out, const char *bytes, size_t count) {
    while (count > 0) {
        ssize_t written = write(out, bytes, count);
        if (written < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        bytes += written;
        count -= (size_t)written;
    }
    return 0;
}

int ishop_copy_range(int in, long long offset, int out, long long length) {
    off_t from = (off_t)offset;
    while (length > 0) {
        ssize_t copied = copy_file_range(in, &from, out, NULL, (size_t)length, 0);
        if (copied > 0) {
            length -= copied;
            continue;
        }
        if (copied == 0) {
            errno = EIO;
            return -1;
        }
        if (errno == EINTR) continue;
        /* EPERM: container sandboxes (older seccomp profiles) that refuse the call itself. */
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP && errno != EPERM) return -1;
        break;  /* not between these files: copy through a buffer */
    }
    char buffer[1 << 16];
    while (length > 0) {
        size_t want = length < (long long)sizeof buffer ? (size_t)length : sizeof buffer;
        ssize_t got = pread(in, buffer, want, from);
        if (got < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (got == 0) {
            errno = EIO;
            return -1;
        }
        if (write_all(out, buffer, (size_t)got) != 0) return -1;
        from += got;
        length -= got;
    }
    return 0;
}

void ishop_keep_freed_memory(void) {
    (void)mallopt(M_TRIM_THRESHOLD, 512 << 20);
    (void)mallopt(M_TOP_PAD, 64 << 20);
    (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);  /* glibc refuses more than 32 MiB on 64-bit */
}

int ishop_pipe(int ends[2]) {
    return pipe2(ends, O_CLOEXEC);
}

int ishop_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                int input, int output, int error, int own_group, int *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int result = posix_spawn_file_actions_init(&actions);
    if (result != 0) return result;
    result = posix_spawnattr_init(&attributes);
    if (result != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return result;
    }
    const int wanted[3] = {input, output, error};
    const int modes[3] = {O_RDONLY, O_WRONLY, O_WRONLY};
    for (int target = 0; target < 3 && result == 0; target++) {
        if (wanted[target] < 0) {
            result = posix_spawn_file_actions_addopen(&actions, target, "/dev/null", modes[target], 0);
        } else {
            /* dup2 onto itself would keep FD_CLOEXEC set; glibc clears it for this case. */
            result = posix_spawn_file_actions_adddup2(&actions, wanted[target], target);
        }
    }
    if (result == 0) result = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (result == 0 && directory != NULL) result = posix_spawn_file_actions_addchdir_np(&actions, directory);

    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (own_group) flags |= POSIX_SPAWN_SETPGROUP;
    if (result == 0) result = posix_spawnattr_setflags(&attributes, flags);
    if (result == 0) result = posix_spawnattr_setsigmask(&attributes, &none);
    if (result == 0) result = posix_spawnattr_setsigdefault(&attributes, &all);
    if (result == 0 && own_group) result = posix_spawnattr_setpgroup(&attributes, 0);

    pid_t child = 0;
    if (result == 0) result = posix_spawnp(&child, path, &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    if (result == 0) *pid = (int)child;
    return result;
}
