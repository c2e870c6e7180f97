# Scores and star ratings from counters, and the formula versions: pure logic.
gridloop_library(gridloop_assessment_scoring
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/scoring.cc
  DEPS gridloop_assessment_base gridloop_proto gridloop_status absl::strings absl::str_format
       absl::statusor)

gridloop_test(assessment_scoring_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/scoring_test.cc
  DEPS gridloop_assessment_scoring
  LABELS unit)
