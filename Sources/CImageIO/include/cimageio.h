#ifndef CIMAGEIO_H
#define CIMAGEIO_H
#include <stddef.h>
#include <stdint.h>

/* PNG and JPEG decoding/encoding for Sources/CycleGAN/Data, over libpng and libjpeg-turbo.
 * Both libraries report errors by longjmp, which Swift cannot catch; these wrappers catch
 * them and return -1 with a one-line message in `err` (0 on success). */

/* A decoded image: `pixels` holds width*height*channels bytes, interleaved, row by row,
 * allocated with malloc; release it with cimg_free. */
typedef struct {
    int width;
    int height;
    int channels;
    unsigned char *pixels;
} cimg_image;

/* The formats recognised, by their first bytes (whatever the file is called). */
enum { CIMG_UNKNOWN = 0, CIMG_PNG = 1, CIMG_JPEG = 2 };

/* The format of a file that starts with `data` (at least 8 bytes, or all of a shorter file). */
int cimg_format(const unsigned char *data, size_t size);

/* What a header says, before any pixel is decoded. */
typedef struct {
    int format; /* CIMG_PNG or CIMG_JPEG */
    int width;
    int height;
} cimg_info;

/* Reads only the header of the PNG or JPEG file open on `fd` (from offset 0; the file has
 * `file_size` bytes), with the checks the decoders make before allocating pixels: at most
 * `max_pixels` pixels, and no more than the file could hold (see below). The descriptor is
 * left open. */
int cimg_probe_fd(int fd, uint64_t file_size, uint64_t max_pixels, cimg_info *out,
                  char *err, size_t err_size);

/* Every decoder, and the probe, refuses an image whose header is not plausible for its file
 * before allocating pixel memory:
 *  - more than `max_pixels` pixels;
 *  - a PNG whose raw scanlines (one filter byte plus the packed samples per row) exceed
 *    1032 times the file's size, the most that deflate can expand data (a 258-byte match
 *    coded in 2 bits): such a file is truncated, or a decompression bomb;
 *  - a Huffman-coded JPEG of more than 512 pixels per byte of file: every 8x8 block of the
 *    full-resolution component costs at least one bit (its DC code) in the first scan that
 *    covers it. Arithmetic-coded JPEGs have no such bound. */

/* Decodes a PNG held in memory to 8-bit RGB (channels = 3), as PIL's convert("RGB") does:
 * gray repeated, alpha and tRNS dropped, palette expanded, 1/2/4-bit gray scaled to 8 bits,
 * 16-bit samples rounded as round(v/257). Header checks as above; a truncated or corrupt
 * file (bad CRC, bad deflate data, missing rows) is an error. */
int cimg_decode_png(const unsigned char *data, size_t size, uint64_t max_pixels,
                    cimg_image *out, char *err, size_t err_size);

/* Decodes a JPEG held in memory to 8-bit RGB with libjpeg-turbo's defaults (ISLOW DCT,
 * fancy upsampling). Gray is repeated; CMYK and YCCK are read as Adobe-inverted CMYK and
 * converted as PIL does. Header checks as above. Every sign of damaged data libjpeg
 * reports only as a warning is an error: a premature end of the file or of a data segment,
 * extraneous bytes before a marker, a lost restart marker, a bad Huffman or arithmetic
 * code, an inconsistent progression, bad SOS parameters, a bad ICC marker. */
int cimg_decode_jpeg(const unsigned char *data, size_t size, uint64_t max_pixels,
                     cimg_image *out, char *err, size_t err_size);

/* What cimg_encode_png writes. */
typedef struct {
    int color_type;  /* PNG colour type: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA */
    int bit_depth;   /* 8 or 16; 1, 2, 4 for gray and palette (one sample per byte in) */
    int interlace;   /* 0 none, 1 Adam7 */
    const unsigned char *palette;       /* RGB triples, for colour type 3 */
    int palette_count;
    const unsigned char *palette_alpha; /* tRNS alpha per palette entry, or NULL */
    int palette_alpha_count;
} cimg_png_format;

/* Encodes samples (bytes; native-endian uint16 for bit depth 16) to a PNG in memory.
 * On success *out is a malloc'd buffer of *out_size bytes (release with cimg_free). */
int cimg_encode_png(const void *samples, int width, int height, const cimg_png_format *format,
                    unsigned char **out, size_t *out_size, char *err, size_t err_size);

/* Encodes 8-bit samples (channels 1 gray, 3 RGB, 4 CMYK stored Adobe-inverted as given)
 * to a baseline JPEG in memory with 4:2:0 chroma for RGB. *out as for cimg_encode_png. */
int cimg_encode_jpeg(const unsigned char *samples, int width, int height, int channels,
                     int quality, unsigned char **out, size_t *out_size,
                     char *err, size_t err_size);

/* Releases memory returned by the functions above. */
void cimg_free(void *p);

#endif
