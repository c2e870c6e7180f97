# The measures as pure functions of the event log, and their tests on hand-built events.
gridloop_library(gridloop_assessment_measures
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/measures.cc ${CMAKE_CURRENT_SOURCE_DIR}/assessment_store.cc
  DEPS gridloop_assessment_base gridloop_clock gridloop_proto absl::statusor absl::strings
       absl::str_format absl::time)

gridloop_test(assessment_measures_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/measures_test.cc ${CMAKE_CURRENT_SOURCE_DIR}/periods_test.cc
  DEPS gridloop_assessment_measures
  LABELS unit)

# Folding events into the store, and everything read from it: scorecards, rankings,
# trends, explanations, frozen ratings, appeals, score events.
gridloop_library(gridloop_assessment_core
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/folder.cc ${CMAKE_CURRENT_SOURCE_DIR}/assessment.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/rebuilder.cc
  DEPS gridloop_assessment_measures gridloop_assessment_scoring gridloop_identity gridloop_status
       gridloop_clock gridloop_log absl::statusor absl::strings absl::str_format absl::synchronization)
