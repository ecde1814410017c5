#ifndef ISHOP_SYSTEM_H
#define ISHOP_SYSTEM_H

/* Atomically swaps two paths (files or folders): readers see one tree or the other, never
   neither. Linux renameat2(RENAME_EXCHANGE), which Swift's Glibc module does not import.
   Returns 0, or -1 with errno set (EINVAL/ENOSYS where the file system cannot do it). */
int ishop_exchange_paths(const char *first, const char *second);

/* Writes every dirty page of the file system holding `path` to disk (Linux syncfs): one call
   instead of an fsync per file of a site of thousands. Returns 0, or -1 with errno set. */
int ishop_sync_filesystem(const char *path);

/* Writes one file's or folder's data and metadata to disk (fsync on a read-only descriptor):
   a rebuild that wrote a dozen files syncs those rather than the whole file system. Returns 0,
   or -1 with errno set. */
int ishop_sync_file(const char *path);

/* Starts writing a file's dirty pages to disk without waiting (Linux sync_file_range with
   SYNC_FILE_RANGE_WRITE), so the disk works while the build renders and the syncfs before
   publishing has little left to wait for. */
void ishop_start_writeback(int fd);

/* A thread that syncs the file system holding `path` (syncfs) every `interval_ms` until
   stopped: a build that writes thousands of pages gets them onto disk while it renders, in few
   large requests, instead of starting one small writeback per file (whose block-layer cost fell
   on the rendering threads) or waiting for all of them at the end. Returns NULL (errno set) if
   the folder cannot be opened or the thread cannot start. */
typedef struct ishop_background_sync ishop_background_sync;
ishop_background_sync *ishop_background_sync_start(const char *path, int interval_ms);

/* Stops the thread, waits for it and frees `sync`. Returns 0, or the errno of the first sync
   that failed: an error syncfs reported to this thread is not reported again to a later call,
   so the caller must treat it as its own. */
int ishop_background_sync_stop(ishop_background_sync *sync);

/* Appends `length` bytes of `in`, from `offset`, to `out` at its file offset (which advances),
   inside the kernel where it can (Linux copy_file_range): a feed rebuilt around one changed
   product copies the rest of the live file without bringing 30 MB through the process. Falls
   back to pread and write where the file systems cannot. Returns 0, or -1 with errno set (EIO
   when `in` ends before `offset + length`). */
int ishop_copy_range(int in, long long offset, int out, long long length);

/* glibc malloc tuning for a short batch process (mallopt, which Swift's Glibc module does not
   import): freed memory is kept for reuse rather than trimmed back to the kernel, and blocks up
   to 32 MiB (glibc's most) come from the heap rather than from a fresh mapping each time. */
void ishop_keep_freed_memory(void);

/* A pipe whose two ends close on exec (pipe2 with O_CLOEXEC, which Swift's Glibc module does
   not import): no program another thread starts meanwhile inherits it. 0, or -1 with errno. */
int ishop_pipe(int ends[2]);

/* Starts `path` (searched in PATH when it has no slash) with `argv` and `envp` (both
   NULL-terminated), in folder `directory` (NULL: this one), its standard input, output and error
   on the given descriptors (-1: /dev/null), every other descriptor closed, every signal at its
   default and none blocked, in a process group of its own when `own_group` is non-zero.
   posix_spawn rather than Foundation's Process, whose descriptor-closing loop reads past a buffer
   on Linux (swift-corelibs-foundation #5472) and crashed test runs that start processes in
   parallel. Returns 0 and sets `*pid`, or an errno value. */
int ishop_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                int input, int output, int error, int own_group, int *pid);

#endif
