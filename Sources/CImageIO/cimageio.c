/* PNG and JPEG decoding/encoding over libpng and libjpeg-turbo (see include/cimageio.h).
 *
 * Both libraries report fatal errors by calling a handler that must not return; ours
 * copies the message into the caller's buffer and longjmps back to the setjmp in the
 * function that started the work, which frees what it allocated and returns -1. Pointers
 * assigned after setjmp and read after the longjmp are declared volatile, as C requires. */
#include "cimageio.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* jpeglib.h first: it brings jconfig.h, whose *_ARITH_CODING_SUPPORTED decide which
 * message codes jerror.h declares (and so the numbers of those after them). */
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

static void set_error(char *err, size_t err_size, const char *msg) {
    if (err && err_size > 0) snprintf(err, err_size, "%s", msg);
}

/* Whether a w x h image fits under `max_pixels`; if not, the message says so. */
static int pixels_allowed(uint64_t w, uint64_t h, uint64_t max_pixels, char *msg, size_t msg_size) {
    if (w * h <= max_pixels) return 1;
    snprintf(msg, msg_size, "image is %llux%llu (%llu pixels), more than --max_pixels %llu",
             (unsigned long long)w, (unsigned long long)h, (unsigned long long)(w * h),
             (unsigned long long)max_pixels);
    return 0;
}

void cimg_free(void *p) { free(p); }

int cimg_format(const unsigned char *data, size_t size) {
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (size >= 8 && memcmp(data, png_sig, 8) == 0) return CIMG_PNG;
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return CIMG_JPEG;
    return CIMG_UNKNOWN;
}

/* A stdio stream over a duplicate of `fd`, positioned at the start of the file (closing it
 * leaves `fd` open). NULL with a message on failure. */
static FILE *stream_from_start(int fd, char *err, size_t err_size) {
    int copy = dup(fd);
    FILE *fp = copy < 0 ? NULL : fdopen(copy, "rb");
    if (!fp) {
        if (copy >= 0) close(copy);
        set_error(err, err_size, strerror(errno));
        return NULL;
    }
    if (fseek(fp, 0, SEEK_SET) != 0) {
        set_error(err, err_size, strerror(errno));
        fclose(fp);
        return NULL;
    }
    return fp;
}

/* ---------------------------------------------------------------- PNG */

typedef struct {
    char *err;
    size_t err_size;
} png_error_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_error_ctx *e = (png_error_ctx *)png_get_error_ptr(png);
    set_error(e->err, e->err_size, msg);
    png_longjmp(png, 1);
}

/* libpng warns about harmless things (an sRGB profile it dislikes); PIL is silent too. */
static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t pos;
} png_mem_reader;

static void png_mem_read(png_structp png, png_bytep out, size_t n) {
    png_mem_reader *r = (png_mem_reader *)png_get_io_ptr(png);
    if (n > r->size - r->pos) png_error(png, "file is truncated");
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

/* Samples per pixel for a PNG colour type. */
static int png_samples(int color_type);

/* After png_read_info: refuses (png_error) an image over `max_pixels`, or one whose raw
 * scanlines deflate could not have packed into a file of `file_size` bytes. */
static void png_check_header(png_structp png, png_infop info, uint64_t file_size, uint64_t max_pixels) {
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, NULL, NULL, NULL);
    char msg[200];
    if (!pixels_allowed(w, h, max_pixels, msg, sizeof msg)) png_error(png, msg);
    /* Without interlacing (which only adds filter bytes): per row, a filter byte and the
     * packed samples. */
    uint64_t row_bytes = ((uint64_t)w * (uint64_t)png_samples(color) * (uint64_t)depth + 7) / 8;
    uint64_t raw = (uint64_t)h * (1 + row_bytes);
    if (raw > 1032 * file_size) {
        snprintf(msg, sizeof msg,
                 "PNG declares %lux%lu pixels (%llu bytes of scanlines), more than deflate can expand "
                 "its %llu bytes into: the file is truncated or corrupt",
                 (unsigned long)w, (unsigned long)h, (unsigned long long)raw, (unsigned long long)file_size);
        png_error(png, msg);
    }
}

/* Creates a libpng reader reporting into `ectx`; NULL (with a message) when out of memory.
 * Ancillary chunks (text, ICC profiles) are allocated by the length their header declares,
 * and compressed ones are inflated: both are capped, at 8 MiB or the file's size if larger,
 * and at 1000 chunks, so an 83-byte file declaring a 1.8 GB tEXt chunk is refused before
 * its allocation (the fuzzer's find: 1.8 GB peak before this cap). */
static png_structp png_reader(png_error_ctx *ectx, png_infop *info, uint64_t file_size) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ectx, png_on_error, png_on_warning);
    *info = png ? png_create_info_struct(png) : NULL;
    if (!*info) {
        if (png) png_destroy_read_struct(&png, NULL, NULL);
        set_error(ectx->err, ectx->err_size, "out of memory");
        return NULL;
    }
    png_set_chunk_malloc_max(png, (png_alloc_size_t)(file_size > (8u << 20) ? file_size : (8u << 20)));
    png_set_chunk_cache_max(png, 1000);
    /* Text, ICC profiles, suggested palettes and Exif are never used (PIL's convert("RGB")
     * ignores them too): skipped unread, so 999 zTXt chunks each inflating to the cap
     * (8 GB in all) cost a read past their bytes, not an allocation. */
    static const png_byte skipped[] = "tEXt\0zTXt\0iTXt\0iCCP\0sPLT\0eXIf";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, skipped, (int)(sizeof skipped / 5));
    /* libpng reports a chunk over that cap (and other damage, such as a bad CRC) as a
     * "benign" error, which reading turns into a warning by default and then allocates
     * anyway: make them errors. */
    png_set_benign_errors(png, 0);
    return png;
}

/* libpng's own stdio reader says "Read Error" at the end of a short file; this one says
 * what png_mem_read says. */
static void png_file_read(png_structp png, png_bytep out, size_t n) {
    FILE *fp = (FILE *)png_get_io_ptr(png);
    if (fread(out, 1, n, fp) != n) png_error(png, ferror(fp) ? strerror(errno) : "file is truncated");
}

static int png_probe(FILE *fp, uint64_t file_size, uint64_t max_pixels, cimg_info *out,
                     char *err, size_t err_size) {
    png_error_ctx ectx = {err, err_size};
    png_infop info = NULL;
    png_structp png = png_reader(&ectx, &info, file_size);
    if (!png) return -1;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_read_fn(png, fp, png_file_read);
    png_read_info(png, info);
    png_check_header(png, info, file_size, max_pixels);
    out->format = CIMG_PNG;
    out->width = (int)png_get_image_width(png, info);
    out->height = (int)png_get_image_height(png, info);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

int cimg_decode_png(const unsigned char *data, size_t size, uint64_t max_pixels,
                    cimg_image *out, char *err, size_t err_size) {
    png_error_ctx ectx = {err, err_size};
    png_mem_reader reader = {data, size, 0};
    png_infop info = NULL;
    png_structp png = png_reader(&ectx, &info, size);
    if (!png) return -1;
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_read_fn(png, &reader, png_mem_read);
    png_read_info(png, info);
    png_check_header(png, info, size, max_pixels);

    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);

    /* Conversions libpng does for us; alpha (from the file or from tRNS, which some
     * expansions turn into alpha) is dropped below, whatever the channel count. */
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_scale_16(png); /* (v*255 + 32895) >> 16 = round(v/257) */
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if ((channels != 3 && channels != 4) || png_get_bit_depth(png, info) != 8 ||
        rowbytes != (size_t)w * (size_t)channels)
        png_error(png, "unsupported PNG layout");

    pixels = (unsigned char *)malloc((size_t)w * h * channels);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * rowbytes;
    png_read_image(png, rows);

    if (channels == 4) {
        /* RGBA -> RGB in place: the write index never passes the read index. */
        size_t n = (size_t)w * h;
        for (size_t i = 0; i < n; i++) {
            pixels[3 * i + 0] = pixels[4 * i + 0];
            pixels[3 * i + 1] = pixels[4 * i + 1];
            pixels[3 * i + 2] = pixels[4 * i + 2];
        }
    }
    free(rows);
    rows = NULL;
    png_destroy_read_struct(&png, &info, NULL);
    out->width = (int)w;
    out->height = (int)h;
    out->channels = 3;
    out->pixels = pixels;
    return 0;
}

typedef struct {
    unsigned char *data;
    size_t size;
    size_t cap;
} png_mem_writer;

static void png_mem_write(png_structp png, png_bytep in, size_t n) {
    png_mem_writer *m = (png_mem_writer *)png_get_io_ptr(png);
    if (m->size + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->size + n) cap *= 2;
        unsigned char *p = (unsigned char *)realloc(m->data, cap);
        if (!p) png_error(png, "out of memory");
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->size, in, n);
    m->size += n;
}

static void png_mem_flush(png_structp png) { (void)png; }

static int png_samples(int color_type) {
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    case PNG_COLOR_TYPE_PALETTE: return 1;
    default: return 0;
    }
}

int cimg_encode_png(const void *samples, int width, int height, const cimg_png_format *format,
                    unsigned char **out, size_t *out_size, char *err, size_t err_size) {
    int spp = png_samples(format->color_type);
    int depth = format->bit_depth;
    if (spp == 0 || width <= 0 || height <= 0 ||
        !(depth == 8 || depth == 16 ||
          ((depth == 1 || depth == 2 || depth == 4) &&
           (format->color_type == PNG_COLOR_TYPE_GRAY || format->color_type == PNG_COLOR_TYPE_PALETTE)))) {
        set_error(err, err_size, "unsupported PNG format for writing");
        return -1;
    }
    png_error_ctx ectx = {err, err_size};
    png_mem_writer writer = {NULL, 0, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ectx, png_on_error, png_on_warning);
    if (!png) { set_error(err, err_size, "out of memory"); return -1; }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        set_error(err, err_size, "out of memory");
        return -1;
    }
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(writer.data);
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, &writer, png_mem_write, png_mem_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, depth, format->color_type,
                 format->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (format->color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color palette[256];
        int n = format->palette_count;
        if (n < 1 || n > 256 || !format->palette) png_error(png, "a palette PNG needs 1 to 256 colours");
        for (int i = 0; i < n; i++) {
            palette[i].red = format->palette[3 * i];
            palette[i].green = format->palette[3 * i + 1];
            palette[i].blue = format->palette[3 * i + 2];
        }
        png_set_PLTE(png, info, palette, n);
        if (format->palette_alpha && format->palette_alpha_count > 0)
            png_set_tRNS(png, info, format->palette_alpha, format->palette_alpha_count, NULL);
    }
    png_write_info(png, info);
    if (depth < 8) png_set_packing(png); /* one sample per input byte */
    if (depth == 16) {
        /* PNG stores 16-bit samples big-endian; ours are native. */
        const uint16_t probe = 1;
        if (*(const unsigned char *)&probe == 1) png_set_swap(png);
    }
    png_set_interlace_handling(png);

    size_t row_stride = (size_t)width * spp * (depth == 16 ? 2 : 1);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory");
    for (int y = 0; y < height; y++) rows[y] = (png_bytep)samples + (size_t)y * row_stride;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    free(rows);
    rows = NULL;
    png_destroy_write_struct(&png, &info);
    *out = writer.data;
    *out_size = writer.size;
    return 0;
}

/* ---------------------------------------------------------------- JPEG */

typedef struct {
    struct jpeg_error_mgr pub; /* first, so that cinfo->err can be cast to this */
    jmp_buf jump;
    char *err;
    size_t err_size;
} jpeg_error_ctx;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_error_ctx *e = (jpeg_error_ctx *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, msg);
    set_error(e->err, e->err_size, msg);
    longjmp(e->jump, 1);
}

/* Level -1 is a warning. libjpeg reports damaged data only as warnings and goes on with
 * made-up pixels (a truncated stream is padded with an end marker, a bad code restarts
 * the segment); each of those is an error here. The other warnings (an unknown JFIF
 * revision or Adobe transform code) do not touch the pixels and are ignored, as in PIL. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:         /* Premature end of JPEG file */
    case JWRN_HIT_MARKER:       /* Corrupt JPEG data: premature end of data segment */
    case JWRN_EXTRANEOUS_DATA:  /* Corrupt JPEG data: N extraneous bytes before marker */
    case JWRN_MUST_RESYNC:      /* Corrupt JPEG data: found marker instead of RST */
    case JWRN_HUFF_BAD_CODE:    /* Corrupt JPEG data: bad Huffman code */
    case JWRN_ARITH_BAD_CODE:   /* Corrupt JPEG data: bad arithmetic code */
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_ICC:
        jpeg_on_error(cinfo);
        break;
    default:
        break;
    }
}

/* After jpeg_read_header: refuses (longjmp) an image over `max_pixels`, or a Huffman-coded
 * one of more pixels than a file of `file_size` bytes can describe (512 per byte). */
static void jpeg_check_header(j_decompress_ptr cinfo, uint64_t file_size, uint64_t max_pixels) {
    jpeg_error_ctx *e = (jpeg_error_ctx *)cinfo->err;
    uint64_t w = cinfo->image_width, h = cinfo->image_height;
    char msg[200];
    if (!pixels_allowed(w, h, max_pixels, msg, sizeof msg)) {
        set_error(e->err, e->err_size, msg);
        longjmp(e->jump, 1);
    }
    if (!cinfo->arith_code && w * h > 512 * file_size) {
        snprintf(msg, sizeof msg,
                 "JPEG declares %llux%llu pixels, more than its %llu bytes can hold (one bit per 8x8 block "
                 "at least): the file is truncated or corrupt",
                 (unsigned long long)w, (unsigned long long)h, (unsigned long long)file_size);
        set_error(e->err, e->err_size, msg);
        longjmp(e->jump, 1);
    }
}

/* Points cinfo's error manager at `jerr`, reporting into err (call before setjmp). */
static void jpeg_errors_to(j_common_ptr cinfo, jpeg_error_ctx *jerr, char *err, size_t err_size) {
    cinfo->err = jpeg_std_error(&jerr->pub);
    jerr->pub.error_exit = jpeg_on_error;
    jerr->pub.emit_message = jpeg_on_message;
    jerr->err = err;
    jerr->err_size = err_size;
}

static int jpeg_probe(FILE *fp, uint64_t file_size, uint64_t max_pixels, cimg_info *out,
                      char *err, size_t err_size) {
    struct jpeg_decompress_struct cinfo;
    jpeg_error_ctx jerr;
    jpeg_errors_to((j_common_ptr)&cinfo, &jerr, err, err_size);
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, fp);
    jpeg_read_header(&cinfo, TRUE);
    jpeg_check_header(&cinfo, file_size, max_pixels);
    out->format = CIMG_JPEG;
    out->width = (int)cinfo.image_width;
    out->height = (int)cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int cimg_probe_fd(int fd, uint64_t file_size, uint64_t max_pixels, cimg_info *out,
                  char *err, size_t err_size) {
    unsigned char head[8];
    size_t n = 0;
    while (n < sizeof head) {
        ssize_t r = pread(fd, head + n, sizeof head - n, (off_t)n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { set_error(err, err_size, strerror(errno)); return -1; }
        if (r == 0) break;
        n += (size_t)r;
    }
    int format = cimg_format(head, n);
    if (format == CIMG_UNKNOWN) { set_error(err, err_size, "not a JPEG or PNG file"); return -1; }
    FILE *fp = stream_from_start(fd, err, err_size);
    if (!fp) return -1;
    int rc = format == CIMG_PNG ? png_probe(fp, file_size, max_pixels, out, err, err_size)
                                : jpeg_probe(fp, file_size, max_pixels, out, err, err_size);
    fclose(fp);
    return rc;
}

/* PIL reads CMYK JPEGs as Adobe-inverted ("CMYK;I": C = 255 - stored) and converts to RGB
 * with cmyk2rgb: R = clip(nk - muldiv255(C, nk)) with nk = 255 - K. */
static unsigned char pil_muldiv255(int a, int b) {
    int t = a * b + 128;
    return (unsigned char)(((t >> 8) + t) >> 8);
}

static void cmyk_row_to_rgb(const unsigned char *in, unsigned char *out, int width) {
    for (int x = 0; x < width; x++) {
        int nk = in[4 * x + 3]; /* 255 - K with K = 255 - stored */
        for (int c = 0; c < 3; c++) {
            int v = nk - pil_muldiv255(255 - in[4 * x + c], nk);
            out[3 * x + c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* The most scans a JPEG may have. Baseline files have one per component, progressive ones
 * rarely more than a dozen; libjpeg accepts any number, each costing a pass over the
 * coefficients (10,000 scans of a 4096x4096 image: 433 KB of file, 10 s to decode). The
 * limit libjpeg-turbo's TJPARAM_SCANLIMIT applies, in the progress monitor. */
#define CIMG_MAX_JPEG_SCANS 500

static void jpeg_scan_limit(j_common_ptr cinfo) {
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > CIMG_MAX_JPEG_SCANS) {
        jpeg_error_ctx *e = (jpeg_error_ctx *)cinfo->err;
        char msg[96];
        snprintf(msg, sizeof msg, "JPEG has more than %d scans: corrupt or hostile", CIMG_MAX_JPEG_SCANS);
        set_error(e->err, e->err_size, msg);
        longjmp(e->jump, 1);
    }
}

int cimg_decode_jpeg(const unsigned char *data, size_t size, uint64_t max_pixels,
                     cimg_image *out, char *err, size_t err_size) {
    struct jpeg_decompress_struct cinfo;
    jpeg_error_ctx jerr;
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile row = NULL;
    jpeg_errors_to((j_common_ptr)&cinfo, &jerr, err, err_size);
    if (setjmp(jerr.jump)) {
        free(pixels);
        free(row);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    struct jpeg_progress_mgr progress = {0};
    progress.progress_monitor = jpeg_scan_limit;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    jpeg_check_header(&cinfo, size, max_pixels);

    uint64_t w = cinfo.image_width, h = cinfo.image_height;
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    /* libjpeg-turbo converts gray and YCbCr to RGB itself, and YCCK to CMYK. */
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != (cmyk ? 4 : 3)) ERREXIT(&cinfo, JERR_CONVERSION_NOTIMPL);

    pixels = (unsigned char *)malloc((size_t)w * h * 3);
    if (cmyk) row = (unsigned char *)malloc((size_t)w * 4);
    if (!pixels || (cmyk && !row)) ERREXIT1(&cinfo, JERR_OUT_OF_MEMORY, 0);
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned char *dst = pixels + (size_t)cinfo.output_scanline * w * 3;
        JSAMPROW r = cmyk ? row : dst;
        jpeg_read_scanlines(&cinfo, &r, 1);
        if (cmyk) cmyk_row_to_rgb(row, dst, (int)w);
    }
    /* Every scanline is in; a missing end marker after them costs nothing, so skip
     * jpeg_finish_decompress (which would insist on reading it). */
    free(row);
    row = NULL;
    jpeg_destroy_decompress(&cinfo);
    out->width = (int)w;
    out->height = (int)h;
    out->channels = 3;
    out->pixels = pixels;
    return 0;
}

int cimg_encode_jpeg(const unsigned char *samples, int width, int height, int channels,
                     int quality, unsigned char **out, size_t *out_size,
                     char *err, size_t err_size) {
    if ((channels != 1 && channels != 3 && channels != 4) || width <= 0 || height <= 0) {
        set_error(err, err_size, "unsupported JPEG format for writing");
        return -1;
    }
    struct jpeg_compress_struct cinfo;
    jpeg_error_ctx jerr;
    unsigned char *volatile buffer = NULL;
    unsigned long buffer_size = 0;
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_on_error;
    jerr.err = err;
    jerr.err_size = err_size;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&buffer, &buffer_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&cinfo); /* CMYK input: CMYK in the file with an Adobe marker */
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW r = (JSAMPROW)(samples + (size_t)cinfo.next_scanline * width * channels);
        jpeg_write_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_size = buffer_size;
    return 0;
}
