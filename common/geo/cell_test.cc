#include "common/geo/cell.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace gridloop::geo {
namespace {

TEST(Cell, APointsLeafLiesInEachOfItsAncestors) {
  const uint64_t leaf = LeafCell(30.2675, 120.0828);
  ASSERT_NE(leaf, 0);
  EXPECT_EQ(CellLevel(leaf), 30);
  uint64_t previous = leaf;
  for (int level = 29; level >= 0; --level) {
    const uint64_t parent = CellParent(leaf, level);
    EXPECT_EQ(CellLevel(parent), level);
    EXPECT_EQ(CellParent(previous, level), parent);
    EXPECT_NE(parent, previous);
    previous = parent;
  }
  // Points a few metres apart share a cell of ~150 m but not their leaves.
  const uint64_t nearby = LeafCell(30.26752, 120.08282);
  EXPECT_NE(nearby, leaf);
  EXPECT_EQ(CellParent(nearby, 16), CellParent(leaf, 16));
  EXPECT_NE(CellParent(LeafCell(30.30, 120.0828), 16), CellParent(leaf, 16));
}

TEST(Cell, NoCellForCoordinatesOutOfRange) {
  EXPECT_EQ(LeafCell(90.01, 0), 0);
  EXPECT_EQ(LeafCell(0, -180.5), 0);
  EXPECT_EQ(LeafCell(std::nan(""), 0), 0);
  EXPECT_EQ(LeafCell(0, std::numeric_limits<double>::infinity()), 0);
  EXPECT_NE(LeafCell(-90, 180), 0);
  EXPECT_EQ(CellLevel(0), -1);
  EXPECT_EQ(CellLevel(~uint64_t{0}), -1);
  EXPECT_EQ(CellLevel(uint64_t{1} << 3), -1);  // no face's bits
}

}  // namespace
}  // namespace gridloop::geo
