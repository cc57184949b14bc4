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

/* Decodes a PNG held in memory to 8-bit RGB (channels = 3), as PIL's convert("RGB") does:
 * gray repeated, alpha and tRNS dropped, palette expanded, 1/2/4-bit gray scaled to 8 bits,
 * 16-bit samples rounded as round(v/257). An image of more than `max_pixels` pixels is
 * refused after the header is read, before pixel memory is allocated. */
int cimg_decode_png(const unsigned char *data, size_t size, uint64_t max_pixels,
                    cimg_image *out, char *err, size_t err_size);

/* Decodes a JPEG held in memory to 8-bit RGB with libjpeg-turbo's defaults (ISLOW DCT,
 * fancy upsampling). Gray is repeated; CMYK and YCCK are read as Adobe-inverted CMYK and
 * converted as PIL does. A premature end of data is an error. Size check as for PNG. */
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
