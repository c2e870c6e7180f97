#include "common/geo/cell.h"

#include "s2/s2cell_id.h"
#include "s2/s2latlng.h"

namespace gridloop::geo {

uint64_t LeafCell(double latitude, double longitude) {
  // Negated so that NaN fails too.
  if (!(latitude >= -90 && latitude <= 90 && longitude >= -180 && longitude <= 180)) return 0;
  return S2CellId(S2LatLng::FromDegrees(latitude, longitude)).id();
}

int CellLevel(uint64_t id) {
  const S2CellId cell(id);
  return cell.is_valid() ? cell.level() : -1;
}

uint64_t CellParent(uint64_t id, int level) { return S2CellId(id).parent(level).id(); }

}  // namespace gridloop::geo
