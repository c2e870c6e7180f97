#ifndef GRIDLOOP_COMMON_GEO_CELL_H_
#define GRIDLOOP_COMMON_GEO_CELL_H_

#include <cstdint>

namespace gridloop::geo {

// S2 cells by their 64-bit ids (S2CellId::id()), for code that keeps answers per cell
// without S2's headers, whose inline Abseil code must not leak into other targets.

// The leaf cell (level 30, ~1 cm) of a point in WGS-84 degrees; 0 when the coordinates are
// out of range or not numbers.
uint64_t LeafCell(double latitude, double longitude);

// The level of a valid cell id (0, a cube face, to 30, a leaf); -1 for anything else.
int CellLevel(uint64_t id);

// The cell at `level` that contains the cell `id`; `level` must be within 0..CellLevel(id).
uint64_t CellParent(uint64_t id, int level);

}  // namespace gridloop::geo

#endif  // GRIDLOOP_COMMON_GEO_CELL_H_
