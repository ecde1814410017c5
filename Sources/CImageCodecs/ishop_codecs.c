#include "ishop_codecs.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <lcms2.h>
#include <png.h>
#include <webp/decode.h>
#include <webp/encode.h>

static int fail(ishop_message *message, int code, const char *format, ...) {
    if (message) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(message->text, sizeof message->text, format, arguments);
        va_end(arguments);
    }
    return code;
}

void ishop_free(void *pointer) { free(pointer); }

void ishop_image_free(ishop_image *image) {
    if (!image) return;
    free(image->pixels);
    image->pixels = NULL;
    image->width = image->height = 0;
}

static int allocate_image(ishop_image *image, uint32_t width, uint32_t height, ishop_message *message) {
    image->pixels = NULL;
    image->width = width;
    image->height = height;
    size_t bytes = (size_t)width * (size_t)height * 4;
    if (width == 0 || height == 0) return fail(message, ISHOP_ERROR_ARGUMENT, "an image needs at least one pixel");
    image->pixels = malloc(bytes);
    if (!image->pixels) return fail(message, ISHOP_ERROR_MEMORY, "cannot allocate %zu bytes for %ux%u pixels", bytes, width, height);
    return ISHOP_OK;
}

int ishop_sniff_format(const uint8_t *data, size_t size) {
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ISHOP_FORMAT_JPEG;
    static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size >= 8 && memcmp(data, png_signature, 8) == 0) return ISHOP_FORMAT_PNG;
    if (size >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0) return ISHOP_FORMAT_WEBP;
    return ISHOP_FORMAT_UNKNOWN;
}

/* ---------------------------------------------------------------- EXIF orientation */

static uint32_t read16(const uint8_t *p, int big) { return big ? (uint32_t)(p[0] << 8 | p[1]) : (uint32_t)(p[1] << 8 | p[0]); }
static uint32_t read32(const uint8_t *p, int big) {
    return big ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
               : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

/* The Orientation tag (0x0112) of IFD0 in an APP1 "Exif" payload; 1 when absent or nonsense.
   Every offset comes from the file, so every one is checked against the payload's length. */
static int exif_orientation(const uint8_t *payload, size_t length) {
    if (length < 14 || memcmp(payload, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *tiff = payload + 6;
    size_t size = length - 6;
    int big;
    if (tiff[0] == 'M' && tiff[1] == 'M') big = 1;
    else if (tiff[0] == 'I' && tiff[1] == 'I') big = 0;
    else return 1;
    if (read16(tiff + 2, big) != 42) return 1;
    uint32_t ifd = read32(tiff + 4, big);
    if (ifd > size || size - ifd < 2) return 1;
    uint32_t count = read16(tiff + ifd, big);
    for (uint32_t i = 0; i < count; i++) {
        size_t entry = (size_t)ifd + 2 + (size_t)i * 12;
        if (entry + 12 > size) return 1;
        if (read16(tiff + entry, big) == 0x0112 && read16(tiff + entry + 2, big) == 3) {
            uint32_t value = read16(tiff + entry + 8, big);
            return (value >= 1 && value <= 8) ? (int)value : 1;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- JPEG */

struct jpeg_failure {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char text[JMSG_LENGTH_MAX];
};

static void jpeg_fail_exit(j_common_ptr info) {
    struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
    (*info->err->format_message)(info, failure->text);
    longjmp(failure->jump, 1);
}

/* Warnings go nowhere, except a premature end of data: libjpeg would paint the missing rows
   grey and call that success, and a half-grey product photo is a broken image. */
static void jpeg_message(j_common_ptr info, int level) {
    if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) {
        jpeg_fail_exit(info);
    }
}

static void jpeg_setup_errors(struct jpeg_failure *failure) {
    jpeg_std_error(&failure->manager);
    failure->manager.error_exit = jpeg_fail_exit;
    failure->manager.emit_message = jpeg_message;
    failure->manager.output_message = NULL;
    failure->text[0] = 0;
}

static int jpeg_orientation(j_decompress_ptr info) {
    for (jpeg_saved_marker_ptr marker = info->marker_list; marker; marker = marker->next) {
        if (marker->marker == JPEG_APP0 + 1) {
            int orientation = exif_orientation(marker->data, marker->data_length);
            if (orientation != 1) return orientation;
        }
    }
    return 1;
}

static int jpeg_probe(const uint8_t *data, size_t size, ishop_info *info, ishop_message *message) {
    struct jpeg_decompress_struct decoder;
    struct jpeg_failure failure;
    decoder.err = &failure.manager;
    jpeg_setup_errors(&failure);
    if (setjmp(failure.jump)) {
        jpeg_destroy_decompress(&decoder);
        return fail(message, ISHOP_ERROR_CORRUPT, "not a readable JPEG: %s", failure.text);
    }
    jpeg_create_decompress(&decoder);
    jpeg_mem_src(&decoder, data, (unsigned long)size);
    jpeg_save_markers(&decoder, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&decoder, TRUE);
    info->format = ISHOP_FORMAT_JPEG;
    info->width = decoder.image_width;
    info->height = decoder.image_height;
    info->may_have_alpha = 0;
    info->orientation = jpeg_orientation(&decoder);
    jpeg_destroy_decompress(&decoder);
    return ISHOP_OK;
}

static int jpeg_decode(const uint8_t *data, size_t size, unsigned scale_denom, uint64_t max_pixels,
                       ishop_image *out, uint8_t **icc, size_t *icc_size, ishop_message *message) {
    struct jpeg_decompress_struct decoder;
    struct jpeg_failure failure;
    /* volatile: these change between setjmp and a longjmp back to it. */
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile cmyk_row = NULL;
    JOCTET *volatile profile = NULL;
    decoder.err = &failure.manager;
    jpeg_setup_errors(&failure);
    if (setjmp(failure.jump)) {
        jpeg_destroy_decompress(&decoder);
        free(pixels);
        free(cmyk_row);
        free(profile);
        return fail(message, ISHOP_ERROR_CORRUPT, "not a readable JPEG: %s", failure.text);
    }
    jpeg_create_decompress(&decoder);
    jpeg_mem_src(&decoder, data, (unsigned long)size);
    jpeg_save_markers(&decoder, JPEG_APP0 + 2, 0xFFFF);
    jpeg_read_header(&decoder, TRUE);
    if ((uint64_t)decoder.image_width * decoder.image_height > max_pixels) {
        uint32_t width = decoder.image_width, height = decoder.image_height;
        jpeg_destroy_decompress(&decoder);
        return fail(message, ISHOP_ERROR_TOO_LARGE, "%ux%u pixels is more than the %llu allowed",
                    width, height, (unsigned long long)max_pixels);
    }
    JOCTET *icc_bytes = NULL;
    unsigned int icc_length = 0;
    if (jpeg_read_icc_profile(&decoder, &icc_bytes, &icc_length)) profile = icc_bytes;

    int cmyk = decoder.jpeg_color_space == JCS_CMYK || decoder.jpeg_color_space == JCS_YCCK;
    decoder.out_color_space = cmyk ? JCS_CMYK : JCS_EXT_RGBA;
    decoder.scale_num = 1;
    decoder.scale_denom = (scale_denom == 2 || scale_denom == 4 || scale_denom == 8) ? scale_denom : 1;
    jpeg_start_decompress(&decoder);
    uint32_t width = decoder.output_width, height = decoder.output_height;
    size_t stride = (size_t)width * 4;
    pixels = malloc(stride * height);
    if (!pixels) {
        jpeg_destroy_decompress(&decoder);
        free(profile);
        return fail(message, ISHOP_ERROR_MEMORY, "cannot allocate %ux%u pixels", width, height);
    }
    while (decoder.output_scanline < height) {
        JSAMPROW row = pixels + (size_t)decoder.output_scanline * stride;
        jpeg_read_scanlines(&decoder, &row, 1);
    }
    if (cmyk) {
        /* Photoshop writes CMYK JPEGs inverted (the Adobe marker says so); a profile-less
           naive conversion keeps the photo recognisable. */
        int inverted = decoder.saw_Adobe_marker;
        for (size_t i = 0; i < (size_t)width * height; i++) {
            uint8_t *p = pixels + i * 4;
            unsigned c = p[0], m = p[1], y = p[2], k = p[3];
            if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
            p[0] = (uint8_t)(c * k / 255);
            p[1] = (uint8_t)(m * k / 255);
            p[2] = (uint8_t)(y * k / 255);
            p[3] = 255;
        }
        /* A CMYK profile does not describe these RGB values any more. */
        free(profile);
        profile = NULL;
        icc_length = 0;
    }
    jpeg_finish_decompress(&decoder);
    jpeg_destroy_decompress(&decoder);
    out->pixels = pixels;
    out->width = width;
    out->height = height;
    if (icc) { *icc = profile; *icc_size = profile ? icc_length : 0; } else free(profile);
    return ISHOP_OK;
}

static void write_exif_orientation(j_compress_ptr encoder, int orientation) {
    /* The smallest EXIF block that carries one tag: big-endian TIFF, IFD0 with Orientation. */
    uint8_t block[6 + 8 + 2 + 12 + 4] = {
        'E', 'x', 'i', 'f', 0, 0,
        'M', 'M', 0, 42, 0, 0, 0, 8,
        0, 1,
        0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (uint8_t)orientation, 0, 0,
        0, 0, 0, 0,
    };
    jpeg_write_marker(encoder, JPEG_APP0 + 1, block, sizeof block);
}

int ishop_encode_jpeg(const ishop_image *image, int quality, int orientation,
                      const uint8_t *icc, size_t icc_size,
                      uint8_t **out, size_t *out_size, ishop_message *message) {
    struct jpeg_compress_struct encoder;
    struct jpeg_failure failure;
    unsigned char *volatile buffer = NULL;
    unsigned char *destination = NULL;  /* address taken, so it lives in memory across longjmp */
    unsigned long length = 0;
    encoder.err = &failure.manager;
    jpeg_setup_errors(&failure);
    if (setjmp(failure.jump)) {
        jpeg_destroy_compress(&encoder);
        free(destination);
        return fail(message, ISHOP_ERROR_ENCODE, "JPEG encoding failed: %s", failure.text);
    }
    jpeg_create_compress(&encoder);
    jpeg_mem_dest(&encoder, &destination, &length);
    encoder.image_width = image->width;
    encoder.image_height = image->height;
    encoder.input_components = 4;
    encoder.in_color_space = JCS_EXT_RGBA;
    jpeg_set_defaults(&encoder);
    jpeg_set_quality(&encoder, quality < 1 ? 1 : quality > 100 ? 100 : quality, TRUE);
    encoder.optimize_coding = TRUE;
    jpeg_simple_progression(&encoder);
    jpeg_start_compress(&encoder, TRUE);
    if (orientation >= 1 && orientation <= 8) write_exif_orientation(&encoder, orientation);
    if (icc && icc_size > 0) jpeg_write_icc_profile(&encoder, icc, (unsigned int)icc_size);
    size_t stride = (size_t)image->width * 4;
    while (encoder.next_scanline < encoder.image_height) {
        JSAMPROW row = image->pixels + (size_t)encoder.next_scanline * stride;
        jpeg_write_scanlines(&encoder, &row, 1);
    }
    jpeg_finish_compress(&encoder);
    buffer = destination;
    jpeg_destroy_compress(&encoder);
    *out = buffer;
    *out_size = length;
    return ISHOP_OK;
}

/* ---------------------------------------------------------------- PNG */

struct png_reader {
    const uint8_t *data;
    size_t size;
    size_t offset;
    char text[200];
};

static void png_fail(png_structp png, png_const_charp text) {
    struct png_reader *reader = png_get_error_ptr(png);
    snprintf(reader->text, sizeof reader->text, "%s", text);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void png_read_memory(png_structp png, png_bytep into, png_size_t length) {
    struct png_reader *reader = png_get_io_ptr(png);
    if (length > reader->size - reader->offset) png_error(png, "truncated file");
    memcpy(into, reader->data + reader->offset, length);
    reader->offset += length;
}

static uint32_t big32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* The PNG header by hand: IHDR is always first, so no library is needed to refuse a bomb. */
static int png_probe(const uint8_t *data, size_t size, ishop_info *info, ishop_message *message) {
    if (size < 33 || memcmp(data + 12, "IHDR", 4) != 0) return fail(message, ISHOP_ERROR_CORRUPT, "not a readable PNG: no IHDR chunk");
    info->format = ISHOP_FORMAT_PNG;
    info->width = big32(data + 16);
    info->height = big32(data + 20);
    if (info->width == 0 || info->height == 0 || info->width > 0x7FFFFFFF || info->height > 0x7FFFFFFF)
        return fail(message, ISHOP_ERROR_CORRUPT, "not a readable PNG: impossible size %ux%u", info->width, info->height);
    int colour_type = data[25];
    info->may_have_alpha = (colour_type & 4) != 0;
    info->orientation = 1;
    /* A tRNS chunk makes palette and colour-key images transparent too. */
    size_t offset = 8;
    while (!info->may_have_alpha && offset + 8 <= size) {
        uint32_t length = big32(data + offset);
        if (memcmp(data + offset + 4, "tRNS", 4) == 0) info->may_have_alpha = 1;
        if (memcmp(data + offset + 4, "IDAT", 4) == 0) break;
        if (length > size - offset - 8 || size - offset - 8 - length < 4) break;
        offset += 12 + (size_t)length;
    }
    return ISHOP_OK;
}

static int png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                      ishop_image *out, uint8_t **icc, size_t *icc_size, ishop_message *message) {
    struct png_reader reader = {data, size, 0, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, png_fail, png_warn);
    if (!png) return fail(message, ISHOP_ERROR_MEMORY, "cannot start the PNG decoder");
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    uint8_t *volatile profile = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fail(message, ISHOP_ERROR_MEMORY, "cannot start the PNG decoder");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        free(profile);
        return fail(message, ISHOP_ERROR_CORRUPT, "not a readable PNG: %s", reader.text);
    }
    png_set_read_fn(png, &reader, png_read_memory);
    /* Our own limit applies; libpng's default of 1,000,000 per side would allow bigger bombs. */
    png_set_user_limits(png, 0x7FFFFFFF, 0x7FFFFFFF);
    png_read_info(png, info);
    png_uint_32 width, height;
    int bit_depth, colour_type, interlace;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &colour_type, &interlace, NULL, NULL);
    if ((uint64_t)width * height > max_pixels) {
        png_destroy_read_struct(&png, &info, NULL);
        return fail(message, ISHOP_ERROR_TOO_LARGE, "%ux%u pixels is more than the %llu allowed",
                    (unsigned)width, (unsigned)height, (unsigned long long)max_pixels);
    }
    png_charp name;
    int compression;
    png_bytep icc_data;
    png_uint_32 icc_length;
    if (icc && png_get_iCCP(png, info, &name, &compression, &icc_data, &icc_length) && icc_length > 0) {
        profile = malloc(icc_length);
        if (profile) memcpy(profile, icc_data, icc_length);
        *icc_size = profile ? icc_length : 0;
    }
    /* Everything to 8-bit RGBA: palettes and low-depth grey expanded, tRNS to alpha,
       16 bits scaled (not truncated), grey to RGB, an opaque alpha added where missing. */
    png_set_expand(png);
    png_set_scale_16(png);
    if (colour_type == PNG_COLOR_TYPE_GRAY || colour_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)width * 4) png_error(png, "unexpected row layout after conversion");
    pixels = malloc((size_t)width * height * 4);
    rows = malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * width * 4;
    png_read_image(png, rows);
    free(rows);
    rows = NULL;
    png_destroy_read_struct(&png, &info, NULL);
    out->pixels = pixels;
    out->width = width;
    out->height = height;
    if (icc) *icc = profile;
    return ISHOP_OK;
}

struct png_writer {
    uint8_t *data;
    size_t size;
    size_t capacity;
    int failed;
};

static void png_write_memory(png_structp png, png_bytep bytes, png_size_t length) {
    struct png_writer *writer = png_get_io_ptr(png);
    if (writer->size + length > writer->capacity) {
        size_t capacity = writer->capacity ? writer->capacity * 2 : 65536;
        while (capacity < writer->size + length) capacity *= 2;
        uint8_t *grown = realloc(writer->data, capacity);
        if (!grown) png_error(png, "out of memory");
        writer->data = grown;
        writer->capacity = capacity;
    }
    memcpy(writer->data + writer->size, bytes, length);
    writer->size += length;
}

static void png_flush_memory(png_structp png) { (void)png; }

int ishop_encode_png(const ishop_image *image, int keep_alpha,
                     uint8_t **out, size_t *out_size, ishop_message *message) {
    struct png_reader errors = {0};
    struct png_writer writer = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &errors, png_fail, png_warn);
    if (!png) return fail(message, ISHOP_ERROR_MEMORY, "cannot start the PNG encoder");
    png_infop info = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return fail(message, ISHOP_ERROR_MEMORY, "cannot start the PNG encoder");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        free(writer.data);
        return fail(message, ISHOP_ERROR_ENCODE, "PNG encoding failed: %s", errors.text);
    }
    png_set_write_fn(png, &writer, png_write_memory, png_flush_memory);
    png_set_IHDR(png, info, image->width, image->height, 8,
                 keep_alpha ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    if (!keep_alpha) png_set_filler(png, 0, PNG_FILLER_AFTER);  /* drops the 4th byte on write */
    rows = malloc(sizeof(png_bytep) * image->height);
    if (!rows) png_error(png, "out of memory");
    for (uint32_t y = 0; y < image->height; y++) rows[y] = image->pixels + (size_t)y * image->width * 4;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    *out = writer.data;
    *out_size = writer.size;
    return ISHOP_OK;
}

/* ---------------------------------------------------------------- WebP sources */

/* The payload of the first chunk named `fourcc` in an extended (VP8X) WebP, or NULL. Chunks are
   walked by their sizes from the file, each checked against the data's length. */
static const uint8_t *webp_chunk(const uint8_t *data, size_t size, const char *fourcc, size_t *length) {
    if (size < 12) return NULL;
    size_t offset = 12;
    while (offset + 8 <= size) {
        uint32_t chunk = read32(data + offset + 4, 0);
        if (chunk > size - offset - 8) return NULL;
        if (memcmp(data + offset, fourcc, 4) == 0) {
            *length = chunk;
            return data + offset + 8;
        }
        offset += 8 + (size_t)chunk + (chunk & 1);
    }
    return NULL;
}

static int webp_probe(const uint8_t *data, size_t size, ishop_info *info, ishop_message *message) {
    WebPBitstreamFeatures features;
    if (WebPGetFeatures(data, size, &features) != VP8_STATUS_OK || features.width <= 0 || features.height <= 0)
        return fail(message, ISHOP_ERROR_CORRUPT, "not a readable WebP (corrupt or truncated header)");
    if (features.has_animation) return fail(message, ISHOP_ERROR_FORMAT, "is an animated WebP; product pictures must be still images");
    info->format = ISHOP_FORMAT_WEBP;
    info->width = (uint32_t)features.width;
    info->height = (uint32_t)features.height;
    info->may_have_alpha = features.has_alpha ? 1 : 0;
    info->orientation = 1; /* browsers show WebP pixels as stored; its EXIF is not applied */
    return ISHOP_OK;
}

static int webp_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                       ishop_image *out, uint8_t **icc, size_t *icc_size, ishop_message *message) {
    ishop_info info;
    int status = webp_probe(data, size, &info, message);
    if (status != ISHOP_OK) return status;
    uint64_t pixels = (uint64_t)info.width * info.height;
    if (max_pixels && pixels > max_pixels)
        return fail(message, ISHOP_ERROR_TOO_LARGE, "%ux%u pixels is more than the %llu allowed",
                    info.width, info.height, (unsigned long long)max_pixels);
    status = allocate_image(out, info.width, info.height, message);
    if (status != ISHOP_OK) return status;
    size_t stride = (size_t)info.width * 4;
    if (!WebPDecodeRGBAInto(data, size, out->pixels, stride * info.height, (int)stride)) {
        ishop_image_free(out);
        return fail(message, ISHOP_ERROR_CORRUPT, "not a readable WebP (corrupt or truncated data)");
    }
    if (icc) {
        size_t length = 0;
        const uint8_t *profile = webp_chunk(data, size, "ICCP", &length);
        if (profile && length > 0) {
            *icc = malloc(length);
            if (*icc) {
                memcpy(*icc, profile, length);
                *icc_size = length;
            }
        }
    }
    return ISHOP_OK;
}

/* ---------------------------------------------------------------- dispatch */

int ishop_probe(const uint8_t *data, size_t size, ishop_info *info, ishop_message *message) {
    memset(info, 0, sizeof *info);
    info->orientation = 1;
    switch (ishop_sniff_format(data, size)) {
    case ISHOP_FORMAT_JPEG: return jpeg_probe(data, size, info, message);
    case ISHOP_FORMAT_PNG: return png_probe(data, size, info, message);
    case ISHOP_FORMAT_WEBP: return webp_probe(data, size, info, message);
    default: return fail(message, ISHOP_ERROR_FORMAT, "not an image (neither JPEG, PNG nor WebP)");
    }
}

int ishop_decode(const uint8_t *data, size_t size, unsigned scale_denom, uint64_t max_pixels,
                 ishop_image *out, uint8_t **icc, size_t *icc_size, ishop_message *message) {
    out->pixels = NULL;
    out->width = out->height = 0;
    if (icc) { *icc = NULL; *icc_size = 0; }
    switch (ishop_sniff_format(data, size)) {
    case ISHOP_FORMAT_JPEG: return jpeg_decode(data, size, scale_denom, max_pixels, out, icc, icc_size, message);
    case ISHOP_FORMAT_PNG: return png_decode(data, size, max_pixels, out, icc, icc_size, message);
    case ISHOP_FORMAT_WEBP: return webp_decode(data, size, max_pixels, out, icc, icc_size, message);
    default: return fail(message, ISHOP_ERROR_FORMAT, "not an image (neither JPEG, PNG nor WebP)");
    }
}

/* ---------------------------------------------------------------- orientation */

int ishop_orient(ishop_image *image, int orientation, ishop_message *message) {
    if (orientation <= 1 || orientation > 8) return ISHOP_OK;
    uint32_t w = image->width, h = image->height;
    int swaps = orientation >= 5;
    ishop_image turned;
    int status = allocate_image(&turned, swaps ? h : w, swaps ? w : h, message);
    if (status != ISHOP_OK) return status;
    const uint32_t *source = (const uint32_t *)image->pixels;
    uint32_t *target = (uint32_t *)turned.pixels;
    uint32_t tw = turned.width, th = turned.height;
    /* For each upright pixel (x, y), the stored pixel it comes from (EXIF 2.3, tag 0x0112). */
    for (uint32_t y = 0; y < th; y++) {
        uint32_t *row = target + (size_t)y * tw;
        for (uint32_t x = 0; x < tw; x++) {
            uint32_t sx, sy;
            switch (orientation) {
            case 2: sx = w - 1 - x; sy = y; break;
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;
            case 4: sx = x; sy = h - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = h - 1 - x; break;
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;
            default: sx = w - 1 - y; sy = x; break; /* 8 */
            }
            row[x] = source[(size_t)sy * w + sx];
        }
    }
    free(image->pixels);
    *image = turned;
    return ISHOP_OK;
}

/* ---------------------------------------------------------------- colour */

int ishop_convert_to_srgb(ishop_image *image, const uint8_t *icc, size_t icc_size, ishop_message *message) {
    cmsHPROFILE input = cmsOpenProfileFromMem(icc, (cmsUInt32Number)icc_size);
    if (!input) return fail(message, ISHOP_ERROR_COLOR, "the embedded ICC profile cannot be read");
    if (cmsGetColorSpace(input) != cmsSigRgbData) {
        cmsCloseProfile(input);
        return fail(message, ISHOP_ERROR_COLOR, "the embedded ICC profile is not an RGB profile");
    }
    cmsHPROFILE srgb = cmsCreate_sRGBProfile();
    cmsHTRANSFORM transform = srgb ? cmsCreateTransform(input, TYPE_RGBA_8, srgb, TYPE_RGBA_8,
                                                        INTENT_PERCEPTUAL, cmsFLAGS_COPY_ALPHA) : NULL;
    cmsCloseProfile(input);
    if (srgb) cmsCloseProfile(srgb);
    if (!transform) return fail(message, ISHOP_ERROR_COLOR, "no transform from the embedded ICC profile to sRGB");
    size_t stride = (size_t)image->width * 4;
    for (uint32_t y = 0; y < image->height; y++) {
        uint8_t *row = image->pixels + y * stride;
        cmsDoTransform(transform, row, row, image->width);
    }
    cmsDeleteTransform(transform);
    return ISHOP_OK;
}

int ishop_make_profile(int which, uint8_t **out, size_t *out_size) {
    cmsCIExyY white = {0.3127, 0.3290, 1.0};
    cmsCIExyYTRIPLE primaries;
    cmsToneCurve *curve;
    if (which == ISHOP_PROFILE_DISPLAY_P3) {
        primaries = (cmsCIExyYTRIPLE){{0.680, 0.320, 1.0}, {0.265, 0.690, 1.0}, {0.150, 0.060, 1.0}};
        cmsFloat64Number srgb_curve[5] = {2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045};
        curve = cmsBuildParametricToneCurve(NULL, 4, srgb_curve);
    } else if (which == ISHOP_PROFILE_ADOBE_RGB) {
        primaries = (cmsCIExyYTRIPLE){{0.640, 0.330, 1.0}, {0.210, 0.710, 1.0}, {0.150, 0.060, 1.0}};
        curve = cmsBuildGamma(NULL, 563.0 / 256.0);
    } else {
        primaries = (cmsCIExyYTRIPLE){{0.640, 0.330, 1.0}, {0.300, 0.600, 1.0}, {0.150, 0.060, 1.0}};
        cmsFloat64Number srgb_curve[5] = {2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045};
        curve = cmsBuildParametricToneCurve(NULL, 4, srgb_curve);
    }
    if (!curve) return ISHOP_ERROR_MEMORY;
    cmsToneCurve *curves[3] = {curve, curve, curve};
    cmsHPROFILE profile = cmsCreateRGBProfile(&white, &primaries, curves);
    cmsFreeToneCurve(curve);
    if (!profile) return ISHOP_ERROR_COLOR;
    cmsUInt32Number length = 0;
    if (!cmsSaveProfileToMem(profile, NULL, &length) || length == 0) { cmsCloseProfile(profile); return ISHOP_ERROR_COLOR; }
    uint8_t *bytes = malloc(length);
    if (!bytes || !cmsSaveProfileToMem(profile, bytes, &length)) { free(bytes); cmsCloseProfile(profile); return ISHOP_ERROR_MEMORY; }
    cmsCloseProfile(profile);
    *out = bytes;
    *out_size = length;
    return ISHOP_OK;
}

/* ---------------------------------------------------------------- resize */

int ishop_is_opaque(const ishop_image *image) {
    size_t count = (size_t)image->width * image->height;
    const uint8_t *p = image->pixels + 3;
    for (size_t i = 0; i < count; i++, p += 4) if (*p != 255) return 0;
    return 1;
}

static double lanczos3(double x) {
    if (x < 0) x = -x;
    if (x < 1e-9) return 1.0;
    if (x >= 3.0) return 0.0;
    double px = M_PI * x;
    return 3.0 * sin(px) * sin(px / 3.0) / (px * px);
}

/* Per output coordinate: the first source index and the normalised weights of its taps. */
typedef struct {
    int *first;
    int *count;
    float *weights;  /* out_size * taps, row i holds count[i] weights */
    int taps;
} filter_bank;

static int build_bank(filter_bank *bank, uint32_t in_size, uint32_t out_size) {
    double scale = (double)in_size / out_size;
    double stretch = scale > 1.0 ? scale : 1.0;
    double support = 3.0 * stretch;
    int taps = (int)ceil(support) * 2 + 1;
    bank->taps = taps;
    bank->first = malloc(sizeof(int) * out_size);
    bank->count = malloc(sizeof(int) * out_size);
    bank->weights = malloc(sizeof(float) * out_size * taps);
    if (!bank->first || !bank->count || !bank->weights) return 0;
    for (uint32_t i = 0; i < out_size; i++) {
        double centre = (i + 0.5) * scale;
        int left = (int)floor(centre - support);
        int right = (int)ceil(centre + support);
        if (left < 0) left = 0;
        if (right > (int)in_size) right = (int)in_size;
        if (right - left > taps) right = left + taps;
        double total = 0;
        float *w = bank->weights + (size_t)i * taps;
        for (int j = left; j < right; j++) {
            double value = lanczos3((j + 0.5 - centre) / stretch);
            w[j - left] = (float)value;
            total += value;
        }
        int count = right - left;
        if (total != 0) for (int k = 0; k < count; k++) w[k] = (float)(w[k] / total);
        bank->first[i] = left;
        bank->count[i] = count;
    }
    return 1;
}

static void free_bank(filter_bank *bank) {
    free(bank->first);
    free(bank->count);
    free(bank->weights);
}

/* One source row, premultiplied to float, filtered horizontally into out_width pixels. */
static void filter_row(const uint8_t *source, uint32_t in_width, float *scratch, int opaque,
                       const filter_bank *bank, uint32_t out_width, float *out) {
    for (uint32_t x = 0; x < in_width; x++) {
        const uint8_t *p = source + (size_t)x * 4;
        float *s = scratch + (size_t)x * 4;
        if (opaque) {
            s[0] = p[0]; s[1] = p[1]; s[2] = p[2]; s[3] = 255.0f;
        } else {
            float alpha = p[3] * (1.0f / 255.0f);
            s[0] = p[0] * alpha; s[1] = p[1] * alpha; s[2] = p[2] * alpha; s[3] = p[3];
        }
    }
    for (uint32_t x = 0; x < out_width; x++) {
        const float *w = bank->weights + (size_t)x * bank->taps;
        const float *s = scratch + (size_t)bank->first[x] * 4;
        float r = 0, g = 0, b = 0, a = 0;
        int count = bank->count[x];
        for (int k = 0; k < count; k++, s += 4) {
            float weight = w[k];
            r += s[0] * weight; g += s[1] * weight; b += s[2] * weight; a += s[3] * weight;
        }
        float *o = out + (size_t)x * 4;
        o[0] = r; o[1] = g; o[2] = b; o[3] = a;
    }
}

static uint8_t clamp_byte(float value) {
    if (value <= 0.0f) return 0;
    if (value >= 255.0f) return 255;
    return (uint8_t)(value + 0.5f);
}

int ishop_resize(const ishop_image *source, uint32_t width, uint32_t height, int opaque,
                 ishop_image *out, ishop_message *message) {
    out->pixels = NULL;
    if (width == 0 || height == 0 || source->width == 0 || source->height == 0)
        return fail(message, ISHOP_ERROR_ARGUMENT, "cannot resize to or from an empty image");
    filter_bank horizontal = {0}, vertical = {0};
    float *scratch = NULL, *ring = NULL, *sum = NULL;
    int *ring_rows = NULL;
    int status = ISHOP_ERROR_MEMORY;
    if (!build_bank(&horizontal, source->width, width) || !build_bank(&vertical, source->height, height)) goto done;
    /* Vertical taps of consecutive output rows move forward through the source, so a ring of
       `taps` horizontally filtered rows holds each window: every source row is filtered once,
       and memory stays small however large the source. */
    int ring_size = vertical.taps;
    size_t row_floats = (size_t)width * 4;
    scratch = malloc(sizeof(float) * source->width * 4);
    ring = malloc(sizeof(float) * row_floats * ring_size);
    ring_rows = malloc(sizeof(int) * ring_size);
    sum = malloc(sizeof(float) * row_floats);
    if (!scratch || !ring || !ring_rows || !sum) goto done;
    for (int i = 0; i < ring_size; i++) ring_rows[i] = -1;
    if ((status = allocate_image(out, width, height, message)) != ISHOP_OK) goto done;
    size_t source_stride = (size_t)source->width * 4;
    for (uint32_t y = 0; y < height; y++) {
        int first = vertical.first[y], count = vertical.count[y];
        const float *w = vertical.weights + (size_t)y * vertical.taps;
        memset(sum, 0, sizeof(float) * row_floats);
        for (int k = 0; k < count; k++) {
            int sy = first + k;
            int slot = sy % ring_size;
            float *row = ring + (size_t)slot * row_floats;
            if (ring_rows[slot] != sy) {
                filter_row(source->pixels + (size_t)sy * source_stride, source->width, scratch, opaque,
                           &horizontal, width, row);
                ring_rows[slot] = sy;
            }
            float weight = w[k];
            for (size_t i = 0; i < row_floats; i++) sum[i] += row[i] * weight;
        }
        uint8_t *target = out->pixels + (size_t)y * width * 4;
        for (uint32_t x = 0; x < width; x++) {
            const float *s = sum + (size_t)x * 4;
            uint8_t alpha = opaque ? 255 : clamp_byte(s[3]);
            if (opaque || alpha == 255) {
                target[0] = clamp_byte(s[0]); target[1] = clamp_byte(s[1]); target[2] = clamp_byte(s[2]);
            } else if (alpha == 0) {
                target[0] = target[1] = target[2] = 0;
            } else {
                float unpremultiply = 255.0f / s[3];
                target[0] = clamp_byte(s[0] * unpremultiply);
                target[1] = clamp_byte(s[1] * unpremultiply);
                target[2] = clamp_byte(s[2] * unpremultiply);
            }
            target[3] = alpha;
            target += 4;
        }
    }
    status = ISHOP_OK;
done:
    if (status == ISHOP_ERROR_MEMORY && out->pixels == NULL) fail(message, status, "out of memory while resizing");
    free_bank(&horizontal);
    free_bank(&vertical);
    free(scratch);
    free(ring);
    free(ring_rows);
    free(sum);
    return status;
}

/* ---------------------------------------------------------------- WebP */

int ishop_encode_webp(const ishop_image *image, int keep_alpha, float quality, int method,
                      uint8_t **out, size_t *out_size, ishop_message *message) {
    WebPConfig config;
    if (!WebPConfigInit(&config)) return fail(message, ISHOP_ERROR_ENCODE, "libwebp version mismatch");
    config.quality = quality < 0 ? 0 : quality > 100 ? 100 : quality;
    config.method = method < 0 ? 0 : method > 6 ? 6 : method;
    if (!WebPValidateConfig(&config)) return fail(message, ISHOP_ERROR_ENCODE, "invalid WebP settings");
    WebPPicture picture;
    if (!WebPPictureInit(&picture)) return fail(message, ISHOP_ERROR_ENCODE, "libwebp version mismatch");
    picture.width = (int)image->width;
    picture.height = (int)image->height;
    int imported = keep_alpha ? WebPPictureImportRGBA(&picture, image->pixels, (int)image->width * 4)
                              : WebPPictureImportRGBX(&picture, image->pixels, (int)image->width * 4);
    if (!imported) {
        WebPPictureFree(&picture);
        return fail(message, ISHOP_ERROR_MEMORY, "cannot import %ux%u pixels into libwebp", image->width, image->height);
    }
    WebPMemoryWriter writer;
    WebPMemoryWriterInit(&writer);
    picture.writer = WebPMemoryWrite;
    picture.custom_ptr = &writer;
    int ok = WebPEncode(&config, &picture);
    int error = picture.error_code;
    WebPPictureFree(&picture);
    if (!ok) {
        WebPMemoryWriterClear(&writer);
        return fail(message, ISHOP_ERROR_ENCODE, "WebP encoding failed (libwebp error %d)", error);
    }
    *out = writer.mem;
    *out_size = writer.size;
    return ISHOP_OK;
}

int ishop_decode_webp(const uint8_t *data, size_t size, ishop_image *out, ishop_message *message) {
    int width = 0, height = 0;
    out->pixels = NULL;
    if (!WebPGetInfo(data, size, &width, &height)) return fail(message, ISHOP_ERROR_CORRUPT, "not a readable WebP");
    uint8_t *decoded = WebPDecodeRGBA(data, size, &width, &height);
    if (!decoded) return fail(message, ISHOP_ERROR_CORRUPT, "not a readable WebP");
    /* WebPFree and free are not promised to be the same allocator: copy into ours. */
    int status = allocate_image(out, (uint32_t)width, (uint32_t)height, message);
    if (status == ISHOP_OK) memcpy(out->pixels, decoded, (size_t)width * height * 4);
    WebPFree(decoded);
    return status;
}
