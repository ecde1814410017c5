#ifndef ISHOP_CODECS_H
#define ISHOP_CODECS_H
/* The image codecs of ishop's image pipeline, over Debian's libjpeg-turbo, libpng, libwebp and
   Little CMS. libjpeg and libpng report errors by longjmp, which Swift cannot survive; every
   longjmp is caught here and comes back as a status code with a message, so a corrupt or
   truncated upload never takes the build down. Pixel loops (resize, orientation) live here too:
   they are compiled with -O2 even in debug builds, where Swift loops would be far too slow. */
#include <stddef.h>
#include <stdint.h>

enum {
    ISHOP_FORMAT_UNKNOWN = 0,
    ISHOP_FORMAT_JPEG = 1,
    ISHOP_FORMAT_PNG = 2,
    ISHOP_FORMAT_WEBP = 3,
};

enum {
    ISHOP_OK = 0,
    ISHOP_ERROR_FORMAT = 1,     /* not a JPEG, PNG or still WebP at all */
    ISHOP_ERROR_CORRUPT = 2,    /* the library refused the data (corrupt, truncated) */
    ISHOP_ERROR_TOO_LARGE = 3,  /* more pixels than allowed: refused before allocating */
    ISHOP_ERROR_MEMORY = 4,
    ISHOP_ERROR_ENCODE = 5,
    ISHOP_ERROR_COLOR = 6,      /* an ICC profile Little CMS cannot use */
    ISHOP_ERROR_ARGUMENT = 7,
};

#define ISHOP_MESSAGE_SIZE 256
typedef struct {
    char text[ISHOP_MESSAGE_SIZE];
} ishop_message;

/* What the header says, read without decoding any pixels. */
typedef struct {
    int format;
    uint32_t width;       /* as stored, before EXIF orientation */
    uint32_t height;
    int may_have_alpha;   /* PNG with an alpha channel or tRNS */
    int orientation;      /* EXIF orientation 1...8 (1 when absent or out of range) */
} ishop_info;

/* 8-bit RGBA, rows of width * 4 bytes, no padding. */
typedef struct {
    uint8_t *pixels;
    uint32_t width;
    uint32_t height;
} ishop_image;

int ishop_sniff_format(const uint8_t *data, size_t size);

int ishop_probe(const uint8_t *data, size_t size, ishop_info *info, ishop_message *message);

/* Decodes a JPEG (downscaled in the DCT domain by 1/scale_denom, 1, 2, 4 or 8) or a PNG (any
   colour type, bit depth or interlacing, always to 8-bit RGBA). Refuses more than max_pixels
   (at full size) before allocating. icc receives the embedded ICC profile or NULL (free it with
   ishop_free). Orientation is not applied here. */
int ishop_decode(const uint8_t *data, size_t size, unsigned scale_denom, uint64_t max_pixels,
                 ishop_image *out, uint8_t **icc, size_t *icc_size, ishop_message *message);

/* Turns image upright according to an EXIF orientation (1...8), replacing its pixels. */
int ishop_orient(ishop_image *image, int orientation, ishop_message *message);

/* Converts image from the colour space of an RGB ICC profile to sRGB, in place. */
int ishop_convert_to_srgb(ishop_image *image, const uint8_t *icc, size_t icc_size, ishop_message *message);

/* Lanczos-3 resize, separable, with alpha premultiplied while filtering unless opaque != 0. */
int ishop_resize(const ishop_image *source, uint32_t width, uint32_t height, int opaque,
                 ishop_image *out, ishop_message *message);

/* 1 when every alpha value is 255. */
int ishop_is_opaque(const ishop_image *image);

/* Encoders; *out is malloc'd (free with ishop_free). No metadata is written except where asked
   (orientation > 0 writes an EXIF APP1, icc an ICC profile: only the tests ask, to build inputs). */
int ishop_encode_webp(const ishop_image *image, int keep_alpha, float quality, int method,
                      uint8_t **out, size_t *out_size, ishop_message *message);
int ishop_encode_jpeg(const ishop_image *image, int quality, int orientation,
                      const uint8_t *icc, size_t icc_size,
                      uint8_t **out, size_t *out_size, ishop_message *message);
int ishop_encode_png(const ishop_image *image, int keep_alpha,
                     uint8_t **out, size_t *out_size, ishop_message *message);

/* libwebp's own decoder, to check what was written. */
int ishop_decode_webp(const uint8_t *data, size_t size, ishop_image *out, ishop_message *message);

enum { ISHOP_PROFILE_SRGB = 1, ISHOP_PROFILE_DISPLAY_P3 = 2, ISHOP_PROFILE_ADOBE_RGB = 3 };
/* Builds a standard RGB ICC profile with Little CMS (for tests and fixtures). */
int ishop_make_profile(int which, uint8_t **out, size_t *out_size);

void ishop_image_free(ishop_image *image);
void ishop_free(void *pointer);

#endif
