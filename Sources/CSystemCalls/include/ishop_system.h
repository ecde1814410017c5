#ifndef ISHOP_SYSTEM_H
#define ISHOP_SYSTEM_H

/* Atomically swaps two paths (files or folders): readers see one tree or the other, never
   neither. Linux renameat2(RENAME_EXCHANGE), which Swift's Glibc module does not import.
   Returns 0, or -1 with errno set (EINVAL/ENOSYS where the file system cannot do it). */
int ishop_exchange_paths(const char *first, const char *second);

/* Writes every dirty page of the file system holding `path` to disk (Linux syncfs): one call
   instead of an fsync per file of a site of thousands. Returns 0, or -1 with errno set. */
int ishop_sync_filesystem(const char *path);

/* Starts writing a file's dirty pages to disk without waiting (Linux sync_file_range with
   SYNC_FILE_RANGE_WRITE), so the disk works while the build renders and the syncfs before
   publishing has little left to wait for. */
void ishop_start_writeback(int fd);

#endif
