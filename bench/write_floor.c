// The file system's floor for a static site: how long writing a built site's files takes when
// nothing is rendered. bench/build.sh runs it on the site a tool has just written, so the table
// can say how much of that tool's time any generator must spend making the same files.
//
//   write_floor SOURCE_TREE DESTINATION THREADS
//
// Reads every file of SOURCE_TREE into memory first (not timed), then, timed: creates
// DESTINATION and writes the files under it on THREADS threads, the way a generator does (open
// with O_CREAT, one write, close; a missing folder made on the way, parents first), and finally
// syncfs(2), as `ishop build` does before it publishes (Hugo does not sync). Linux only (syncfs).
// Prints one line:
//   files=N bytes=N write=SECONDS sync=SECONDS
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct file {
    char *relative;
    char *bytes;
    size_t size;
};

static struct file *files;
static size_t count, capacity, root_length;
static const char *destination;
static atomic_size_t next_file;

static void fail(const char *what, const char *path) {
    fprintf(stderr, "write_floor: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static int read_one(const char *path, const struct stat *status, int kind, struct FTW *walk) {
    (void)walk;
    if (kind != FTW_F) return 0;
    if (count == capacity) {
        capacity = capacity ? capacity * 2 : 4096;
        files = realloc(files, capacity * sizeof *files);
        if (!files) fail("out of memory at", path);
    }
    struct file *file = &files[count++];
    file->relative = strdup(path + root_length + 1);
    file->size = (size_t)status->st_size;
    file->bytes = malloc(file->size + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || !file->relative || !file->bytes) fail("cannot read", path);
    for (size_t got = 0; got < file->size;) {
        ssize_t n = read(fd, file->bytes + got, file->size - got);
        if (n <= 0) fail("cannot read", path);
        got += (size_t)n;
    }
    close(fd);
    return 0;
}

// Makes every missing folder above `path` (which holds a file name at its end).
static void make_parents(char *path, size_t skip) {
    for (char *slash = strchr(path + skip, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = 0;
        if (mkdir(path, 0755) != 0 && errno != EEXIST) fail("cannot make", path);
        *slash = '/';
    }
}

static void *writer(void *unused) {
    (void)unused;
    char path[8192];
    size_t skip = strlen(destination) + 1;
    for (size_t index; (index = atomic_fetch_add(&next_file, 1)) < count;) {
        struct file *file = &files[index];
        snprintf(path, sizeof path, "%s/%s", destination, file->relative);
        int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 && errno == ENOENT) {
            make_parents(path, skip);
            fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
        }
        if (fd < 0) fail("cannot create", path);
        for (size_t written = 0; written < file->size;) {
            ssize_t n = write(fd, file->bytes + written, file->size - written);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) fail("cannot write", path);
            written += (size_t)n;
        }
        close(fd);
    }
    return NULL;
}

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: write_floor SOURCE_TREE DESTINATION THREADS\n");
        return 2;
    }
    root_length = strlen(argv[1]);
    while (root_length > 1 && argv[1][root_length - 1] == '/') root_length--;
    destination = argv[2];
    int threads = atoi(argv[3]);
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    if (nftw(argv[1], read_one, 64, FTW_PHYS) != 0) fail("cannot walk", argv[1]);
    size_t bytes = 0;
    for (size_t index = 0; index < count; index++) bytes += files[index].size;

    double start = seconds();
    if (mkdir(destination, 0755) != 0) fail("cannot make", destination);
    pthread_t workers[256];
    for (int index = 0; index < threads; index++) {
        if (pthread_create(&workers[index], NULL, writer, NULL) != 0) {
            fprintf(stderr, "write_floor: cannot start a thread\n");
            return 1;
        }
    }
    for (int index = 0; index < threads; index++) pthread_join(workers[index], NULL);
    double written = seconds();
    int folder = open(destination, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (folder < 0 || syncfs(folder) != 0) fail("cannot sync", destination);
    close(folder);
    double synced = seconds();
    printf("files=%zu bytes=%zu write=%.3f sync=%.3f\n", count, bytes, written - start, synced - written);
    return 0;
}
