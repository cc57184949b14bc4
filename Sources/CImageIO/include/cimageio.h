#ifndef CIMAGEIO_H
#define CIMAGEIO_H
#include <stddef.h>
#include <stdint.h>
/* PNG and JPEG decoding/encoding for Sources/CycleGAN/Data (see cimageio.c). */
#endif
