#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <png.h>
#include <jpeglib.h>
