// zlib (gzip/deflate), e.g. for CLIP's original bpe_simple_vocab_16e6.txt.gz.
#include <zlib.h>

/// inflateInit2 is a macro; this wraps it. windowBits 15 + 32 accepts gzip and zlib headers.
static inline int czlib_inflate_init_auto(z_stream *stream) { return inflateInit2(stream, 15 + 32); }
