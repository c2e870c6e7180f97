#ifndef GRIDLOOP_TOOLS_SEEDGEN_NAMES_H_
#define GRIDLOOP_TOOLS_SEEDGEN_NAMES_H_

#include "absl/types/span.h"

namespace gridloop::seedgen::internal {

struct WeightedName {
  const char* name;
  int weight;
};

// Surnames as common in Zhejiang, weighted by rough frequency.
absl::Span<const WeightedName> Surnames();

// Given names in fashion when a person of the gender was born: before 1965, 1965-1989,
// and from 1990.
enum class Era { kOld, kMiddle, kYoung };
absl::Span<const char* const> GivenNames(Era era, bool male);

// Communities of the street, in code order; more are numbered.
absl::Span<const char* const> CommunityNames();

// Residential estates (小区) that grids are named after.
absl::Span<const char* const> EstateNames();

}  // namespace gridloop::seedgen::internal

#endif  // GRIDLOOP_TOOLS_SEEDGEN_NAMES_H_
