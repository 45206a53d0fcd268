// FreeType 2 for Swift (legend text of fgaseg-segment's overlays). FT_FREETYPE_H is a macro
// naming the header, which Swift's module maps cannot use directly.
#ifndef FGASEG_CFREETYPE_SHIM_H
#define FGASEG_CFREETYPE_SHIM_H

#if __has_include(<ft2build.h>)
#include <ft2build.h>
#else
#include <freetype2/ft2build.h> /* Debian's layout, used when pkg-config is unavailable */
#endif
#include FT_FREETYPE_H

/// The face's glyph slot after FT_Load_Char (a field access Swift reaches awkwardly through the
/// FT_Face pointer typedef).
static inline FT_GlyphSlot cfreetype_glyph(FT_Face face) { return face->glyph; }

#endif
