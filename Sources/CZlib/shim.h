#include <zlib.h>

/* deflateInit2 is a macro Swift cannot call; these are its arguments as plain values. */
static const int ISHOP_GZIP_WINDOW_BITS = 15 + 16; /* 32 KiB window, gzip header and trailer */
static const int ISHOP_GZIP_MEMORY_LEVEL = 8;

static inline int ishop_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, ISHOP_GZIP_WINDOW_BITS, ISHOP_GZIP_MEMORY_LEVEL, Z_DEFAULT_STRATEGY);
}

/* Raw deflate (no header or trailer): the segments of a .gz made of independent pieces
   (SegmentedGzip), which the .gz's own header and trailer enclose. */
static inline int ishop_deflate_init_raw(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, -15, ISHOP_GZIP_MEMORY_LEVEL, Z_DEFAULT_STRATEGY);
}
